"""Loop orders of a mapspace: per level, the loops the constraints pin outermost and
innermost, the free loops whose order is part of the space (ranked lexicographically,
``factors.rank_permutation``), and those that follow in dimension order.

Only loops that can have a factor > 1 at a level are ordered there; loops forced to 1
move no data. The innermost level's order moves no data either (nothing below it holds
a tile), and a folded dummy level has no temporal loops: one order each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .arch import Architecture
from .constraints import Constraints
from .factors import unrank_permutation
from .slots import DimSpace, has_temporal_slot


@dataclass(frozen=True)
class LevelOrder:
    """The loop-order structure of one level (dimension names): ``outer`` and ``inner``
    pinned by the constraints; ``rest`` the others in the template's order, of which the
    first ``len(free)`` (``free``) are permuted and the others (loops forced to 1, or all
    of them at a level whose order moves no data) follow in dimension order."""

    outer: tuple[str, ...]
    free: tuple[str, ...]
    rest: tuple[str, ...]
    inner: tuple[str, ...]

    @property
    def template(self) -> tuple[str, ...]:
        """The order of permutation rank 0 (free loops in dimension order)."""
        return self.outer + self.rest + self.inner

    @property
    def free_start(self) -> int:
        """Position (0 = outermost) of the first free loop."""
        return len(self.outer)

    @property
    def count(self) -> int:
        """Number of orders (free loops permuted)."""
        return math.factorial(len(self.free))

    def order(self, free_order: Sequence[str]) -> tuple[str, ...]:
        """The whole order with the free loops in ``free_order``."""
        return self.outer + tuple(free_order) + self.rest[len(self.free):] + self.inner

    def unrank(self, r: int) -> tuple[str, ...]:
        """The whole order of permutation rank ``r``."""
        return self.order(unrank_permutation(self.free, r))


def level_orders(arch: Architecture, constraints: Constraints, dims: Sequence[str],
                 dim_spaces: Sequence[DimSpace]) -> tuple[LevelOrder, ...]:
    """The ``LevelOrder`` of every level, outermost first."""
    L = len(arch.levels)
    out = []
    for i, lvl in enumerate(arch.levels):
        lc = constraints.level(lvl.name)
        outer = tuple(lc.outer) if lc else ()
        inner = tuple(lc.inner) if lc else ()
        rest = tuple(d for d in dims if d not in outer and d not in inner)
        permutable = has_temporal_slot(arch, i) and i < L - 1
        movable = tuple(d for d in rest
                        if dim_spaces[list(dims).index(d)].max_factor(i, "T") > 1)
        fixed = tuple(d for d in rest if d not in movable)
        out.append(LevelOrder(outer, movable if permutable else (), movable + fixed, inner))
    return tuple(out)
