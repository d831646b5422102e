"""Rule ``leaf_bound``: B7 with every level's loop order known, per leaf, before scoring.

A leaf (one loop order per level and a keep choice of a tiling) is scored by the
evaluator unless a cheaper bound already shows it cannot reach the front. Rule B7
(runs.py) holds for each loop order separately; ``order_bound`` evaluates it with the
outermost level's order fixed and the least over the deeper levels' orders. Here every
level's order is the leaf's own, so the B7 factor of every (tensor, keeper) column is
the one of that exact order (``Bounder.ordered_extents``); the terms ``order_bound``
read exactly off its probe (outermost accesses and level 1's fills, where rule L allows)
are that probe's, which depend only on the outermost order and the keep choice. The
bound is computed for a group's leaves at once (one pass per (tensor, keep chain)) and
the dominated leaves are removed (docs/optimal.md, rule leaf_bound).
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder
from .orders import combo_count

CHUNK = 65536  # leaves bounded in one pass (memory: a few [CHUNK, L, D] arrays)


def leaf_indices(mask: np.ndarray, deeper: int) -> np.ndarray:
    """Leaves (combo-major, keep-minor: ``materialize``'s indices) of the (outermost
    order, keep choice) pairs of ``mask`` [n0, nk], with ``deeper`` orders of the other
    levels each, in increasing order (id order)."""
    nk = mask.shape[1]
    o, k = np.nonzero(mask)
    first = o * (deeper * nk) + k
    return np.sort((first[:, None] + np.arange(deeper, dtype=np.int64)[None] * nk).ravel())


class LeafBound:
    def __init__(self, bounder: Bounder, keep_sets: np.ndarray, n_tensors: int):
        self.bd = bounder
        self.keep_sets = keep_sets  # [B, L, T]
        self.T = n_tensors

    def __call__(self, items: list) -> list[np.ndarray]:
        """Per item ``(rec, tables, idx, base_pj, exact, top)``: energy lower bounds of
        the leaves ``idx`` (combo-major, keep-minor, as ``materialize``) of the tiling
        record ``rec``. ``exact`` [n0, nk]: the probe's exact outermost terms per
        (outermost order, keep choice) (zeros without a probe), ``top`` [nk, T]: the
        tensors whose terms they are (B5's outermost serve and level-1 fill left out)."""
        out: list = [None] * len(items)
        batch: list = []
        rows = 0
        for n, item in enumerate(items):
            batch.append(n)
            rows += len(item[2])
            if rows >= CHUNK:
                self._pass(items, batch, out)
                batch, rows = [], 0
        if batch:
            self._pass(items, batch, out)
        return out

    def _pass(self, items: list, which: list[int], out: list) -> None:
        bd = self.bd
        sizes = [len(items[n][2]) for n in which]
        total = sum(sizes)
        L, D = items[which[0]][0][1].shape
        temporal = np.empty((total, L, D), dtype=np.int64)
        ext = np.empty((total, L, D), dtype=np.int64)
        rank = np.empty((total, L, D), dtype=np.int64)
        by = np.empty(total, dtype=np.int64)
        skip = np.empty((total, self.T), dtype=bool)
        lb = np.empty(total)
        pos = np.empty((total, bd.n_pos))
        neg = np.empty((total, bd.n_neg))
        at = 0
        for n in which:
            rec, tables, idx, base, exact, top = items[n]
            m = len(idx)
            sl = slice(at, at + m)
            nk = len(rec[4])
            combo, kk = np.divmod(idx, nk)
            temporal[sl], ext[sl] = rec[1], rec[10]
            pos[sl], neg[sl] = rec[7], rec[8]
            rem = combo
            for i in range(L - 1, -1, -1):
                rem, j = np.divmod(rem, len(tables[i][0]))
                rank[sl, i, :] = tables[i][1][j]
            by[sl] = rec[4][kk]
            skip[sl] = top[kk]
            lb[sl] = base * SAFETY + exact[combo // combo_count(tables[1:]), kk]
            at += m
        # Leaves of one tiling and keep choice whose orders B7 reads alike have equal
        # terms: each such class is bounded once (runs.py, signature).
        tile = np.repeat(np.arange(len(which)), sizes)
        key = np.concatenate([tile[:, None], by[:, None], skip.astype(np.int64),
                              bd.runs.signature(temporal, rank).astype(np.int64)], axis=1)
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        ce = bd.ordered_extents(temporal[first], ext[first], rank[first])
        by, skip, pos, neg = by[first], skip[first], pos[first], neg[first]
        energy = np.zeros(len(first))
        for ti in range(self.T):
            # one chain_energy call per (keep chain, skip) of this tensor
            code = self.keep_sets[by][:, :, ti].astype(np.int64) @ (1 << np.arange(L)) * 2 + \
                skip[:, ti]
            for u in np.unique(code).tolist():
                r = np.nonzero(code == u)[0]
                chain = tuple(i for i in range(L) if (u >> 1) >> i & 1)
                energy[r] += bd.chain_energy(ti, chain, pos[r], neg[r], skip_top=bool(u & 1),
                                             ce=ce[r])
        energy = energy[inverse]
        lb += energy * SAFETY
        at = 0
        for n, m in zip(which, sizes):
            out[n] = lb[at:at + m]
            at += m
