"""Batched sparse evaluation: the dense batched evaluator's algorithmic counts (numpy,
all rows at once), then the sparse layer of ``sparse_eval`` per row. Returns the same
``BatchResult`` as the dense evaluator, with reads/fills/updates the actual counts, so
objectives, strategies and the search loop use it unchanged. A row the sparse model
rejects (a compressed tile split by more loops than its format has ranks) gets infinite
energy and cycles, so it never reaches a Pareto front."""

from __future__ import annotations

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.errors import MappingError
from loopscape.spaces.sparsity import SparsitySpec
from loopscape.spaces.workload import Workload

from .batched import BatchEvaluator, BatchResult
from .nest import NestAnalysis, TensorTraffic, analyze
from .options import ModelOptions
from .sparse_eval import sparse_from_nest, sparse_model_options


class SparseBatchEvaluator:
    """Callable on a MappingBatch, like BatchEvaluator."""

    def __init__(self, workload: Workload, arch: Architecture, sparsity: SparsitySpec,
                 options: ModelOptions | None = None):
        self.workload, self.arch, self.sparsity = workload, arch, sparsity
        self.options = sparse_model_options(options)
        self.dense = BatchEvaluator(workload, arch, options=self.options)
        # Priced link words are not in the batched counts: those rows take the scalar nest.
        self.scalar_nest = self.options.link_transfers and any(
            l.link_energy_pj for l in arch.levels)

    def __call__(self, batch: MappingBatch) -> BatchResult:
        w, a = self.workload, self.arch
        d = self.dense(batch)
        n, L, T = d.reads.shape
        names = w.tensor_names
        energy = np.empty(n)
        cycles = np.empty(n, dtype=np.int64)
        ccyc = np.empty(n, dtype=np.int64)
        util = np.empty(n)
        reads, fills, updates = (np.zeros((n, L, T), dtype=np.int64) for _ in range(3))
        tensor_e = np.zeros((n, L, T))
        level_e = np.zeros((n, L))
        leak = np.zeros((n, L))
        for r in range(n):
            traffic = tuple(
                {names[t]: TensorTraffic(int(d.tile_words[r, i, t]), int(d.partition_words[r, i, t]),
                                         int(d.reads[r, i, t]), int(d.fills[r, i, t]),
                                         int(d.updates[r, i, t]), True)
                 for t in range(T) if d.kept[r, i, t]} for i in range(L))
            nest = NestAnalysis(traffic, tuple(int(x) for x in d.utilized_instances[r]),
                                int(d.utilized_pes[r]), int(d.compute_cycles[r]), w.macs)
            m = decode(w, a, batch, r)
            if self.scalar_nest:
                nest = analyze(w, a, m, options=self.options)
            try:
                ev, _ = sparse_from_nest(w, a, m, self.sparsity, nest,
                                         link_transfers=self.options.link_transfers)
            except MappingError:  # e.g. a compressed tile split by more loops than ranks
                energy[r], cycles[r], ccyc[r], util[r] = np.inf, np.iinfo(np.int64).max, 0, 0.0
                level_e[r] = np.inf
                continue
            energy[r], cycles[r], ccyc[r], util[r] = (ev.energy_pj, ev.cycles,
                                                      ev.compute_cycles, ev.utilization)
            for i, lvl in enumerate(a.levels):
                lv = ev.levels[lvl.name]
                level_e[r, i] = lv["energy_pj"]
                leak[r, i] = lv["leak_energy_pj"]
                for t, tn in enumerate(names):
                    s = lv.get(tn)
                    if isinstance(s, dict):
                        reads[r, i, t], fills[r, i, t], updates[r, i, t] = (
                            s["reads"], s["fills"], s["updates"])
                        tensor_e[r, i, t] = s["energy_pj"]
        return BatchResult(energy, cycles, ccyc, util, d.utilized_pes, d.tile_words,
                           d.partition_words, reads, fills, updates, d.kept, level_e,
                           tensor_e, leak, d.utilized_instances)


def make_batch_evaluator(workload: Workload, arch: Architecture,
                         sparsity: SparsitySpec | None, options: ModelOptions | None = None):
    """The dense BatchEvaluator, or the sparse one when a sparsity spec is given."""
    if sparsity is None:
        return BatchEvaluator(workload, arch, options=options)
    return SparseBatchEvaluator(workload, arch, sparsity, options)
