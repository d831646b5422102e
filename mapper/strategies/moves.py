"""The random moves of ``local``'s neighbourhood (docs/strategies.md, ``local``), on
candidates held in mapspace coordinates (``spaces.arrays.Genes``), many rows at once:

* ``prime``: move one prime factor of one dimension from a tiling slot to another (in an
  imperfect dimension, an end move: ``spaces.imperfect.move_end``);
* ``redraw``: re-draw one dimension's whole factorization;
* ``swap``: swap two loops of one level;
* ``keep``: flip one free keep bit;
* ``exchange``: trade a prime factor between two dimensions across two slots, so every
  slot keeps its product.

Every move stays inside the mapspace (factor rules, axes, pinned loops); legality
(fanout, capacity) is checked by the caller. Draws come from the generator given, so a
seed fixes them.
"""

from __future__ import annotations

import numpy as np

from loopscape.spaces.arrays import Genes, SpaceArrays

KINDS = ("prime", "redraw", "swap", "keep", "exchange")


class Moves:
    """The moves on one mapspace's candidates, drawing from ``rng``; ``exchange`` is
    the exchange move's weight against prime moves 0.5, re-draws 0.1, swaps 0.3 and
    keep flips 0.1 (normalized over the kinds the space has; 0, the default, turns it off;
    off in imperfect spaces)."""

    def __init__(self, arrays: SpaceArrays, rng: np.random.Generator, exchange: float = 0.0):
        self.arrays, self.rng = arrays, rng
        A = arrays
        self.dims = [d for d, t in enumerate(A.tables) if len(t.open_slots) >= 2]
        p = np.array([0.5 if self.dims else 0, 0.1 if self.dims else 0,
                      0.3 if A.orderable else 0, 0.1 if A.keep_free else 0,
                      exchange if len(self.dims) >= 2 and not A.imperfect else 0])
        self.kind_p = p / p.sum() if p.sum() else np.full(len(KINDS), 1 / len(KINDS))

    def apply(self, g: Genes, steps: np.ndarray) -> None:
        """Row r of ``g`` takes ``steps[r]`` random moves, in place."""
        rng = self.rng
        p = self.kind_p
        for s in range(int(steps.max())):
            rows = np.nonzero(steps > s)[0]
            kind = rng.choice(len(KINDS), size=len(rows), p=p)
            for k, fn in enumerate((self.prime, self.redraw, self.swap, self.keep,
                                    self.exchange)):
                sel = rows[kind == k]
                if len(sel):
                    fn(g, sel)

    def _rows_by_dim(self, rows: np.ndarray):
        """Draw one searchable dimension per row; yield (dimension, its rows)."""
        if not self.dims:
            return
        dsel = np.array(self.dims)[self.rng.integers(0, len(self.dims), size=len(rows))]
        for d in np.unique(dsel):
            yield d, rows[dsel == d]

    def redraw(self, g: Genes, rows: np.ndarray) -> None:
        for d, r in self._rows_by_dim(rows):
            g.fi[r, d] = self.rng.integers(0, self.arrays.tables[d].size, size=len(r))

    def prime(self, g: Genes, rows: np.ndarray) -> None:
        """Move one prime factor of one dimension from a slot to another (the spatial
        axis of a new spatial factor drawn among the allowed ones)."""
        rng = self.rng
        for d, r in self._rows_by_dim(rows):
            tab = self.arrays.tables[d]
            if getattr(tab, "imperfect", False):  # end moves; the outermost loop covers
                new = tab.move(g.fi[r, d], rng)
                ok = new >= 0
                g.fi[r[ok], d] = new[ok]
                continue
            f, a = tab.factors(g.fi[r, d])
            m, S = f.shape
            src = np.argmax(rng.random((m, S)) * (f > 1), axis=1)
            fs = f[np.arange(m), src]
            dfs = tab.di(fs)
            cnt = tab.n_primes[dfs]
            p = tab.primes[dfs, (rng.random(m) * np.maximum(cnt, 1)).astype(np.int64)]
            k = len(tab.open_slots)
            dst = tab.open_slots[(tab.slot_pos[src] + 1 + rng.integers(0, k - 1, size=m)) % k]
            fd = f[np.arange(m), dst]
            ad = a[np.arange(m), dst]
            new_fs = fs // p
            new_fd = fd * p
            # Axes: a factor that becomes 1 has none; a new spatial factor picks one.
            as_ = np.where(new_fs == 1, 0, a[np.arange(m), src])
            pick_axis = rng.integers(1, 3, size=m).astype(np.int8)
            ad = np.where(fd > 1, ad, np.where(self.arrays.slot_temporal[dst], 0, pick_axis))
            o = tab.opt[g.fi[r, d]].copy()
            ok = (fs > 1) & (dst != src)
            dnew_fd = tab.di(new_fd)
            new_src_opt = tab.lookup3[src, tab.di(new_fs), as_]
            new_dst_opt = tab.lookup3[dst, dnew_fd, ad]
            # A new spatial factor whose drawn axis is not allowed tries the other one.
            other = tab.lookup3[dst, dnew_fd, 3 - np.maximum(ad, 1)]
            retry = (new_dst_opt < 0) & (fd == 1) & ~self.arrays.slot_temporal[dst]
            new_dst_opt = np.where(retry, other, new_dst_opt)
            ok &= (new_src_opt >= 0) & (new_dst_opt >= 0)
            idx = np.nonzero(ok)[0]
            o[idx, src[idx]] = new_src_opt[idx]
            o[idx, dst[idx]] = new_dst_opt[idx]
            g.fi[r[idx], d] = tab.find(o[idx])

    def exchange(self, g: Genes, rows: np.ndarray) -> None:
        """Trade one prime factor between two dimensions across two slots: dimension d1
        moves a prime p from slot a to slot b, dimension d2 moves a factor p from b to a,
        so every slot's product (its iterations, or its spatial instances on each mesh
        axis when d2 takes over d1's axis) is unchanged. This reaches the other ways to
        fill the same mesh or the same tile, which a single prime move cannot reach
        without leaving PEs idle or a buffer overfull on the way."""
        A, rng = self.arrays, self.rng
        dims = np.array(self.dims)
        nd, n, S = len(dims), len(rows), len(A.slot_temporal)
        i1 = rng.integers(0, nd, size=n)
        d1 = dims[i1]
        d2 = dims[(i1 + 1 + rng.integers(0, nd - 1, size=n)) % nd]
        f1, a1 = np.empty((n, S), dtype=np.int64), np.empty((n, S), dtype=np.int8)
        f2, a2 = np.empty_like(f1), np.empty_like(a1)
        p = np.ones(n, dtype=np.int64)
        src = np.zeros(n, dtype=np.int64)
        u = rng.random((n, S))
        v = rng.random(n)
        for d in np.unique(d1):
            k = np.nonzero(d1 == d)[0]
            tab = A.tables[d]
            f1[k], a1[k] = tab.factors(g.fi[rows[k], d])
            src[k] = np.argmax(u[k] * (f1[k] > 1), axis=1)
            dfs = tab.di(f1[k, src[k]])
            p[k] = tab.primes[dfs, (v[k] * np.maximum(tab.n_primes[dfs], 1)).astype(np.int64)]
        for d in np.unique(d2):
            k = np.nonzero(d2 == d)[0]
            f2[k], a2[k] = A.tables[d].factors(g.fi[rows[k], d])
        ar = np.arange(n)
        can = (f2 % p[:, None] == 0) & (f2 > 1) & (np.arange(S)[None, :] != src[:, None])
        dst = np.argmax(rng.random((n, S)) * can, axis=1)
        fs = f1[ar, src]
        ok = (fs > 1) & can[ar, dst]
        p = np.where(ok, p, 1)  # rows without a trade keep their factors (dropped)
        fd1, fd2, fs2 = f1[ar, dst], f2[ar, dst], f2[ar, src]
        # Axes: a factor that becomes 1 has none; a new one takes the other's axis.
        moves = ((d1, src, fs // p, np.where(fs // p == 1, 0, a1[ar, src]),
                  dst, fd1 * p, np.where(fd1 > 1, a1[ar, dst], a2[ar, dst])),
                 (d2, dst, fd2 // p, np.where(fd2 // p == 1, 0, a2[ar, dst]),
                  src, fs2 * p, np.where(fs2 > 1, a2[ar, src], a1[ar, src])))
        new = np.full((2, n), -1, dtype=np.int64)
        for j, (dd, s1, v1, x1, s2, v2, x2) in enumerate(moves):
            for d in np.unique(dd):
                k = np.nonzero((dd == d) & ok)[0]
                if not len(k):
                    continue
                tab = A.tables[d]
                o = tab.opt[g.fi[rows[k], d]].copy()
                n1 = tab.lookup3[s1[k], tab.di(v1[k]), x1[k]]
                n2 = tab.lookup3[s2[k], tab.di(v2[k]), x2[k]]
                good = (n1 >= 0) & (n2 >= 0)
                o[np.arange(len(k)), s1[k]] = n1
                o[np.arange(len(k)), s2[k]] = n2
                new[j, k[good]] = tab.find(o[good])
        idx = np.nonzero((new >= 0).all(axis=0))[0]
        g.fi[rows[idx], d1[idx]] = new[0, idx]
        g.fi[rows[idx], d2[idx]] = new[1, idx]

    def swap(self, g: Genes, rows: np.ndarray) -> None:
        """Swap two loops of a level's free region (non-unit ones mostly)."""
        A, rng = self.arrays, self.rng
        if not A.orderable:
            return
        lsel = np.array(A.orderable)[rng.integers(0, len(A.orderable), size=len(rows))]
        for i in np.unique(lsel):
            r = rows[lsel == i]
            fd = A.free[i]
            k = len(fd)
            # Only positions of the non-unit loops matter after canonicalization; swapping
            # two random free dims of the first few positions is enough.
            x = rng.integers(0, k, size=len(r))
            y = (x + 1 + rng.integers(0, k - 1, size=len(r))) % k
            dx, dy = fd[x], fd[y]
            px = g.rank[r, i, dx].copy()
            g.rank[r, i, dx] = g.rank[r, i, dy]
            g.rank[r, i, dy] = px

    def keep(self, g: Genes, rows: np.ndarray) -> None:
        A, rng = self.arrays, self.rng
        if not A.keep_free:
            return
        k = rng.integers(0, len(A.keep_free), size=len(rows))
        lv = np.array([i for i, _ in A.keep_free])[k]
        tt = np.array([t for _, t in A.keep_free])[k]
        g.keep[rows, lv, tt] = ~g.keep[rows, lv, tt]
