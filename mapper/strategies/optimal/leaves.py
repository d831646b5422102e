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
        """Bound the leaves of the tilings ``which`` (vectorized over all of them)."""
        bd = self.bd
        its = [items[n] for n in which]
        nT = len(its)
        L, D = its[0][0][1].shape
        # Every level's order tables of these tilings, concatenated (tilings with the
        # same non-unit loops share them): tiling t's level-j table starts at off[t, j].
        big: list[list] = [[] for _ in range(L)]
        at = [0] * L
        off = np.zeros((nT, L), dtype=np.int64)
        nrows = np.zeros((nT, L), dtype=np.int64)
        seen: dict[int, tuple] = {}
        for t, it in enumerate(its):
            tables = it[1]
            hit = seen.get(id(tables))
            if hit is None:
                for j in range(L):
                    big[j].append(tables[j][1])
                hit = (tuple(at), tuple(len(tb[0]) for tb in tables))
                for j in range(L):
                    at[j] += len(tables[j][0])
                seen[id(tables)] = hit
            off[t], nrows[t] = hit
        rows_of = [np.concatenate(b) for b in big]  # per level [rows, D]
        temporal = np.stack([it[0][1] for it in its])
        ext = np.stack([it[0][10] for it in its])
        pos = np.stack([it[0][7] for it in its])
        neg = np.stack([it[0][8] for it in its])
        nk = np.array([len(it[0][4]) for it in its], dtype=np.int64)
        first_rank = np.stack([rows_of[j][off[:, j]] for j in range(L)], axis=1)  # [nT, L, D]
        # 1. Classes of each level's orders: B7 reads a level's order only through the
        # non-unit loops at or outside each column's innermost solo loop (signature).
        m = np.ones((nT, L), dtype=np.int64)  # classes per (tiling, level)
        cls = [None] * L  # per level: (segment start row per tiling, class of each row)
        rep = [None] * L  # per level: first table row of each class, class base per tiling
        for j in range(L):
            ts = np.nonzero(nrows[:, j] > 1)[0]
            if not len(ts):
                continue
            cnt = nrows[ts, j]
            seg = np.zeros(nT, dtype=np.int64)
            seg[ts] = np.cumsum(cnt) - cnt
            t_of = np.repeat(ts, cnt)
            r = np.arange(len(t_of)) - seg[t_of]
            ranks = first_rank[t_of]
            ranks[:, j] = rows_of[j][off[t_of, j] + r]
            key = np.concatenate([t_of[:, None], bd.runs.signature(temporal[t_of], ranks)
                                  .astype(np.int64)], axis=1)
            _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
            inv = inv.ravel()
            base = np.zeros(nT, dtype=np.int64)
            base[ts] = np.minimum.reduceat(inv, seg[ts])
            m[ts, j] = np.maximum.reduceat(inv, seg[ts]) - base[ts] + 1
            cls[j] = (seg, inv - base[t_of])
            rep[j] = (r[first], base)
        # 2. One row per (tiling, class of every level, keep choice): its B3-B7 terms.
        keeps = np.concatenate([it[0][4] for it in its])
        tops = np.concatenate([it[5] for it in its])
        koff = np.cumsum(nk) - nk
        per = m.prod(axis=1) * nk
        t_of = np.repeat(np.arange(nT), per)
        eoff = np.cumsum(per) - per
        cflat, k = np.divmod(np.arange(len(t_of)) - eoff[t_of], nk[t_of])
        rank = np.empty((len(t_of), L, D), dtype=np.int64)
        for j in range(L - 1, -1, -1):
            cflat, c = np.divmod(cflat, m[t_of, j])
            r = 0 if rep[j] is None else rep[j][0][np.minimum(rep[j][1][t_of] + c,
                                                                len(rep[j][0]) - 1)]
            rank[:, j] = rows_of[j][off[t_of, j] + np.where(m[t_of, j] > 1, r, 0)]
        by = keeps[koff[t_of] + k]
        skip = tops[koff[t_of] + k]
        ce = bd.ordered_extents(temporal[t_of], ext[t_of], rank)
        energy = np.zeros(len(t_of))
        for ti in range(self.T):
            # one chain_energy call per (keep chain, skip) of this tensor
            code = self.keep_sets[by][:, :, ti].astype(np.int64) @ (1 << np.arange(L)) * 2 + \
                skip[:, ti]
            for u in np.unique(code).tolist():
                r = np.nonzero(code == u)[0]
                chain = tuple(i for i in range(L) if (u >> 1) >> i & 1)
                energy[r] += bd.chain_energy(ti, chain, pos[t_of[r]], neg[t_of[r]],
                                             skip_top=bool(u & 1), ce=ce[r])
        # 3. Each leaf: its classes' row, plus the probe's exact terms of its (outermost
        # order, keep choice).
        sizes = [len(it[2]) for it in its]
        t_of = np.repeat(np.arange(nT), sizes)
        combo, k = np.divmod(np.concatenate([it[2] for it in its]), nk[t_of])
        o = [None] * L
        for j in range(L - 1, -1, -1):
            combo, o[j] = np.divmod(combo, nrows[t_of, j])
        cflat = np.zeros(len(t_of), dtype=np.int64)
        for j in range(L):
            c = 0
            if cls[j] is not None:
                seg, of_row = cls[j]
                c = np.where(nrows[t_of, j] > 1,
                             of_row[np.minimum(seg[t_of] + o[j], len(of_row) - 1)], 0)
            cflat = cflat * m[t_of, j] + c
        exact = np.concatenate([it[4].ravel() for it in its])
        xoff = np.cumsum(nrows[:, 0] * nk) - nrows[:, 0] * nk
        base = np.array([it[3] for it in its])
        lb = base[t_of] * SAFETY + exact[xoff[t_of] + o[0] * nk[t_of] + k] + \
            energy[eoff[t_of] + cflat * nk[t_of] + k] * SAFETY
        start = 0
        for n, size in zip(which, sizes):
            out[n] = lb[start:start + size]
            start += size
