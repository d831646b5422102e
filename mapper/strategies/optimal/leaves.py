"""Rule ``leaf_bound``: B7 with every level's loop order known, per leaf, before scoring.

A leaf (one loop order per level and a keep choice of a tiling) is scored by the
evaluator unless a cheaper bound already shows it cannot reach the front. Rule B7
(runs.py) holds for each loop order separately; ``order_bound`` evaluates it with the
outermost level's order fixed and the least over the deeper levels' orders. Here every
level's order is the leaf's own, so the B7 factor of every (tensor, keeper) column is
the one of that exact order (``Bounder.tiling_extents`` with ``ranks``); the terms ``order_bound``
read exactly off its probe (outermost accesses and level 1's fills, where rule L allows)
are that probe's, which depend only on the outermost order and the keep choice. The
dominated leaves are removed (docs/optimal.md, rule leaf_bound).

B7 reads a level's order only through, per (tensor, keeper) column, the non-unit loops
at or outside the innermost solo loop of that column's level ``j*``
(``RunBound.signature``, ``RunBound.levels_read``). So each level's orders fall into
classes (found once per pattern of non-unit loops and kept in a registry that the
streams of a process share, tables.py), the B7 factors are computed once per (tiling,
level, class), and the energy once per (tiling, class of every level, keep choice); a
leaf only indexes its classes' row. ``least`` is the same bound without the probe's
terms, least over a tiling's leaves: a bound of the whole tiling.
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder
from .kernels import class_energy
from .orders import patterns
from .unique import unique_rows

CHUNK = 65536  # leaves (or class rows) bounded in one pass (memory: [CHUNK, L, D] arrays)


def leaf_indices(mask: np.ndarray, deeper: int) -> np.ndarray:
    """Leaves (combo-major, keep-minor: ``materialize``'s indices) of the (outermost
    order, keep choice) pairs of ``mask`` [n0, nk], with ``deeper`` orders of the other
    levels each, in increasing order (id order)."""
    nk = mask.shape[1]
    o, k = np.nonzero(mask)
    first = o * (deeper * nk) + k
    return np.sort((first[:, None] + np.arange(deeper, dtype=np.int64)[None] * nk).ravel())


class Rows:
    """An array grown by appending rows (its capacity doubles); ``view`` holds them."""

    def __init__(self, dtype) -> None:
        self.dtype, self.buf, self.n = dtype, None, 0

    def append(self, rows: np.ndarray) -> int:
        """Append ``rows``; returns where they start."""
        start, end = self.n, self.n + len(rows)
        if self.buf is None or end > len(self.buf):
            grown = np.empty((max(2 * end, 64),) + rows.shape[1:], dtype=self.dtype)
            if self.buf is not None:
                grown[:start] = self.buf[:start]
            self.buf = grown
        self.buf[start:end] = rows
        self.n = end
        return start

    @property
    def view(self) -> np.ndarray:
        return self.buf[:self.n]


class LeafBound:
    def __init__(self, bounder: Bounder, keep_sets: np.ndarray, n_tensors: int):
        self.bd = bounder
        self.keep_sets = keep_sets  # [B, L, T]
        self.T = n_tensors
        self.pid: dict[bytes, int] = {}  # the registry: non-unit loop pattern -> index
        self.hits = Rows(np.int64)  # per pattern [4, L]: off, roff, orders, classes
        self.cls = Rows(np.int64)  # every registered level's order classes
        self.sig = Rows(np.int64)  # their classes' signatures [classes, columns]
        self.wide = Rows(np.bool_)  # and whether each class is wide

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

    def _classes(self, temporal: np.ndarray, tables: list) -> tuple:
        """Per level: each order's class, the class count, each class's signature
        [classes, columns] (for a column whose factor reads this level, the loops its
        outer part ``O`` holds there: all the kernel reads of the order), and whether
        the class is *wide* (its signature includes another class's in every column:
        the least over a tiling's leaves skips it, kernels.py). B7 reads a level's
        order only through the non-unit loops at or outside each column's innermost solo
        loop (RunBound.signature), which depends on the tiling only through which loops
        are non-unit: the registry keeps them per pattern (``_pattern``)."""
        L = len(tables)
        first = np.stack([tables[j][1][0] for j in range(L)])  # [L, D]
        cls, m, sigs, wide = [], [], [], []
        # every level's first order, then each level's orders with the others' first
        # (signature reads each row alone: one call for all of them)
        many = [j for j in range(L) if len(tables[j][0]) > 1]
        ranks = np.repeat(first[None], 1 + sum(len(tables[j][0]) for j in many), axis=0)
        at = [1]
        for j in many:
            ranks[at[-1]:at[-1] + len(tables[j][0]), j] = tables[j][1]
            at.append(at[-1] + len(tables[j][0]))
        every = self.bd.runs.signature(np.repeat(temporal[None], len(ranks), axis=0), ranks)
        sig1 = every[:1]
        for j in range(L):
            if j not in many:
                cls.append(np.zeros(1, dtype=np.int64))
                m.append(1)
                sigs.append(sig1)
                wide.append(np.zeros(1, dtype=bool))
                continue
            k = many.index(j)
            sig = every[at[k]:at[k + 1]]
            firsts, inv = unique_rows(sig)
            cls.append(inv)
            m.append(len(firsts))
            s = sig[firsts]
            sigs.append(s)
            # a class whose outer loops include another class's in every column
            sub = ((s[:, None, :] & s[None, :, :]) == s[None, :, :]).all(axis=2)
            np.fill_diagonal(sub, False)
            wide.append(sub.any(axis=1))
        return cls, tuple(m), sigs, wide

    def least(self, items: list) -> np.ndarray:
        """Per ``(rec, tables, base_pj)``: the least leaf bound over every leaf of the
        tiling (no probe terms: B3-B7 with each leaf's own orders), a bound of the whole
        tiling. Only each level's undominated classes are enumerated (the least row is
        among them, kernels.py); a tiling with more than ``CHUNK`` such rows gets no
        bound (0)."""
        if not items:
            return np.zeros(0)
        p = self._prepare([(rec, tables) for rec, tables, _ in items])
        return self._least(p, np.array([b for _, _, b in items]))

    def least_of(self, temporal: np.ndarray, ext: np.ndarray, pos: np.ndarray,
                 neg: np.ndarray, keep_ok: np.ndarray, base: np.ndarray, tables_of
                 ) -> np.ndarray:
        """``least`` of tilings given as arrays (one row per tiling: ``keep_ok`` [N, B]
        their legal keep choices, ``base`` their MAC and leakage energy); ``tables_of(t)``
        gives tiling t's order tables (asked only of a pattern's first tiling)."""
        if not len(temporal):
            return np.zeros(0)
        p = self._gather(temporal, ext, pos, neg, keep_ok.sum(axis=1), np.nonzero(keep_ok)[1],
                         tables_of)
        return self._least(p, base)

    def _least(self, p: dict, base: np.ndarray) -> np.ndarray:
        tops = np.zeros((int(p["nk"].sum()), self.T), dtype=bool)
        energy, _ = self._class_energy(p, tops, cap=CHUNK)
        return np.where(np.isfinite(energy), (base + energy) * SAFETY, 0.0)

    def class_rows(self, pairs: list) -> np.ndarray:
        """Per (tiling record, tables): its rows (class of every level x keep choice)."""
        m = self.hits.view[[self._pattern(rec[1], tables) for rec, tables in pairs], 3]
        return np.prod(m, axis=1) * np.array([len(rec[4]) for rec, _ in pairs], dtype=np.int64)

    def _pass(self, items: list, which: list[int], out: list) -> None:
        """Bound the leaves of the tilings ``which`` (vectorized over all of them)."""
        its = [items[n] for n in which]
        prep = self._prepare([it[:2] for it in its])
        energy, eoff = self._class_energy(prep,
                                          np.concatenate([it[5] for it in its]))
        L = prep["m"].shape[1]
        nT, nk, nrows, m = len(its), prep["nk"], prep["nrows"], prep["m"]
        off, cls_of = prep["off"], prep["cls_of"]
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
            cflat = cflat * m[t_of, j] + cls_of[j][off[t_of, j] + o[j]]
        exact = np.concatenate([it[4].ravel() for it in its])
        xoff = np.cumsum(nrows[:, 0] * nk) - nrows[:, 0] * nk
        base = np.array([it[3] for it in its])
        lb = base[t_of] * SAFETY + exact[xoff[t_of] + o[0] * nk[t_of] + k] + \
            energy[eoff[t_of] + cflat * nk[t_of] + k] * SAFETY
        start = 0
        for n, size in zip(which, sizes):
            out[n] = lb[start:start + size]
            start += size

    def _pattern(self, temporal: np.ndarray, tables: list) -> int:
        """The registry's index of a tiling's pattern of non-unit loops (registered on
        first sight): each level's order classes, class signatures and wide marks are
        appended to one array each, so a batch of tilings only gathers its patterns'
        offsets into them (``_prepare``)."""
        key = (temporal > 1).tobytes()
        p = self.pid.get(key)
        if p is not None:
            return p
        cls, mm, sig, wide = self._classes(temporal, tables)
        L = len(tables)
        row = np.empty((4, L), dtype=np.int64)  # off, roff, orders, classes per level
        for j in range(L):
            row[:, j] = (self.cls.append(cls[j]), self.sig.append(sig[j]),
                         len(tables[j][0]), mm[j])
            self.wide.append(wide[j])
        self.hits.append(row[None])
        p = self.pid[key] = len(self.pid)
        return p

    def _prepare(self, its: list) -> dict:
        """The order classes of the tilings ``its`` ((rec, tables) pairs)."""
        recs = [it[0] for it in its]
        return self._gather(np.array([rec[1] for rec in recs]),
                            np.array([rec[10] for rec in recs]),
                            np.array([rec[7] for rec in recs]),
                            np.array([rec[8] for rec in recs]),
                            np.array([len(rec[4]) for rec in recs], dtype=np.int64),
                            np.concatenate([rec[4] for rec in recs]), lambda t: its[t][1])

    def _gather(self, temporal, ext, pos, neg, nk, keeps, tables_of) -> dict:
        """The order classes of tilings given as arrays (``nk`` their keep choice counts,
        ``keeps`` their keep choices one after another, ``tables_of`` as ``least_of``)."""
        # 1. Per distinct pattern of non-unit loops among these tilings (the order tables
        # and classes depend on nothing else): its registry index. Tiling t's level-j
        # orders' classes start at off[t, j] of the registry's classes, its classes'
        # signatures (and wide marks) at roff[t, j] of theirs (every level in one array).
        first, inv = patterns(temporal > 1)
        pids = np.array([self._pattern(temporal[t], tables_of(t)) for t in first.tolist()],
                        dtype=np.int64)
        off, roff, nrows, m = self.hits.view[pids[inv]].transpose(1, 0, 2)
        L = temporal.shape[1]
        sig, wide = self.sig.view, self.wide.view
        return dict(off=off, roff=roff, nrows=nrows, m=m, cls_of=[self.cls.view] * L,
                    sig_of=[sig], wide_of=[wide], sig_cat=sig, wide_cat=wide,
                    sig_lvl=np.zeros(L, dtype=np.int64),  # roff is absolute
                    temporal=temporal, ext=ext, pos=pos, neg=neg,
                    nk=np.asarray(nk, dtype=np.int64), keeps=keeps)

    def _class_energy(self, prep: dict, tops: np.ndarray, cap=None):
        """2. One row per (tiling, class of every level, keep choice): its B3-B7 energy
        (``tops`` [sum of keep choices, T]: the terms left to the probe), and where each
        tiling's rows start; with ``cap``, the least row per tiling (``class_energy``)."""
        bd = self.bd
        return class_energy(prep, prep["keeps"], self.keep_sets, tops, bd.runs.tables,
                            bd.chain_tables, bd.links, cap)
