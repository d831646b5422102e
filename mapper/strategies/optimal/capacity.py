"""Rule K (docs/optimal.md, "Capacity in the subtree bound"): a subtree's bound takes each
unassigned dimension's least feature only over the rows that can still fit the keepers
of the chain it prices.

``subtree_bound`` relaxes every unassigned dimension to its least feature over all its
rows, whatever the tiles they give. But a keep choice whose chain of keepers for a tensor
includes a level ``k`` of finite capacity is legal only when that tensor's tile at ``k``
fits (rule L3, the other tensors' tiles only add to the level's words). A row of an
unassigned dimension ``d`` gives the tile at ``k`` its extent ``e_d(k)``; with the
assigned dimensions' extents fixed and every other unassigned dimension at extent 1
(their least: every extent is at least 1), the tile grows with ``e_d(k)``. So if that tile
already overflows ``k`` at a row, no completion through that row keeps the tensor at
``k``: the chain's term may take ``d``'s least feature over the rows with ``e_d(k)`` at
most the largest extent that fits (a prefix of the rows sorted by that extent, so the
least features are prefix minima computed once). A chain with several such keepers takes,
per column, the largest of their restricted minima (each is a minimum over a superset of
the rows that fit all of them); a chain none of whose rows fit has no legal completion,
and its term is infinite. Each completion's keep choice prices every tensor with its own
chain, whose rows fit, so the least over chains of the restricted terms stays below it.
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder


class CapacityRelax:
    """Per (dimension, level): its rows' distinct extents there, sorted, and the prefix
    minima (maxima for the subtracted columns) of the features over them."""

    def __init__(self, bd: Bounder):
        self.bd = bd
        arch, wl = bd.arch, bd.workload
        self.cap = [lvl.effective_capacity_bits for lvl in arch.levels]
        self.bits = [[lvl.bits(t.name) for t in wl.tensors] for lvl in arch.levels]
        self.dims = list(bd.st.dims)
        self.keepers = {(ti, k) for ti in range(len(wl.tensors))
                        for ch in bd.chains[ti] for k in ch if self.cap[k] is not None}
        levels = sorted({k for _, k in self.keepers})
        self.vals: dict = {}
        self.pmin: dict = {}
        self.nmax: dict = {}
        for di, f in enumerate(bd.dims):
            for k in levels:
                e = f.ext[:, k]
                vals = np.unique(e)
                pm = np.stack([f.pos[e <= v].min(axis=0) for v in vals])
                nm = np.stack([f.neg[e <= v].max(axis=0) if f.neg.shape[1] else
                               np.zeros(0) for v in vals])
                self.vals[(di, k)] = vals
                self.pmin[(di, k)] = np.minimum.accumulate(pm, axis=0)
                self.nmax[(di, k)] = np.maximum.accumulate(nm, axis=0) if nm.size else nm

    def _tile(self, ti: int, ext: np.ndarray) -> np.ndarray:
        """[N]: words of tensor ``ti``'s tile for dimension extents ``ext`` [N, D]."""
        size = np.ones(len(ext), dtype=np.int64)
        for axis in self.bd.workload.tensors[ti].axes:
            e = np.ones(len(ext), dtype=np.int64)
            for c, d in axis:
                e = e + abs(c) * (ext[:, self.dims.index(d)] - 1)
            size = size * e
        return size

    def fits(self, U, ext: np.ndarray) -> dict:
        """Per keeper (tensor, level): int [N, len(U)], for each unassigned dimension the
        index (in its sorted extents at that level) of the largest extent whose tile
        still fits, -1 when none does; ``ext`` [N, L, D]: the assigned extents, 1 for the
        unassigned dimensions."""
        out = {}
        for ti, k in self.keepers:
            limit = self.cap[k] // self.bits[k][ti]
            base = ext[:, k, :]
            idx = np.empty((len(ext), len(U)), dtype=np.int64)
            for j, di in enumerate(U):
                vals = self.vals[(di, k)]
                e = np.repeat(base[:, None, :], len(vals), axis=1)  # [N, V, D]
                e[:, :, di] = vals[None]
                ok = (self._tile(ti, e.reshape(-1, e.shape[2])) <= limit).reshape(len(ext), -1)
                idx[:, j] = ok.sum(axis=1) - 1  # tiles grow with the extent: a prefix fits
            out[(ti, k)] = idx
        return out

    def bound(self, U, pos_a: np.ndarray, neg_a: np.ndarray, pos_u: np.ndarray,
              neg_u: np.ndarray, ext: np.ndarray, ce: np.ndarray) -> np.ndarray:
        """[N]: the energy bound of the subtrees with assigned column products ``pos_a``,
        ``neg_a`` [N, ...], unassigned products ``pos_u``, ``neg_u`` (rule J's, or the
        plain minima), assigned extents ``ext`` [N, L, D] (1 for ``U``) and B7 extents
        ``ce``: each tensor's chains priced with the rows that fit their keepers."""
        bd = self.bd
        U = list(U)
        N = len(pos_a)
        fits = self.fits(U, ext) if U else {}
        energy = bd.fixed_energy(pos_a * pos_u)
        for ti in range(len(bd.workload.tensors)):
            best = np.full(N, np.inf)
            for ch in bd.chains[ti]:
                p = np.ones((N, bd.n_pos))  # the chain's restricted minima over U
                q = np.ones((N, bd.n_neg))
                dead = np.zeros(N, dtype=bool)
                for j, di in enumerate(U):
                    pd, qd = bd.pos_min[di][None], bd.neg_max[di][None]
                    for k in ch:
                        if (ti, k) in fits:
                            i = fits[(ti, k)][:, j]
                            dead |= i < 0
                            i = np.maximum(i, 0)
                            pd = np.maximum(pd, self.pmin[(di, k)][i])
                            qd = np.minimum(qd, self.nmax[(di, k)][i])
                    p, q = p * pd, q * qd
                p = np.maximum(p, pos_u)  # rule J's floor holds for every row too
                q = np.minimum(q, neg_u)
                e = bd.chain_energy(ti, ch, pos_a * p, neg_a * q, ce=ce)
                best = np.minimum(best, np.where(dead, np.inf, e))
            energy = energy + best
        return energy * SAFETY
