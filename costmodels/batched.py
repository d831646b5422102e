"""Batched evaluator: N mappings of one layer on one architecture at once, with numpy.

It computes the same quantities as the scalar evaluator (``evaluate``), which stays the
readable reference and against which this module is tested field by field. The refetch
rule of docs/semantics.md under Timeloop's schedule has a closed form: with the non-unit
temporal loops above a tile ordered outermost first (factors ``N_j``, translations
``tau_j``, the innermost one ``k``), every step of loop ``j`` moves the tile by
``w_j = tau_j - sum_{i>j} tau_i``, the state before each step is ``tau_k``, so

    fetched = size * prod(N) - overlap(tau_k) * sum_{j : w_j == tau_k} P_j * (N_j - 1)

where ``P_j`` is the product of the factors outside loop ``j``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.workload import Workload


@dataclass(frozen=True)
class BatchResult:
    """Arrays over the N rows. Access counts are per instance, [N, L, T]."""

    energy_pj: np.ndarray  # [N]
    cycles: np.ndarray  # [N] int
    compute_cycles: np.ndarray  # [N] int
    utilization: np.ndarray  # [N]
    utilized_pes: np.ndarray  # [N] int
    tile_words: np.ndarray  # [N, L, T]
    partition_words: np.ndarray
    reads: np.ndarray
    fills: np.ndarray
    updates: np.ndarray
    kept: np.ndarray  # [N, L, T] bool
    level_energy_pj: np.ndarray  # [N, L] including leakage
    tensor_energy_pj: np.ndarray  # [N, L, T] all utilized instances
    leak_energy_pj: np.ndarray  # [N, L]
    utilized_instances: np.ndarray  # [N, L]

    @property
    def edp(self) -> np.ndarray:
        return self.energy_pj * 1e-12 * self.cycles


class BatchEvaluator:
    """Precomputes what depends only on (layer, architecture); ``__call__`` scores batches."""

    def __init__(self, workload: Workload, arch: Architecture):
        self.workload = workload
        self.arch = arch
        D = len(workload.dims)
        self.coef = []  # per tensor: [A, D] coefficient matrix
        for t in workload.tensors:
            m = np.zeros((len(t.axes), D), dtype=np.int64)
            for a, axis in enumerate(t.axes):
                for c, d in axis:
                    m[a, workload.dims.index(d)] += c
            self.coef.append(m)
        self.read_write = np.array([t.read_write for t in workload.tensors])
        L = len(arch.levels)
        T = len(workload.tensors)
        self.block = np.array([[lvl.block_words(t) for t in workload.tensor_names]
                               for lvl in arch.levels], dtype=np.int64)  # [L, T]
        self.e_read = np.array([l.read_energy_pj for l in arch.levels])
        self.e_fill = np.array([l.fill_energy_pj for l in arch.levels])
        self.e_update = np.array([l.update_energy_pj for l in arch.levels])
        self.e_leak = np.array([l.leak_energy_pj for l in arch.levels])
        self.bw = [(l.read_bandwidth, l.write_bandwidth, l.shared_bandwidth) for l in arch.levels]
        self.L, self.D, self.T = L, D, T

    # -- helpers -----------------------------------------------------------------------
    def _extents(self, t: int, box: np.ndarray) -> np.ndarray:
        """Per-axis tile extents [..., A] of tensor t for boxes [..., D]."""
        return (box - 1) @ np.abs(self.coef[t]).T + 1

    def _distinct(self, t: int, spatial: np.ndarray, below: np.ndarray) -> np.ndarray:
        """Distinct child origins [N] of tensor t for one level's spatial factors [N, D]."""
        coef = self.coef[t]
        relevant = (spatial > 1) & (np.abs(coef).sum(axis=0) > 0)[None, :]
        g = np.where(relevant, spatial, 1).prod(axis=1)
        # Rows where one tensor axis is moved by two relevant spatial loops can have
        # coinciding origins (e.g. P and R both spatial for a sliding window).
        per_axis = relevant[:, None, :] & (coef != 0)[None, :, :]
        clash = (per_axis.sum(axis=2) >= 2).any(axis=1)
        for r in np.nonzero(clash)[0]:
            loops = tuple((int(spatial[r, d]), tuple(int(x) for x in coef[:, d] * below[r, d]))
                          for d in range(self.D) if relevant[r, d])
            g[r] = _count_origins(loops)
        return g

    # -- main ---------------------------------------------------------------------------
    def __call__(self, b: MappingBatch) -> BatchResult:
        N, L, D, T = len(b), self.L, self.D, self.T
        spatial = b.spatial_x * b.spatial_y  # [N, L, D]
        total = b.temporal * spatial
        # below[:, i, d]: product of factors at levels deeper than i.
        incl = np.flip(np.cumprod(np.flip(total, axis=1), axis=1), axis=1)  # levels >= i
        below = np.concatenate([incl[:, 1:], np.ones((N, 1, D), dtype=np.int64)], axis=1)
        sp_level = spatial.prod(axis=2)  # [N, L]
        inst = np.concatenate([np.ones((N, 1), dtype=np.int64),
                               np.cumprod(sp_level, axis=1)[:, :-1]], axis=1)
        pes = sp_level.prod(axis=1)
        cc = b.temporal.reshape(N, -1).prod(axis=1)

        # Temporal loops of all levels, outermost first: sort by (level, rank).
        key = (np.arange(L)[None, :, None] * D + b.rank).reshape(N, L * D)
        order = np.argsort(key, axis=1, kind="stable")
        loop_level = order // D
        loop_dim = order % D
        rows = np.arange(N)[:, None]
        nf = b.temporal.reshape(N, L * D)[rows, order]  # factors in nest order
        step = (below * spatial).reshape(N, L * D)[rows, order]
        nonunit = nf > 1
        prefix = np.concatenate([np.ones((N, 1), dtype=np.int64),
                                 np.cumprod(nf, axis=1)[:, :-1]], axis=1)  # P_j
        weight = prefix * (nf - 1)  # P_j (N_j - 1); zero for unit loops

        tile = np.zeros((N, L, T), dtype=np.int64)
        share = np.zeros((N, L, T), dtype=np.int64)
        groups = np.zeros((N, L, T), dtype=np.int64)
        spatial_ws = np.zeros((N, L, T), dtype=np.int64)
        for t in range(T):
            coef = self.coef[t]
            ext = self._extents(t, incl)  # [N, L, A]
            tile[:, :, t] = ext.prod(axis=2)
            # Translations of every loop for this tensor: [N, M, A].
            tau = coef.T[loop_dim] * step[:, :, None]
            tau = np.where(nonunit[:, :, None], tau, 0)
            csum = np.concatenate([np.zeros((N, 1, tau.shape[2]), dtype=np.int64),
                                   np.cumsum(tau, axis=1)], axis=1)  # exclusive prefix sums
            idx = np.arange(L * D)[None, :]
            for c in range(1, L):
                m = c * D  # loops above child c are the first m in nest order
                in_prefix = idx < m
                nu = nonunit & in_prefix
                has = nu.any(axis=1)
                k = np.where(has, m - 1 - np.argmax(nu[:, :m][:, ::-1], axis=1), 0)
                tau_k = tau[np.arange(N), k]  # [N, A]
                w = tau - (csum[:, m:m + 1, :] - csum[:, 1:, :])  # w_j for j in prefix
                cond = nu & (w == tau_k[:, None, :]).all(axis=2) & has[:, None]
                e = ext[:, c, :]
                ov = np.clip(e - np.abs(tau_k), 0, None).prod(axis=1)
                prod_all = np.where(in_prefix, nf, 1).prod(axis=1)
                saved = (np.where(cond, weight, 0)).sum(axis=1)
                share[:, c, t] = tile[:, c, t] * prod_all - np.where(has, ov, 0) * saved
            for i in range(L):
                groups[:, i, t] = self._distinct(t, spatial[:, i], below[:, i])
                sw_box = below[:, i] * spatial[:, i]
                spatial_ws[:, i, t] = self._extents(t, sw_box).prod(axis=1)

        # Served words, bypass, partitions, and the read/fill/update split.
        content = np.empty_like(share)
        content[:, :-1] = share[:, 1:] * groups[:, :-1]
        content[:, -1] = cc[:, None] * groups[:, -1]
        served = content.copy()
        for i in range(L - 2, -1, -1):
            served[:, i] = np.where(b.keep[:, i + 1], content[:, i], groups[:, i] * served[:, i + 1])
        partition = np.empty_like(tile)
        partition[:, 0] = tile[:, 0]
        for i in range(L - 1):
            has_sp = (sp_level[:, i] > 1)[:, None]
            partition[:, i + 1] = np.where(has_sp, partition[:, i] * tile[:, i + 1]
                                           // spatial_ws[:, i], partition[:, i])
        kept = b.keep.astype(bool)
        above_kept = np.concatenate([np.zeros((N, 1, T), dtype=bool),
                                     np.cumsum(kept, axis=1)[:, :-1] > 0], axis=1)
        rw = self.read_write[None, None, :]
        updates = np.where(rw, served, 0)
        reads = np.where(rw, served - partition, served)
        fills = np.where(above_kept, np.where(rw, share - partition, share), 0)
        reads = np.where(kept, reads, 0)
        fills = np.where(kept, fills, 0)
        updates = np.where(kept, updates, 0)

        # Bandwidth and cycles (same floating-point order as the scalar evaluator).
        ccf = cc.astype(np.float64)
        slow = np.ones((N, L))
        for i, (rbw, wbw, sbw) in enumerate(self.bw):
            rd = np.zeros(N)
            wr = np.zeros(N)
            for t in range(T):
                rd = rd + np.where(kept[:, i, t], reads[:, i, t] / ccf, 0.0)
                wr = wr + np.where(kept[:, i, t], (fills[:, i, t] + updates[:, i, t]) / ccf, 0.0)
            s = np.ones(N)
            if rbw is not None:
                s = np.where(rbw < rd, np.minimum(s, rbw / np.where(rd > 0, rd, 1)), s)
            if wbw is not None:
                s = np.where(wbw < wr, np.minimum(s, wbw / np.where(wr > 0, wr, 1)), s)
            if sbw is not None:
                tot = rd + wr
                s = np.where(sbw < tot, np.minimum(s, sbw / np.where(tot > 0, tot, 1)), s)
            slow[:, i] = s
        level_cycles = np.ceil(ccf[:, None] / slow).astype(np.int64)
        cycles = np.maximum(cc, level_cycles.max(axis=1))

        blk = self.block[None]
        per_inst = (np.ceil(reads / blk) * self.e_read[None, :, None]
                    + np.ceil(fills / blk) * self.e_fill[None, :, None]
                    + np.ceil(updates / blk) * self.e_update[None, :, None])
        tensor_energy = per_inst * inst[:, :, None]
        leak = self.e_leak[None, :] * cycles[:, None] * inst
        level_energy = tensor_energy.sum(axis=2) + leak
        macs = self.workload.macs
        energy = macs * self.arch.compute.energy_pj + level_energy.sum(axis=1)
        util = macs / (self.arch.compute.instances * cycles)
        return BatchResult(energy, cycles, cc, util, pes, np.where(kept, tile, 0),
                           np.where(kept, partition, 0), reads, fills, updates, kept,
                           level_energy, tensor_energy, leak, inst)


@lru_cache(maxsize=4096)
def _count_origins(loops: tuple[tuple[int, tuple[int, ...]], ...]) -> int:
    origins = {tuple(0 for _ in loops[0][1])}
    for f, st in loops:
        origins = {tuple(o + i * x for o, x in zip(orig, st)) for orig in origins
                   for i in range(f)}
    return len(origins)


def evaluate_batch(workload: Workload, arch: Architecture, batch: MappingBatch) -> BatchResult:
    """Score every row of ``batch`` (assumed legal; see ``spaces.mapping.check_mapping``)."""
    return BatchEvaluator(workload, arch)(batch)

