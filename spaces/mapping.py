"""Mappings: per storage level, temporal loops and spatial X/Y loops, keep/bypass per tensor.

Loop orders are stored and printed **outermost first**. Within one level the temporal
loops sit outside its spatial loops; spatial loops fan out from that level to the next
level down (Timeloop's convention). Timeloop's innermost-first permutation strings are
converted only at the Timeloop boundary (``loopscape.spaces.io.timeloop``). The rules a
legal mapping obeys live in ``spaces/legality.py`` (re-exported here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .legality import check_mapping, mapping_problems, tile_box
from .workload import Workload

__all__ = ["LevelMapping", "Loop", "Mapping", "check_mapping", "mapping_problems", "tile_box",
           "tile_words"]


@dataclass(frozen=True)
class Loop:
    """One loop: ``factor`` iterations (its end); with ``residual`` set, the loop runs
    only ``residual`` iterations on the last pass of every enclosing loop of the same
    dimension (imperfect factorization, Timeloop's ``P=4,3``; docs/semantics.md).
    ``residual`` None (or equal to ``factor``) is a perfect loop."""

    dim: str
    factor: int
    residual: int | None = None

    def __post_init__(self) -> None:
        if self.residual is not None and self.residual == self.factor:
            object.__setattr__(self, "residual", None)

    @property
    def last(self) -> int:
        """Iterations on the last pass of the enclosing same-dimension loops."""
        return self.factor if self.residual is None else self.residual

    @property
    def imperfect(self) -> bool:
        return self.residual is not None


@dataclass(frozen=True)
class LevelMapping:
    """Loops assigned to one storage level and the tensors it keeps."""

    target: str
    temporal: tuple[Loop, ...] = ()  # outermost first
    spatial_x: tuple[Loop, ...] = ()  # outermost first
    spatial_y: tuple[Loop, ...] = ()
    keep: tuple[str, ...] = ()

    @property
    def spatial(self) -> tuple[Loop, ...]:
        """Spatial loops outermost first (Y loops sit outside X loops)."""
        return self.spatial_y + self.spatial_x

    def factor(self, dim: str, kind: str = "all") -> int:
        """Product of this level's factors of ``dim`` (kind: temporal, spatial or all)."""
        loops: tuple[Loop, ...]
        if kind == "temporal":
            loops = self.temporal
        elif kind == "spatial":
            loops = self.spatial
        else:
            loops = self.temporal + self.spatial
        return math.prod(l.factor for l in loops if l.dim == dim)


@dataclass(frozen=True)
class Mapping:
    """One LevelMapping per architecture storage level, outermost first."""

    levels: tuple[LevelMapping, ...]

    @property
    def imperfect(self) -> bool:
        """True when some loop has a residual (imperfect factorization)."""
        return any(l.imperfect for lm in self.levels for l in lm.temporal + lm.spatial)

    def level(self, name: str) -> LevelMapping:
        for l in self.levels:
            if l.target == name:
                return l
        raise KeyError(name)

    def keeps(self, i: int, tensor: str) -> bool:
        return tensor in self.levels[i].keep


def tile_words(workload: Workload, mapping: Mapping, i: int, tensor: str) -> int:
    """Words of ``tensor`` in one instance's tile at level ``i``."""
    return workload.tensor(tensor).size(tile_box(mapping, i, workload.dims))
