"""The tiling slots of one dimension (the mapspace's: docs/mapspace.md) and the spatial
assignments its complete splits allow, with the tile extents they give; the
per-dimension half of Eyexam's steps 2 to 5."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints, allowed_axes
from loopscape.spaces.factors import divisors
from loopscape.spaces.workload import Workload


@dataclass(frozen=True)
class Slot:
    level: int
    spatial: bool
    options: tuple[tuple[int, str], ...]  # (factor, axis); axis "" if temporal or 1
    uncapped: tuple[int, ...]  # spatial factors allowed when the fanout size is ignored


def dimension_slots(workload: Workload, arch: Architecture, c: Constraints, dim: str) -> list[Slot]:
    """Each level's temporal slot (none for a dummy level under a parent without
    fanout: its loops are the parent's innermost) and, where it fans out, its spatial
    slot; outermost first, with the factors the constraints allow."""
    bound = workload.bound(dim)
    divs = divisors(bound)
    out = []
    for i, lvl in enumerate(arch.levels):
        if not (lvl.dummy and i > 0 and arch.fanout(i - 1) == (1, 1)):
            rule = c.temporal_rule(lvl.name, dim)
            fs = tuple(f for f in divs if rule is None or rule.allows(f, bound))
            out.append(Slot(i, False, tuple((f, "") for f in fs), fs))
        if arch.fanout(i) == (1, 1):
            continue
        lc = c.level(lvl.name)
        rule = lc.spatial_rule(dim) if lc else None
        allowed = [f for f in divs if rule is None or rule.allows(f, bound)]
        axes = allowed_axes(c.level(arch.levels[i].name), dim, *arch.fanout(i))
        opts = [(1, "")] if 1 in allowed else []
        for axis, size in axes:
            opts += [(f, axis) for f in allowed if 1 < f <= size]
        uncapped = tuple(f for f in allowed if f == 1 or axes)
        out.append(Slot(i, True, tuple(opts), uncapped))
    return out


def uncapped_products(bound: int, slots: Sequence[Slot]) -> set[int]:
    """The total spatial products of one dimension over its complete splits, with
    spatial factors not capped by the fanout (steps 2 and 3)."""
    states = {(bound, 1)}
    for s in slots:
        states = {(q // f, sp * f if s.spatial else sp) for q, sp in states
                  for f in s.uncapped if q % f == 0}
    return {sp for q, sp in states if q == 1}


def minimal_vectors(vectors) -> set[tuple[int, ...]]:
    """The vectors no other vector is componentwise at most."""
    out: list[tuple[int, ...]] = []
    for v in sorted(vectors, key=lambda v: (sum(v), v)):
        if not any(all(a <= b for a, b in zip(u, v)) for u in out):
            out.append(v)
    return set(out)


@dataclass(frozen=True)
class Choice:
    """One dimension's spatial assignment: ((level, factor, axis), ...) for its factors
    > 1, and the tile extents ("inner vectors": the dimension's extent in the tile of
    each capacity-checked level) its complete splits can give."""

    spatial: tuple[tuple[int, int, str], ...]
    product: int
    inners: tuple[tuple[int, ...], ...]

    @property
    def factors(self) -> tuple[tuple[int, int], ...]:
        return tuple((lvl, f) for lvl, f, _ in self.spatial)


def spatial_choices(bound: int, slots: Sequence[Slot], checked: Sequence[int],
             pareto: bool) -> list[Choice]:
    """Every spatial assignment of one dimension that some complete split (factor rules
    respected) extends, with the inner vectors of those splits. The extent of a
    dimension in the tile of level j is what remains of its bound on entering level j's
    first slot. With ``pareto`` only the componentwise-minimal vectors are kept (a
    prefix dominated at equal remainder stays dominated)."""
    states: dict[tuple[int, tuple], set[tuple[int, ...]]] = {(bound, ()): {()}}
    rec = 0
    for s in slots:
        k = rec
        while k < len(checked) and checked[k] <= s.level:
            k += 1
        if k > rec:
            states = {key: {v + (key[0],) * (k - rec) for v in vs} for key, vs in states.items()}
            rec = k
        nxt: dict[tuple[int, tuple], set[tuple[int, ...]]] = defaultdict(set)
        for (q, sp), vs in states.items():
            for f, axis in s.options:
                if q % f:
                    continue
                key = (q // f, sp + ((s.level, f, axis),) if s.spatial and f > 1 else sp)
                nxt[key] |= vs
        states = {key: minimal_vectors(vs) if pareto else vs for key, vs in nxt.items()}
    tail = (1,) * (len(checked) - rec)
    out = [Choice(sp, math.prod(f for _, f, _ in sp), tuple(sorted(v + tail for v in vs)))
           for (q, sp), vs in states.items() if q == 1]
    return sorted(out, key=lambda ch: (-ch.product, ch.spatial))


__all__ = ["Choice", "Slot", "dimension_slots", "minimal_vectors", "spatial_choices",
           "uncapped_products"]
