"""The per-tiling rules of ``optimal`` between a tiling's bound and its leaves' scores:
tiling_bound again and keep_bound on a group of pending tilings (pending.py),
order_bound (one probe per outermost order and keep choice) and leaf_bound (on whole
tilings before their probes, then on each leaf), as methods of the search
(docs/optimal.md). They read the search's incumbent and update its rule counts.
"""

from __future__ import annotations

import numpy as np

from .block_kernels import block_meshes
from .leaves import leaf_indices
from .orders import combo_count


class TilingRules:
    """Mixed into OptimalSearch: needs ``probe``, ``leaf``, ``bd``, ``orders``, ``removed``,
    ``leaf_bound``, ``signs``, ``T``, ``pending``, ``group``, ``meter``, ``perm`` and the
    search's bound helpers."""

    # -- rules order_bound and leaf_bound ---------------------------------------------------
    def _leaves(self, group: list) -> list:
        """Per (tiling, tables) of ``group`` with leaves left: ``(rec, tables, leaves)``, the
        leaves (combo-major, keep-minor indices) past rules order_bound and leaf_bound
        (docs/optimal.md)."""
        energies, exacts, values = self.probe(group)
        self.probes = self.probe.scored
        if len(values):
            self._add_incumbent(values * self.signs)
        items = []
        for (rec, tables), energy, ex in zip(group, energies, exacts):
            nk, deeper = len(rec[4]), combo_count(tables[1:])
            mask = np.ones((len(tables[0][0]), nk), dtype=bool)
            if energy is not None:
                lb = self._lb_vec(energy.ravel(), np.full(energy.size, self._cycles(rec)))
                mask = ~self._dominated(lb).reshape(energy.shape)
                self.removed["order_bound"] += int((~mask).sum()) * deeper
            if mask.any():
                items.append((rec, tables, leaf_indices(mask, deeper), ex))
        if not self.leaf_bound:
            return [it[:3] for it in items]
        bounded = [(rec, tables, idx, self.probe.base_energy(rec)) +
                   (ex if ex is not None else (np.zeros((len(tables[0][0]), len(rec[4]))),
                                               np.zeros((len(rec[4]), self.T), dtype=bool)))
                   for rec, tables, idx, ex in items if len(idx) > 1]
        lbs = iter(self.leaf(bounded))
        out = []
        for rec, tables, idx, _ in items:
            if len(idx) > 1:
                e = next(lbs)
                dom = self._dominated(self._lb_vec(e, np.full(len(e), self._cycles(rec))))
                self.removed["leaf_bound"] += int(dom.sum())
                idx = idx[~dom]
            if len(idx):
                out.append((rec, tables, idx))
        return out

    def _least_leaf(self, group: list) -> list:
        """Rule leaf_bound on whole tilings before their probes: the least bound over a
        tiling's leaves (without the probe's terms) removes it or raises its bound.
        ``group``: (pending block, rows) parts; returns the records of the tilings left."""
        if not group:  # the re-check removed every tiling the group took
            return []

        def cat(name):
            return np.concatenate([getattr(blk, name)[rows] for blk, rows in group])
        temporal, pos, keep_ok = cat("temporal"), cat("P"), cat("keep_ok")
        base = self.probe.base_energies(pos)
        e = self.leaf.least_of(temporal, cat("ext"), pos, cat("Q"), keep_ok, base,
                               lambda t: self.orders.level_tables(temporal[t]))
        cycles = np.prod(temporal.reshape(len(temporal), -1),
                         axis=1).astype(float)  # as ``_cycles``, all at once
        lb = np.maximum(cat("lb"), self._lb_vec(e, cycles))
        dom = self._dominated(lb)
        left, at = [], 0
        for blk, rows in group:
            d = dom[at:at + len(rows)]
            self.removed["leaf_bound"] += blk.mappings(rows[d])
            left.append((blk, rows[~d], lb[at:at + len(rows)][~d]))
            at += len(rows)
        return self._records(left)

    def _records(self, parts: list) -> list:
        """The records of the tilings ``rows`` of each ``(block, rows, their bounds)``,
        with their meshes (formed here: only the tilings that reach their leaves)."""
        out = []
        for blk, rows, lb in parts:
            if len(rows):
                sx, sy = block_meshes(blk.full[rows], self.perm, self.bd.dim_tables)
                out += [blk.record(i, sx[n], sy[n], lb[n])
                        for n, i in enumerate(rows.tolist())]
        return out

    def _group(self) -> list:
        """The next group: up to ``group`` pending tilings past rules tiling_bound (again:
        the front may have improved) and keep_bound, as (block, rows) parts in order."""
        parts, n = [], 0
        while self.pending and n < self.group:
            blk = self.pending[0]
            rows = blk.take(self.group - n)
            if not len(blk):
                self.pending.popleft()
            self.meter.tilings += len(rows)
            gone = self._dominated(blk.lb[rows])
            self.removed["tiling_bound"] += blk.mappings(rows[gone])
            rows = rows[~gone]
            multi = blk.keep_ok[rows].sum(axis=1) > 1
            if multi.any():  # rule keep_bound (a tiling with one keep choice passes)
                out = np.ones(len(rows), dtype=bool)
                for k in np.nonzero(multi)[0].tolist():
                    rec = blk.record(int(rows[k]))
                    got = self._keep_bound(rec)
                    if got is None:
                        out[k] = False
                    elif len(got[4]) < len(rec[4]):
                        blk.narrow(int(rows[k]), got[4])
                rows = rows[out]
            if len(rows):
                parts.append((blk, rows))
                n += len(rows)
        return parts

    def _keep_bound(self, rec):
        """Rule keep_bound: each keep choice's own chains; the record without the
        dominated keep choices, or None when none is left."""
        if len(rec[4]) < 2:
            return rec
        e, _ = self.bd.bound(rec[7][None], rec[8][None], self.orders.keep_sets[rec[4]],
                             ce=rec[9][None])
        dom = self._dominated(self._lb_vec(e, np.full(len(e), self._cycles(rec))))
        if not dom.any():
            return rec
        self.removed["keep_bound"] += rec[6] * int(dom.sum())
        rec = rec[:4] + (rec[4][~dom],) + rec[5:]
        return rec if len(rec[4]) else None
