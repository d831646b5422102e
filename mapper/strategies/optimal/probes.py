"""Rule ``order_bound``: one scored mapping per (outermost-level loop order, keep choice)
of each tiling bounds every mapping sharing them (docs/optimal.md).

For a tensor that level 1 keeps, the outermost level's accesses and level 1's fills are
functions of ``share(1)`` (which depends only on the loops above level 1, i.e. the
outermost level's order) and of tiling-only multicast factors; they are read exactly
off the scored mapping. Every other term comes from the bounds B1-B6.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.costmodels.options import ModelOptions
from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.workload import Workload

from ...objectives import maximized, objective_values
from ...pareto import nondominated_mask
from .bounds import SAFETY, Bounder
from .orders import OrderTables, combo_count


class OrderProbe:
    def __init__(self, workload: Workload, arch: Architecture, bounder: Bounder,
                 orders: OrderTables, objectives: tuple[str, ...],
                 options: ModelOptions | None = None):
        self.wl, self.arch, self.bd, self.orders = workload, arch, bounder, orders
        self.objectives = objectives
        self.evaluator = BatchEvaluator(workload, arch, options=options)  # the search's model
        # The terms read off a probe (outermost-level energies, level 1's fills) are ones
        # link transfers never change (``top`` below): under links the probes are scored
        # without them (much cheaper), and only the probes on that batch's own front are
        # scored again with links before they join the incumbent (docs/optimal.md).
        self.linked = options is None or options.link_transfers
        self.plain = BatchEvaluator(workload, arch, options=replace(
            options or ModelOptions(), link_transfers=False)) if self.linked else self.evaluator
        self.scored = 0  # probes scored so far (certificate: ``probes``)

    def base_energy(self, rec) -> float:
        """MAC energy and leakage at the compute cycles (B1, B2)."""
        return float(self.bd.fixed_energy(rec[7][None])[0])

    def base_energies(self, pos: np.ndarray) -> np.ndarray:
        """[N]: ``base_energy`` of tilings with bound columns ``pos`` [N, n_pos]."""
        return self.bd.fixed_energy(pos)

    def __call__(self, group: list) -> tuple[list, list, np.ndarray]:
        """Per (tiling record, order tables) of ``group``: energy lower bounds [n0, n_keeps]
        (None when the tiling has a single outermost order or nothing deeper to order),
        the exact terms read off the probes (``(exact [n0, n_keeps], top [n_keeps, T])``:
        their energy and which tensors' terms they are; None likewise), and the
        objective values of every scored mapping (user orientation)."""
        out: list = [None] * len(group)
        exact_out: list = [None] * len(group)
        spans = []
        for g, (rec, tables) in enumerate(group):
            n0, nk = len(tables[0][0]), len(rec[4])
            if n0 < 2 or combo_count(tables[1:]) < 2 or len(self.arch.levels) < 2:
                continue
            spans.append((g, n0 * nk))
        if not spans:
            return out, exact_out, np.empty((0, len(self.objectives)))
        batch = self._rows([group[g] for g, _ in spans])
        self.scored += len(batch)
        res = self.plain(batch)
        # B7 with each probed outermost order (runs.py), all tilings of the group at once
        probed = [group[g] for g, _ in spans]
        ce_all = self.bd.tiling_extents(
            np.concatenate([np.repeat(rec[1][None], len(tb[0][0]), axis=0) for rec, tb in probed]),
            np.concatenate([np.repeat(rec[10][None], len(tb[0][0]), axis=0) for rec, tb in probed]),
            order0=np.concatenate([tb[0][1] for _, tb in probed]))
        lvl1 = self.arch.levels[1]
        tensors = self.wl.tensors
        fill1 = np.zeros((len(batch), len(tensors)))
        for ti, tensor in enumerate(tensors):
            fill1[:, ti] = np.where(
                batch.keep[:, 1, ti], np.ceil(res.fills[:, 1, ti] / lvl1.block_words(tensor.name))
                * lvl1.fill_energy_pj * lvl1.utilized_clusters(res.utilized_instances[:, 1]), 0.0)
        exact = (res.tensor_energy_pj[:, 0, :] + fill1) * SAFETY  # [rows, T]
        # Which (tensor, chain) terms each (tiling, keep choice) needs; each term is then
        # bounded once for all the tilings of the group that need it (one call per term).
        plan = []  # per span: (n0, nk, row slice, ce rows, top [nk, T], keys [nk][T])
        users: dict = {}  # (tensor, chain) -> spans using it
        start = ce_start = 0
        for s, (g, n) in enumerate(spans):
            rec, tables = group[g]
            n0, nk = len(tables[0][0]), len(rec[4])
            kp = batch.keep[start:start + n]
            top = np.zeros((nk, len(tensors)), dtype=bool)
            keys = []
            for k in range(nk):
                row = []
                for ti in range(len(tensors)):
                    chain = tuple(np.nonzero(kp[k, :, ti])[0].tolist())
                    top[k, ti] = self._exact_top(ti, chain)
                    key = (ti, chain)
                    row.append(key)
                    spans_of = users.setdefault(key, [])
                    if not spans_of or spans_of[-1] != s:
                        spans_of.append(s)
                keys.append(row)
            plan.append((n0, nk, slice(start, start + n), slice(ce_start, ce_start + n0),
                         top, keys))
            start += n
            ce_start += n0
        pos_rows = np.repeat(np.stack([group[g][0][7] for g, _ in spans]),
                             [p[0] for p in plan], axis=0)
        neg_rows = np.repeat(np.stack([group[g][0][8] for g, _ in spans]),
                             [p[0] for p in plan], axis=0)
        terms: dict = {}  # (tensor, chain) -> {span: its n0 energies}
        for (ti, chain), used in users.items():
            idx = np.concatenate([np.arange(plan[s][3].start, plan[s][3].stop) for s in used])
            e = self.bd.chain_energy(ti, chain, pos_rows[idx], neg_rows[idx],
                                     skip_top=self._exact_top(ti, chain), ce=ce_all[idx])
            at, parts = 0, {}
            for s in used:
                parts[s] = e[at:at + plan[s][0]]
                at += plan[s][0]
            terms[(ti, chain)] = parts
        for s, (g, _) in enumerate(spans):
            rec = group[g][0]
            n0, nk, rows, _, top, keys = plan[s]
            # Rows run over (order, keep), keep-minor: row k (< nk) has keep choice k.
            per_keep = np.full((n0, nk), self.base_energy(rec))
            for k in range(nk):
                for key in keys[k]:
                    per_keep[:, k] += terms[key][s]
            ex = (exact[rows].reshape(n0, nk, -1) * top[None]).sum(axis=2)
            out[g] = per_keep * SAFETY + ex
            exact_out[g] = (ex, top)
        values = objective_values(self.objectives, res, self.arch)
        if self.linked:
            values = self._rescored(batch, values)
        return out, exact_out, values

    def _exact_top(self, ti: int, chain: tuple[int, ...]) -> bool:
        """Whether tensor ``ti``'s outermost accesses and level 1's fills are read off the
        probe: level 1 keeps it, and no link can change them (read-only tensors through a
        fanout of the outermost level: bounds.py, linkless)."""
        return len(chain) > 1 and chain[1] == 1 and \
            (self.wl.tensors[ti].read_write or self.bd.linkless(0, 1))

    def _rows(self, probed: list) -> MappingBatch:
        """Every probe of the tilings ``probed``, tiling by tiling, (outermost order,
        keep choice) keep-minor: the outermost level in each of its orders, every deeper
        level in its first canonical order (the rows ``materialize`` gives for the ids
        ``order x deeper x n_keeps + keep``)."""
        reps = np.array([len(tb[0][0]) * len(rec[4]) for rec, tb in probed])
        t, sx, sy = (np.repeat(np.stack([rec[j] for rec, _ in probed]), reps, axis=0)
                     for j in (1, 2, 3))
        ranks = []
        for rec, tables in probed:
            n0 = len(tables[0][0])
            rk = np.empty((n0, len(tables), tables[0][1].shape[1]), dtype=np.int64)
            rk[:, 0] = tables[0][1]
            for i in range(1, len(tables)):
                rk[:, i] = tables[i][1][0]
            ranks.append(np.repeat(rk, len(rec[4]), axis=0))
        by = np.concatenate([np.tile(rec[4], len(tb[0][0])) for rec, tb in probed])
        return MappingBatch(t, sx, sy, np.concatenate(ranks), self.orders.keep_sets[by])

    def _rescored(self, batch: MappingBatch, values: np.ndarray) -> np.ndarray:
        """The search's model (links on) on the probes that are on the front of their
        link-free values: true values of real mappings, so the incumbent stays sound."""
        signs = np.array([-1.0 if o in maximized(self.objectives) else 1.0
                          for o in self.objectives])
        rows = np.nonzero(nondominated_mask(values * signs))[0]
        return objective_values(self.objectives, self.evaluator(batch.take(rows)), self.arch)
