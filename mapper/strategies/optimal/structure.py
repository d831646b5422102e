"""The structure of a mapspace as plain arrays, for the bounds and order tables.

The optimal mapper needs more than ids and mappings: each dimension's list of
factorizations in rank order, each level's free/pinned loops and the free keep bits.
``structure(space)`` copies them out of the Mapspace's public structure
(``dim_spaces``, ``level_orders``, ``keep_fixed``/``keep_free``: docs/mapspace.md) into a
frozen :class:`SpaceStructure` of numpy arrays and tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loopscape.spaces.mapspace import Mapspace


@dataclass(frozen=True)
class SpaceStructure:
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    slots: tuple[tuple[int, str], ...]  # (level, "T" or "S"), outermost first
    # Per dimension: its factorizations in rank order, as int arrays [n_rows, n_slots]
    # of factors and of axes (0 none, 1 X, 2 Y).
    factors: tuple[np.ndarray, ...]
    axes: tuple[np.ndarray, ...]
    outer: tuple[tuple[str, ...], ...]  # per level: pinned outermost dims
    inner: tuple[tuple[str, ...], ...]  # per level: pinned innermost dims
    free: tuple[tuple[str, ...], ...]  # per level: permuted dims (empty: order fixed)
    fixed_tail: tuple[tuple[str, ...], ...]  # per level: loops forced to 1, after free
    rest: tuple[tuple[str, ...], ...]  # per level: order of the middle when not permuted
    perm_count: tuple[int, ...]  # per level: len(free)!
    keep_fixed: tuple[dict[str, bool], ...]
    keep_free: tuple[tuple[int, str], ...]  # free keep bits, bit k of the bypass index

    @property
    def permutation_size(self) -> int:
        return math.prod(self.perm_count)

    @property
    def bypass_size(self) -> int:
        return 2 ** len(self.keep_free)

    @property
    def dim_sizes(self) -> tuple[int, ...]:
        return tuple(len(f) for f in self.factors)

    def tiling_rows(self, mid: int) -> list[int]:
        """The row of each dimension's factorization list in mapspace id ``mid`` (its
        tiling; the id's order and keep choice are its low digits)."""
        fi = int(mid) // (self.permutation_size * self.bypass_size)
        rows = []
        for s in reversed(self.dim_sizes):
            rows.append(fi % s)
            fi //= s
        return rows[::-1]

    def keep_sets(self, tensor_names: tuple[str, ...]) -> np.ndarray:
        """bool [bypass_size, L, T]: the keep set of every bypass index."""
        L = len(self.keep_fixed)
        out = np.zeros((self.bypass_size, L, len(tensor_names)), dtype=bool)
        for by in range(self.bypass_size):
            free = {key: bool((by >> k) & 1) for k, key in enumerate(self.keep_free)}
            for i in range(L):
                for j, t in enumerate(tensor_names):
                    out[by, i, j] = self.keep_fixed[i].get(t, free.get((i, t), False))
        return out


def structure(space: Mapspace) -> SpaceStructure:
    """The structural description of ``space``, from its public structure."""
    factors, axes = [], []
    n_slots = len(space.slots)
    L = len(space.arch.levels)
    for ds in space.dim_spaces:
        # every factorization in rank order, built by the dimension's vectorized table
        # (shared with local's moves); its axis codes are 0 none, 1 X, 2 Y
        table = ds.table(L, max(1, ds.size))
        factors.append(table.fac.astype(np.int64).reshape(table.size, n_slots))
        axes.append(table.ax.astype(np.int8).reshape(table.size, n_slots))
    orders = space.level_orders
    return SpaceStructure(
        dims=tuple(space.workload.dims), bounds=tuple(space.workload.bounds),
        slots=tuple((s.level, s.kind) for s in space.slots),
        factors=tuple(factors), axes=tuple(axes),
        outer=tuple(o.outer for o in orders), inner=tuple(o.inner for o in orders),
        free=tuple(o.free for o in orders),
        fixed_tail=tuple(o.rest[len(o.free):] if o.free else () for o in orders),
        rest=tuple(o.rest for o in orders),
        perm_count=tuple(space.permutation_count(i) for i in range(L)),
        keep_fixed=space.keep_fixed, keep_free=space.keep_free)
