"""The sampling proposal of a mapspace: a superset of the legal mappings that is a
product over dimensions, drawn uniformly (then what is illegal is rejected, so the
accepted draws are uniform over the legal ids).

The superset drops splits in which one dimension alone already overflows a kept tile
(its extent at a level is at most what fits in the capacity left when every other kept
tensor takes one word); it depends on the keep choice, so the keep choice is drawn in
proportion to its superset's size. ``Mapspace.proposal`` lists one ``ProposalEntry`` per
keep choice with a non-empty superset. Reads the mapspace through its public API.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence


class ProposalEntry(NamedTuple):
    """One keep choice of the sampling proposal: its bypass index, the size of its
    capacity-aware superset, and per dimension the limits tuple of that superset (None:
    no limit)."""

    bypass: int
    weight: int
    limits: list


def build_proposal(space, max_keep_choices: int) -> list[ProposalEntry] | None:
    """Every keep choice with a non-empty superset; None when there are more than
    ``max_keep_choices`` keep choices to list."""
    if space.bypass_size > max_keep_choices:
        return None
    plan = []
    for by in range(space.bypass_size):
        limits = capacity_limits(space, space.keep_sets(by))
        w = math.prod(ds.count(lim) for ds, lim in zip(space.dim_spaces, limits))
        if w:
            plan.append(ProposalEntry(by, w, limits))
    return plan


def dim_extent_cap(space, level: int, dim: str, kept: Sequence[str]) -> int | None:
    """Largest extent of ``dim`` at ``level`` that fits when the tensors ``kept`` there
    share its capacity and every other kept tensor takes one word (None: unbounded)."""
    lvl = space.arch.levels[level]
    cap_bits = lvl.effective_capacity_bits
    if cap_bits is None:
        return None
    best: int | None = None
    for t in kept:
        tensor = space.workload.tensor(t)
        coefs = [abs(c) for axis in tensor.axes for c, d in axis if d == dim]
        if not coefs:
            continue
        others = sum(lvl.bits(o) for o in kept if o != t)
        words = (cap_bits - others) // lvl.bits(t)
        extent = 0 if words < 1 else (words - 1) // max(coefs) + 1
        best = extent if best is None else min(best, extent)
    return best


def capacity_limits(space, keep: Sequence[Sequence[str]]) -> list[tuple | None]:
    """Per dimension, the limits tuple (one cap per slot, or None) under the keep sets
    ``keep`` (per level, the kept tensors)."""
    out: list[tuple | None] = []
    L = len(space.arch.levels)
    first = []
    for i in range(L):
        first.append(next((j for j, s in enumerate(space.slots) if s.level >= i), None))
    for d in space.workload.dims:
        lim: list[int | None] = [None] * len(space.slots)
        for i in range(L):
            j = first[i]
            if j is None:
                continue
            cap = dim_extent_cap(space, i, d, keep[i])
            if cap is not None:
                lim[j] = cap if lim[j] is None else min(lim[j], cap)
        out.append(tuple(lim) if any(x is not None for x in lim) else None)
    return out
