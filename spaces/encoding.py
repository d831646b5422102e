"""N mappings of one layer on one architecture as integer arrays (the batched form).

Rows are mappings; for ``L`` storage levels, ``D`` dimensions and ``T`` tensors:

* ``temporal[N, L, D]``: temporal factor of each dimension at each level (1 = no loop);
* ``spatial_x[N, L, D]`` / ``spatial_y[N, L, D]``: spatial factors on each mesh axis;
* ``rank[N, L, D]``: position of each dimension's temporal loop within its level,
  0 = outermost (unit loops may take any rank: they carry nothing);
* ``keep[N, L, T]``: whether each level keeps each tensor;
* ``residual[N, 3, L, D]`` (None when no row has a residual loop): the residual of the
  temporal / spatial X / spatial Y loop of each dimension at each level, 0 for a
  perfect loop (docs/semantics.md, residual loops).

Spatial loop order within one axis is not encoded: it changes no access count in the
model (docs/semantics.md); rows decode with Y loops, then X loops, each in dimension order.

``encode`` makes int64 arrays, row-major. Any integer dtypes and strides are valid: the
batched sampler (``Mapspace.sample_batch``) makes int32 factors and int8 ranks stored
level-major (views of [L, D, N] arrays, so each (level, dimension) column is contiguous,
which the batched evaluator reads fastest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arch import Architecture
from .mapping import LevelMapping, Loop, Mapping
from .workload import Workload


@dataclass(frozen=True)
class MappingBatch:
    temporal: np.ndarray
    spatial_x: np.ndarray
    spatial_y: np.ndarray
    rank: np.ndarray
    keep: np.ndarray
    residual: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.temporal.shape[0])

    def row(self, i: int) -> "MappingBatch":
        return self.take(slice(i, i + 1))

    def take(self, rows) -> "MappingBatch":
        """The rows ``rows`` (indices or a mask), as a new batch."""
        return MappingBatch(self.temporal[rows], self.spatial_x[rows], self.spatial_y[rows],
                            self.rank[rows], self.keep[rows],
                            None if self.residual is None else self.residual[rows])

    @property
    def imperfect_rows(self) -> np.ndarray:
        """Indices of the rows with a residual loop."""
        if self.residual is None:
            return np.zeros(0, dtype=np.int64)
        return np.nonzero((self.residual.reshape(len(self), -1) > 0).any(axis=1))[0]

    @staticmethod
    def concat(batches: list["MappingBatch"]) -> "MappingBatch":
        parts = [np.concatenate([getattr(b, f) for b in batches])
                 for f in ("temporal", "spatial_x", "spatial_y", "rank", "keep")]
        residual = None
        if any(b.residual is not None for b in batches):
            residual = np.concatenate([
                b.residual if b.residual is not None else
                np.zeros((len(b), 3) + b.temporal.shape[1:], dtype=np.int64) for b in batches])
        return MappingBatch(*parts, residual)


def encode(workload: Workload, arch: Architecture, mappings: list[Mapping]) -> MappingBatch:
    """Arrays for a list of mappings (all of ``workload`` on ``arch``)."""
    n, L, D, T = len(mappings), len(arch.levels), len(workload.dims), len(workload.tensors)
    dim_index = {d: i for i, d in enumerate(workload.dims)}
    t_index = {t: i for i, t in enumerate(workload.tensor_names)}
    temporal = np.ones((n, L, D), dtype=np.int64)
    sx = np.ones((n, L, D), dtype=np.int64)
    sy = np.ones((n, L, D), dtype=np.int64)
    rank = np.zeros((n, L, D), dtype=np.int64)
    keep = np.zeros((n, L, T), dtype=bool)
    for r, m in enumerate(mappings):
        for i, lm in enumerate(m.levels):
            placed = []
            for pos, loop in enumerate(lm.temporal):
                d = dim_index[loop.dim]
                temporal[r, i, d] *= loop.factor
                placed.append(d)
            rest = [d for d in range(D) if d not in placed]
            for pos, d in enumerate(placed + rest):
                rank[r, i, d] = pos
            for loop in lm.spatial_x:
                sx[r, i, dim_index[loop.dim]] *= loop.factor
            for loop in lm.spatial_y:
                sy[r, i, dim_index[loop.dim]] *= loop.factor
            for t in lm.keep:
                keep[r, i, t_index[t]] = True
    residual = None
    if any(m.imperfect for m in mappings):
        residual = np.zeros((n, 3, L, D), dtype=np.int64)
        for r, m in enumerate(mappings):
            for i, lm in enumerate(m.levels):
                for k, loops in enumerate((lm.temporal, lm.spatial_x, lm.spatial_y)):
                    for loop in loops:
                        if loop.imperfect:
                            residual[r, k, i, dim_index[loop.dim]] = loop.residual
    return MappingBatch(temporal, sx, sy, rank, keep, residual)


def decode(workload: Workload, arch: Architecture, batch: MappingBatch, row: int) -> Mapping:
    """The Mapping object of one row (unit loops dropped)."""
    dims = workload.dims
    levels = []
    for i, lvl in enumerate(arch.levels):
        order = np.argsort(batch.rank[row, i], kind="stable")
        def res(k: int, d: int) -> int | None:
            r = 0 if batch.residual is None else int(batch.residual[row, k, i, d])
            return r or None
        temporal = tuple(Loop(dims[d], int(batch.temporal[row, i, d]), res(0, d))
                         for d in order if batch.temporal[row, i, d] > 1)
        sx = tuple(Loop(dims[d], int(batch.spatial_x[row, i, d]), res(1, d))
                   for d in range(len(dims)) if batch.spatial_x[row, i, d] > 1)
        sy = tuple(Loop(dims[d], int(batch.spatial_y[row, i, d]), res(2, d))
                   for d in range(len(dims)) if batch.spatial_y[row, i, d] > 1)
        keep = tuple(t for k, t in enumerate(workload.tensor_names) if batch.keep[row, i, k])
        levels.append(LevelMapping(lvl.name, temporal, sx, sy, keep))
    return Mapping(tuple(levels))
