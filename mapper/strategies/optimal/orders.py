"""Loop orders and keep choices of one tiling, as rows of a MappingBatch, in id order.

For a fixed tiling the mapspace's canonical members are: per level, every order of
its free loops with a factor > 1 (the unit ones follow in dimension order, rule F1 of
docs/mapspace.md), times every keep choice. Their ids are
``(tiling * permutation_size + lp) * bypass_size + by`` with ``lp`` the mixed-radix
number of each level's Lehmer rank; this module lists them in increasing id order and
decides which keep choices fit the buffers (capacity and minimum utilization).
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import permutations

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.factors import rank_permutation
from loopscape.spaces.workload import Workload

from .block_kernels import keep_tables, legal_keeps
from .structure import SpaceStructure


class OrderTables:
    """Per level and set of non-unit free loops: the canonical orders (Lehmer ranks,
    sorted) and the matching ``rank`` rows (position of each dimension's loop)."""

    def __init__(self, workload: Workload, arch: Architecture, st: SpaceStructure):
        self.workload, self.arch, self.st = workload, arch, st
        self.dims = st.dims
        self.keep_sets = st.keep_sets(workload.tensor_names)  # [B, L, T]
        L = len(arch.levels)
        self.cap = [lvl.effective_capacity_bits for lvl in arch.levels]
        self.min_util = [lvl.min_utilization for lvl in arch.levels]
        self.bits = np.array([[lvl.bits(t) for t in workload.tensor_names]
                              for lvl in arch.levels], dtype=np.int64)  # [L, T]
        self.L = L
        self.table = lru_cache(maxsize=None)(self._table)
        # [L, D]: the free loops of each level; tilings with the same non-unit free loops
        # share their tables (``level_tables``)
        self.free_mask = np.array([[d in st.free[i] for d in self.dims] for i in range(L)])
        self.by_mask: dict[bytes, list] = {}
        self.keep_tables = keep_tables(
            [[[(c, self.dims.index(d)) for c, d in axis] for axis in t.axes]
             for t in workload.tensors], self.bits, self.keep_sets, self.cap, self.min_util)

    def _table(self, level: int, nonunit: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        st = self.st
        D = len(self.dims)
        free = st.free[level]
        if not free:
            middles = [(0, st.rest[level])]
        else:
            unit = tuple(d for d in free if d not in nonunit)
            middles = sorted((rank_permutation(free, p + unit), p + unit + st.fixed_tail[level])
                             for p in permutations(nonunit))
        ranks = np.empty(len(middles), dtype=np.int64)
        rows = np.empty((len(middles), D), dtype=np.int64)
        for n, (r, middle) in enumerate(middles):
            order = st.outer[level] + middle + st.inner[level]
            ranks[n] = r
            for pos, d in enumerate(order):
                rows[n, self.dims.index(d)] = pos
        return ranks, rows

    def level_tables(self, temporal: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Order tables of each level for one tiling (``temporal`` [L, D])."""
        key = ((temporal > 1) & self.free_mask).tobytes()
        hit = self.by_mask.get(key)
        if hit is None:
            hit = []
            for i in range(self.L):
                nonunit = tuple(d for di, d in enumerate(self.dims)
                                if d in self.st.free[i] and temporal[i, di] > 1)
                hit.append(self.table(i, nonunit))
            self.by_mask[key] = hit
        return hit

    def level_tables_of(self, temporal: np.ndarray) -> list:
        """``level_tables`` of each of the tilings ``temporal`` [N, L, D] (looked up once
        per distinct pattern of non-unit free loops)."""
        first, inv = patterns((temporal > 1) & self.free_mask)
        tables = [self.level_tables(temporal[t]) for t in first]
        return [tables[u] for u in inv]

    def legal_keeps(self, ext: np.ndarray) -> np.ndarray:
        """bool [N, B]: keep choices whose kept tiles fit every level (and reach its
        minimum utilization), for tilings with per-level dimension extents ``ext``
        [N, L, D] (a tensor's tile: per axis ``1 + sum |coef| x (extent - 1)``)."""
        return legal_keeps(ext, self.keep_tables)


def patterns(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``mask`` (bool [N, ...]) grouped by equal value: the first row of each
    distinct value, in order of appearance, and each row's group."""
    keys = np.packbits(mask.reshape(len(mask), -1), axis=1)
    w = keys.shape[1]
    if w > 8:  # wider than one int64 key: a dict over the rows' bytes
        raw = keys.tobytes()
        seen: dict[bytes, int] = {}
        firsts, groups = [], []
        for t in range(len(mask)):
            u = seen.setdefault(raw[t * w:(t + 1) * w], len(firsts))
            if u == len(firsts):
                firsts.append(t)
            groups.append(u)
        return np.array(firsts, dtype=np.int64), np.array(groups, dtype=np.int64)
    # each row's bits as one integer (zero-padded to 8 bytes), grouped by numpy
    wide = np.zeros((len(mask), 8), dtype=np.uint8)
    wide[:, :w] = keys
    _, first, inv = np.unique(wide.view(np.uint64).ravel(), return_index=True,
                              return_inverse=True)
    order = np.argsort(first)  # the groups in order of their first row
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return first[order].astype(np.int64), rank[inv.ravel()]


def combo_count(tables: list[tuple[np.ndarray, np.ndarray]]) -> int:
    return math.prod(len(r) for r, _ in tables)


def materialize(tables, temporal, sx, sy, keeps: np.ndarray, keep_sets: np.ndarray,
                idx: np.ndarray):
    """Rows ``idx`` of one tiling's leaves (combo-major, keep-minor: row = combo x
    len(keeps) + keep index): the temporal/spatial/rank/keep arrays and, per row, each
    level's Lehmer rank and the bypass index."""
    nk = len(keeps)
    combo, kk = np.divmod(idx, nk)
    n = len(idx)
    L, D = temporal.shape
    rank = np.empty((n, L, D), dtype=np.int64)
    rem = combo.copy()
    per = [0] * L
    for i in range(L - 1, -1, -1):
        ranks, rows = tables[i]
        rem, j = np.divmod(rem, len(ranks))
        rank[:, i, :] = rows[j]
        per[i] = ranks[j]
    by = keeps[kk]
    return (np.broadcast_to(temporal, (n, L, D)).copy(), np.broadcast_to(sx, (n, L, D)).copy(),
            np.broadcast_to(sy, (n, L, D)).copy(), rank, keep_sets[by], per, by)
