"""N mappings of one layer on one architecture as integer arrays (the batched form).

Rows are mappings; for ``L`` storage levels, ``D`` dimensions and ``T`` tensors:

* ``temporal[N, L, D]``: temporal factor of each dimension at each level (1 = no loop);
* ``spatial_x[N, L, D]`` / ``spatial_y[N, L, D]``: spatial factors on each mesh axis;
* ``rank[N, L, D]``: position of each dimension's temporal loop within its level,
  0 = outermost (unit loops may take any rank: they carry nothing);
* ``keep[N, L, T]``: whether each level keeps each tensor.

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

    def __len__(self) -> int:
        return int(self.temporal.shape[0])

    def row(self, i: int) -> "MappingBatch":
        s = slice(i, i + 1)
        return MappingBatch(self.temporal[s], self.spatial_x[s], self.spatial_y[s], self.rank[s],
                            self.keep[s])

    def take(self, rows) -> "MappingBatch":
        """The rows ``rows`` (indices or a mask), as a new batch."""
        return MappingBatch(self.temporal[rows], self.spatial_x[rows], self.spatial_y[rows],
                            self.rank[rows], self.keep[rows])

    @staticmethod
    def concat(batches: list["MappingBatch"]) -> "MappingBatch":
        return MappingBatch(*(np.concatenate([getattr(b, f) for b in batches])
                              for f in ("temporal", "spatial_x", "spatial_y", "rank", "keep")))


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
    return MappingBatch(temporal, sx, sy, rank, keep)


def decode(workload: Workload, arch: Architecture, batch: MappingBatch, row: int) -> Mapping:
    """The Mapping object of one row (unit loops dropped)."""
    dims = workload.dims
    levels = []
    for i, lvl in enumerate(arch.levels):
        order = np.argsort(batch.rank[row, i], kind="stable")
        temporal = tuple(Loop(dims[d], int(batch.temporal[row, i, d])) for d in order
                         if batch.temporal[row, i, d] > 1)
        sx = tuple(Loop(dims[d], int(batch.spatial_x[row, i, d])) for d in range(len(dims))
                   if batch.spatial_x[row, i, d] > 1)
        sy = tuple(Loop(dims[d], int(batch.spatial_y[row, i, d])) for d in range(len(dims))
                   if batch.spatial_y[row, i, d] > 1)
        keep = tuple(t for k, t in enumerate(workload.tensor_names) if batch.keep[row, i, k])
        levels.append(LevelMapping(lvl.name, temporal, sx, sy, keep))
    return Mapping(tuple(levels))
