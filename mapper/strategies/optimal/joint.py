"""Rule J (docs/optimal.md, "Joint spatial room"): the unassigned dimensions of a subtree
share the fanout the assigned ones leave, so their spatial factors cannot all be large
at once.

The subtree bound (rule subtree_bound) takes, for each unassigned dimension and each
column of the bounder, the least feature over the dimension's rows: every dimension is
free to take its most parallel row, which together would need far more PEs than there
are (on a 3x3 convolution the weights are then served to the MACs by DRAM once per
``MACs / (P x Q x ...)``, with P and Q both fully spatial). For some columns the feature
``f`` of a row times a product ``s`` of the row's spatial factors over a suffix of levels
(``k`` and below) is at least a constant ``c`` (for a perfect factorization it is exactly
the dimension's bound): the served words of an innermost keeper ``k`` (rule B3: ``s``
the spatial factors at levels ``>= k`` of the dimensions that are not solo in the
tensor), the cycles times the instances of level ``l`` (leakage: ``s`` the spatial
factors at levels ``>= l``) and the cycles (``s`` every spatial factor). Over the
unassigned dimensions ``U``::

    prod_U f = prod_U (f s) / prod_U s >= prod_U c / min(room(k), prod_U max s)

where ``room(k)`` is the product over levels ``l >= k`` of ``floor(FX_l / X_l) x
floor(FY_l / Y_l)``, ``X_l``, ``Y_l`` the assigned dimensions' spatial products on each
mesh axis at level ``l``: a legal completion's unassigned spatial factors on axis X of
level ``l`` multiply to an integer at most ``FX_l / X_l`` (rule L1), and likewise on Y.
Illegal completions are not mappings, so they need no bound. Every term of the bound is
non-decreasing in each of these columns, so raising a column to this floor keeps the
bound below every legal completion.
"""

from __future__ import annotations

import numpy as np

from .bounds import Bounder, solo_dims
from .unique import unique_rows


class JointFloor:
    """Per column: the constants ``c``, the largest ``s``, the suffix's first level and
    the dimensions whose spatial factors ``s`` counts."""

    def __init__(self, bd: Bounder):
        self.bd = bd
        L, D = bd.L, len(bd.dims)
        start = np.full(bd.n_pos, L, dtype=np.int64)  # room(L) = 1: no floor
        counted = [frozenset()] * bd.n_pos  # dimensions in ``s`` per column
        self.c = np.ones((D, bd.n_pos))
        self.smax = np.ones((D, bd.n_pos))
        start[0], counted[0] = 0, frozenset(range(D))
        for l in range(L):
            start[1 + l], counted[1 + l] = l, frozenset(range(D))
        for (ti, k), col in bd.col_a.items():
            solo = solo_dims(bd.workload.tensors[ti])
            start[col] = k
            counted[col] = frozenset(di for di, d in enumerate(bd.st.dims) if d not in solo)
        for di, f in enumerate(bd.dims):
            sp = (f.sx * f.sy).astype(np.float64)  # [rows, L]
            below = np.cumprod(sp[:, ::-1], axis=1)[:, ::-1]  # spatial at levels >= l
            s = np.ones_like(f.pos)
            for col in range(bd.n_pos):
                if start[col] < L and di in counted[col]:
                    s[:, col] = below[:, start[col]]
            self.c[di] = (f.pos * s).min(axis=0)
            self.smax[di] = s.max(axis=0)
        self.start, self.counted = start, counted
        # Per dimension, level and mesh axis: the spatial factors its rows take there.
        self.values = [[(sorted(set(f.sx[:, l].tolist())), sorted(set(f.sy[:, l].tolist())))
                        for l in range(L)] for f in bd.dims]
        self._best: dict = {}

    def _most(self, dims: tuple[int, ...], l: int, axis: int, room: int) -> int:
        """The largest product, at most ``room``, of one spatial factor per dimension of
        ``dims`` on mesh axis ``axis`` of level ``l``, each a value its rows take there."""
        key = (dims, l, axis, room)
        if key not in self._best:
            reach = {1}
            for di in dims:
                vals = self.values[di][l][axis]
                reach = {a * v for a in reach for v in vals if a * v <= room}
            self._best[key] = max(reach, default=0)  # room 0: an illegal node
        return self._best[key]

    def spatial_most(self, dims, spx: np.ndarray, spy: np.ndarray) -> np.ndarray:
        """[N, n_pos]: per column, an upper bound of the product over the unassigned
        ``dims`` of the spatial factors ``s`` counts, for assigned spatial products
        ``spx``, ``spy`` [N, L]: per level ``l >= start`` and mesh axis, the largest product
        of the dimensions' own factor values that fits in the room (rule L1)."""
        bd, L = self.bd, self.bd.L
        U = frozenset(dims)
        rx = bd.fx[None] // np.maximum(spx, 1)
        ry = bd.fy[None] // np.maximum(spy, 1)
        both = np.hstack([rx, ry]).astype(np.int64)
        firsts, inv = unique_rows(both)
        rooms = both[firsts]
        out = np.ones((len(rooms), bd.n_pos))
        groups: dict = {}
        for col in range(bd.n_pos):
            if self.start[col] < L:
                groups.setdefault((tuple(sorted(U & self.counted[col])),
                                   int(self.start[col])), []).append(col)
        for u, room in enumerate(rooms.tolist()):
            for (ds, k), cols in groups.items():
                v = 1.0
                for l in range(k, L):
                    v *= self._most(ds, l, 0, room[l]) * self._most(ds, l, 1, room[L + l])
                out[u, cols] = v
        return out[np.asarray(inv).reshape(-1)]

    def relaxed(self, dims, spx: np.ndarray, spy: np.ndarray) -> np.ndarray:
        """[N, n_pos]: a lower bound of each column's product over the unassigned
        dimensions ``dims`` for the subtrees whose assigned spatial products are ``spx``,
        ``spy`` [N, L]: the larger of the per-dimension minima (``Bounder.relaxed_over``)
        and rule J's floor."""
        dims = list(dims)
        rp, _ = self.bd.relaxed_over(dims)
        if not dims:
            return np.broadcast_to(rp, (len(spx), len(rp))).copy()
        c = self.c[dims].prod(axis=0)
        smax = self.smax[dims].prod(axis=0)
        most = np.minimum(self.spatial_most(dims, spx, spy), smax[None])
        # (0 when the assigned factors already overflow a fanout: such nodes are illegal
        # and keep the plain minima)
        floor = np.where(most > 0, c[None] / np.maximum(most, 1.0), 0.0)
        return np.maximum(rp[None], floor)

    def assigned_energy(self, rows: dict[int, np.ndarray]) -> np.ndarray:
        """Energy bounds [N] of the subtrees that fix dimension ``di`` to row
        ``rows[di][n]`` (the others relaxed with rule J; B7 on the reduced tiling)."""
        bd = self.bd
        N = len(next(iter(rows.values())))
        D = len(bd.dims)
        _, rn = bd.relaxed_over([d for d in range(D) if d not in rows])
        pos = np.ones((N, bd.n_pos))
        neg = np.broadcast_to(rn, (N, bd.n_neg)).copy()
        spx = np.ones((N, bd.L), dtype=np.int64)
        spy = np.ones((N, bd.L), dtype=np.int64)
        for di, r in rows.items():
            f = bd.dims[di]
            pos, neg = pos * f.pos[r], neg * f.neg[r]
            spx, spy = spx * f.sx[r], spy * f.sy[r]
        pos = pos * self.relaxed([d for d in range(D) if d not in rows], spx, spy)
        return bd.bound(pos, neg, ce=bd.tiling_extents(*bd.partial_tiling(rows, N)))[0]
