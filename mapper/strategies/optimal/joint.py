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


class JointFloor:
    """Per column: the constants ``c``, the largest ``s`` and the suffix's first level."""

    def __init__(self, bd: Bounder):
        self.bd = bd
        L, D = bd.L, len(bd.dims)
        self.fx = np.array([f[0] for f in bd.fanout], dtype=np.int64)
        self.fy = np.array([f[1] for f in bd.fanout], dtype=np.int64)
        start = np.full(bd.n_pos, L, dtype=np.int64)  # room(L) = 1: no floor
        self.c = np.ones((D, bd.n_pos))
        self.smax = np.ones((D, bd.n_pos))
        for di, f in enumerate(bd.dims):
            sp = (f.sx * f.sy).astype(np.float64)  # [rows, L]
            below = np.cumprod(sp[:, ::-1], axis=1)[:, ::-1]  # spatial at levels >= l
            s = np.ones_like(f.pos)
            s[:, 0] = below[:, 0]
            start[0] = 0
            for l in range(L):
                s[:, 1 + l] = below[:, l]
                start[1 + l] = l
            d = bd.st.dims[di]
            for (ti, k), col in bd.col_a.items():
                if d not in solo_dims(bd.workload.tensors[ti]):
                    s[:, col] = below[:, k]
                start[col] = k
            self.c[di] = (f.pos * s).min(axis=0)
            self.smax[di] = s.max(axis=0)
        self.start = start

    def room(self, spx: np.ndarray, spy: np.ndarray) -> np.ndarray:
        """[N, L + 1]: at index ``k``, the product over levels ``l >= k`` of the spatial
        room the assigned factors ``spx``, ``spy`` ([N, L], products per mesh axis) leave."""
        per = (self.fx[None] // np.maximum(spx, 1)) * (self.fy[None] // np.maximum(spy, 1))
        N, L = per.shape
        out = np.ones((N, L + 1))
        out[:, :L] = np.cumprod(per[:, ::-1].astype(np.float64), axis=1)[:, ::-1]
        return out

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
        room = self.room(spx, spy)[:, self.start]  # [N, n_pos]
        # (room 0: the assigned factors already overflow a fanout; such nodes are illegal)
        floor = c[None] / np.maximum(np.minimum(room, smax[None]), 1e-300)
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
        ext = np.ones((N, bd.L, D), dtype=np.int64)
        tem = np.ones((N, bd.L, D), dtype=np.int64)
        spx = np.ones((N, bd.L), dtype=np.int64)
        spy = np.ones((N, bd.L), dtype=np.int64)
        for di, r in rows.items():
            f = bd.dims[di]
            pos, neg = pos * f.pos[r], neg * f.neg[r]
            ext[:, :, di], tem[:, :, di] = f.ext[r], f.temporal[r]
            spx, spy = spx * f.sx[r], spy * f.sy[r]
        pos = pos * self.relaxed([d for d in range(D) if d not in rows], spx, spy)
        return bd.bound(pos, neg, ce=bd.tiling_extents(tem, ext))[0]
