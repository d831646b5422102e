"""Rule B7 (docs/optimal.md): the order-aware refetch bound of one tiling, as a factor on
rule B6's words.

For a tensor ``t`` and a level ``c`` that keeps it, B6 counts (over the instances)
``instances x share(c) >= solo_words x (non-solo spatial factors above c) x tile's
compound extents``. B7 sharpens it for every loop order at once. Call a temporal loop
above ``c`` *solo* when its dimension alone makes up an axis of ``t``. Split the loops
above ``c`` (flattened, outermost first) after the innermost non-unit solo loop: the
outer part ``O`` and the inner part ``I``. Every step of a loop in ``O`` changes the
tile's position along a solo axis by a multiple of its extent (the loop steps, or a
solo loop inside it wraps), so the new tile shares nothing with the last one; between
two such steps (a *run*) the level receives at least the union of the tiles the loops
of ``I`` visit (it holds nothing of them when the run starts, and it fetches at least
``X \\ S`` at each visit). So ``share(c) >= prod(O factors) x |union of a run's tiles|``.

Moving a non-solo loop from ``O`` to ``I`` divides the first factor by its factor
``f`` and multiplies the union by at most ``f`` (``f`` translated copies), so the
minimum over orders is reached with the fewest loops in ``O``: every loop of the levels
above the innermost level ``j*`` with a non-unit solo loop, and at ``j*`` the solo
loops plus the loops the level's pinned order forces outside them. Along an axis of
``t`` that is a sum of dimensions the union of a run's tiles is an interval of
``1 + sum |coef| x (span_d - 1)`` when every step ``|coef| x extent_d`` is at most the
tile's width (the sums of arithmetic progressions then leave no gap), where ``span_d``
is the dimension's extent in the tile times its factors in ``I``; otherwise the tile's
own width is used. Axes are multiplied together only when no dimension of ``I`` lies in
two of them (the origins then form a product set).

``run_factors`` returns, per (tensor, level) column of the bounder, the factor by which
B7 exceeds B6 (>= 1). It holds for both Timeloop semantics (it uses only that a visit
fetches at least ``X \\ S`` and that a tile sharing nothing with the last is fetched
whole).
"""

from __future__ import annotations

import numpy as np

from loopscape.spaces.workload import Workload

from .kernel_tables import run_tables
from .kernels import factor_pair as factor_rows
from .structure import SpaceStructure


class RunBound:
    """Per (tensor, level) column: the B7 factor of full tilings."""

    def __init__(self, workload: Workload, st: SpaceStructure, columns: dict):
        self.columns = columns  # (tensor index, level) -> column
        dims = list(st.dims)
        self.D = len(dims)
        L = len(st.free)
        # Per level: fixed outer sequence A, free set F, pinned inner sequence Z.
        self.A, self.F, self.Z = [], [], []
        for i in range(L):
            a = list(st.outer[i]) + (list(st.rest[i]) if not st.free[i] else [])
            z = list(st.inner[i])
            f = [d for d in dims if d not in a and d not in z]  # free and unit-only loops
            self.A.append([dims.index(d) for d in a])
            self.F.append([dims.index(d) for d in f])
            self.Z.append([dims.index(d) for d in z])
        self.solo, self.axes, self.grow = [], [], []
        for t in workload.tensors:
            solo = sorted({dims.index(ax[0][1]) for ax in t.axes
                           if len(ax) == 1 and ax[0][0] != 0})
            compound = [[(abs(k), dims.index(d)) for k, d in ax] for ax in t.axes if len(ax) > 1]
            seen: list[int] = []
            for ax in compound:
                seen += [d for _, d in ax if d not in solo]
            self.solo.append(solo)
            self.axes.append(compound)
            self.grow.append(len(seen) == len(set(seen)))
        # the same, flat, for the compiled kernel (kernels.py)
        self.tables = run_tables(columns, self.D, self.solo, self.axes, self.grow,
                                         self.A, self.F, self.Z)

    def levels_read(self, temporal: np.ndarray) -> np.ndarray:
        """int [N, n_columns]: the one level whose loop order ``factors`` reads for each
        column (its ``j*``), or -1 when it reads none (no non-unit solo loop above the
        keeper, or the outermost level's own column)."""
        N = temporal.shape[0]
        out = np.full((N, len(self.columns)), -1, dtype=np.int64)
        for (ti, c), col in self.columns.items():
            solo = self.solo[ti]
            if c == 0 or not solo:
                continue
            has = (temporal[:, :c, solo] > 1).any(axis=2)
            out[:, col] = np.where(has.any(axis=1), c - 1 - np.argmax(has[:, ::-1], axis=1), -1)
        return out

    def signature(self, temporal: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """int64 [N, n_columns]: what ``factors(temporal, ext, ranks=ranks)`` reads of the
        orders: per column, the non-unit loops at or outside the innermost non-unit solo
        loop of its level ``j*`` (bit d: dimension d; 0 for a column that reads no
        order). Rows of one tiling with equal signatures have equal factors (the loop
        order enters ``factors`` only through these loops), and a column's factor depends
        on the order only through its own bits."""
        N = temporal.shape[0]
        out = np.zeros((N, len(self.columns)), dtype=np.int64)
        weight = np.int64(1) << np.arange(self.D, dtype=np.int64)
        for (ti, c), col in self.columns.items():
            solo = self.solo[ti]
            if c == 0 or not solo:
                continue
            T = temporal[:, :c, :]
            has = (T[:, :, solo] > 1).any(axis=2)
            jstar = np.where(has.any(axis=1), c - 1 - np.argmax(has[:, ::-1], axis=1), -1)
            for lv in range(c):
                at = jstar == lv
                if not at.any():
                    continue
                o, t = ranks[at, lv], T[at, lv]
                inner = np.where(t[:, solo] > 1, o[:, solo], -1).max(axis=1)
                out[at, col] = (((o <= inner[:, None]) & (t > 1)) * weight).sum(axis=1)
        return out

    def factors(self, temporal: np.ndarray, ext: np.ndarray,
                order0: np.ndarray | None = None,
                ranks: np.ndarray | None = None) -> np.ndarray:
        """[N, n_columns]: B7's factor over B6 for tilings with ``temporal`` factors and
        per-level extents ``ext`` (both [N, L, D]); with ``order0`` [N, D] (each
        dimension's position in the outermost level's loop order, 0 outermost) the
        outermost level's order is that one instead of the least over its orders; with
        ``ranks`` [N, L, D] every level's order is the given one (a full mapping's)."""
        return self.factor_pair(temporal, ext, order0, ranks)[0]

    def factor_pair(self, temporal: np.ndarray, ext: np.ndarray,
                    order0: np.ndarray | None = None,
                    ranks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(B7's factor, its outer part alone), both [N, n_columns] (arguments as
        ``factors``). The outer part is the product of the non-solo factors of ``O``,
        without the union of a run's tiles along compound axes: it counts only the visits
        that step a loop of ``O``, which link transfers cannot serve (docs/optimal.md,
        rule L)."""
        given = ranks if ranks is not None else \
            (order0[:, None] if order0 is not None else None)
        return factor_rows(temporal, ext, given, self.tables)
