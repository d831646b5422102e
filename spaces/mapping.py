"""Mappings: per storage level, temporal loops and spatial X/Y loops, keep/bypass per tensor.

Loop orders are stored and printed **outermost first**. Within one level the temporal
loops sit outside its spatial loops; spatial loops fan out from that level to the next
level down (Timeloop's convention). Timeloop's innermost-first permutation strings are
converted only at the Timeloop boundary (``loopscape.spaces.io.timeloop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .arch import Architecture
from .errors import MappingError
from .workload import Workload


@dataclass(frozen=True)
class Loop:
    dim: str
    factor: int


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

    def level(self, name: str) -> LevelMapping:
        for l in self.levels:
            if l.target == name:
                return l
        raise KeyError(name)

    def keeps(self, i: int, tensor: str) -> bool:
        return tensor in self.levels[i].keep


def tile_box(mapping: Mapping, i: int, dims: tuple[str, ...]) -> dict[str, int]:
    """Per-dimension extent covered by all loops at level ``i`` and below."""
    box = {d: 1 for d in dims}
    for lm in mapping.levels[i:]:
        for l in lm.temporal + lm.spatial:
            box[l.dim] *= l.factor
    return box


def tile_words(workload: Workload, mapping: Mapping, i: int, tensor: str) -> int:
    """Words of ``tensor`` in one instance's tile at level ``i``."""
    return workload.tensor(tensor).size(tile_box(mapping, i, workload.dims))


def check_mapping(workload: Workload, arch: Architecture, mapping: Mapping,
                  *, check_capacity: bool = True) -> None:
    """Raise MappingError naming the level, tensor and limit that a mapping violates."""
    problems = mapping_problems(workload, arch, mapping, check_capacity=check_capacity)
    if problems:
        level, tensor, msg = problems[0]
        raise MappingError(msg, level=level, tensor=tensor)


def mapping_problems(workload: Workload, arch: Architecture, mapping: Mapping,
                     *, check_capacity: bool = True) -> list[tuple[str | None, str | None, str]]:
    """All legality problems as (level, tensor, message); empty when legal."""
    out: list[tuple[str | None, str | None, str]] = []
    if len(mapping.levels) != len(arch.levels):
        out.append((None, None, f"mapping has {len(mapping.levels)} levels, architecture "
                                f"{arch.name!r} has {len(arch.levels)} "
                                f"({', '.join(arch.level_names)})"))
        return out
    dims = set(workload.dims)
    tensors = set(workload.tensor_names)
    for lm, lvl in zip(mapping.levels, arch.levels):
        if lm.target != lvl.name:
            out.append((lm.target, None, f"mapping level {lm.target!r} is where architecture "
                                         f"level {lvl.name!r} is expected (levels go outermost "
                                         f"first)"))
    if out:
        return out
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        for kind, loops in (("temporal", lm.temporal), ("spatial", lm.spatial)):
            seen = set()
            for l in loops:
                if l.dim not in dims:
                    out.append((lvl.name, None, f"{lvl.name}: unknown dimension {l.dim!r} in "
                                                f"{kind} loops (layer has {list(workload.dims)})"))
                if isinstance(l.factor, bool) or not isinstance(l.factor, int) or l.factor <= 0:
                    out.append((lvl.name, None, f"{lvl.name}: factor of {l.dim} must be a "
                                                f"positive integer, got {l.factor!r}"))
                if l.dim in seen:
                    out.append((lvl.name, None, f"{lvl.name}: dimension {l.dim} has two {kind} "
                                                f"loops at one level"))
                seen.add(l.dim)
        fx, fy = arch.fanout(i)
        px = math.prod(l.factor for l in lm.spatial_x if isinstance(l.factor, int))
        py = math.prod(l.factor for l in lm.spatial_y if isinstance(l.factor, int))
        if px > fx:
            out.append((lvl.name, None, f"{lvl.name}: spatial X factors multiply to {px} but "
                                        f"the X fanout is {fx}"))
        if py > fy:
            out.append((lvl.name, None, f"{lvl.name}: spatial Y factors multiply to {py} but "
                                        f"the Y fanout is {fy}"))
        for t in lm.keep:
            if t not in tensors:
                out.append((lvl.name, t, f"{lvl.name}: keeps unknown tensor {t!r} "
                                         f"(layer has {sorted(tensors)})"))
            elif not lvl.may_keep(t):
                why = "it is a dummy level that holds no data" if lvl.dummy else \
                    f"it may only keep {list(lvl.keeps or [])}"
                out.append((lvl.name, t, f"{lvl.name}: cannot keep {t}: {why}"))
    missing = tensors - set(mapping.levels[0].keep)
    if missing:
        out.append((arch.levels[0].name, sorted(missing)[0],
                    f"{arch.levels[0].name}: the outermost level must keep every tensor; it "
                    f"bypasses {sorted(missing)}"))
    for d in workload.dims:
        prod = 1
        for lm in mapping.levels:
            prod *= lm.factor(d)
        if prod != workload.bound(d):
            out.append((None, None, f"factors of {d} multiply to {prod} but the layer's {d} is "
                                    f"{workload.bound(d)}"))
    if out or not check_capacity:
        return out
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        cap = lvl.effective_capacity_bits
        if cap is None:
            continue
        box = tile_box(mapping, i, workload.dims)
        used = 0
        parts = []
        for t in lm.keep:
            words = workload.tensor(t).size(box)
            used += words * lvl.bits(t)
            parts.append(f"{t} {words} words x {lvl.bits(t)} b")
        if used > cap:
            worst = max(lm.keep, key=lambda t: workload.tensor(t).size(box) * lvl.bits(t))
            out.append((lvl.name, worst,
                        f"{lvl.name}: kept tiles need {used} bits ({', '.join(parts)}) but the "
                        f"level holds {cap} bits; bypass a tensor there or move factors of its "
                        f"loops to an outer level"))
        elif lvl.min_utilization and used < lvl.min_utilization * cap:
            out.append((lvl.name, None, f"{lvl.name}: kept tiles use {used} bits, below the "
                                        f"minimum utilization {lvl.min_utilization:g} of "
                                        f"{cap} bits"))
    return out
