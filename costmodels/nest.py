"""Scalar loop-nest analysis: tile sizes and the words moved between levels.

This is the readable reference of the cost model (the batched evaluator is tested
against it). It follows Timeloop's nest analysis (see docs/semantics.md):

* A level's tile is the bounding box of the projection of all loops at and below it.
* A level refetches what its tile gains from one visit to the next: the part not in
  the previous tile when the tile moved by the same translation as on its previous
  move (or was stationary before it had moved), the whole tile when the translation
  changed. Timeloop walks each loop's first and second iteration and weights the second
  by ``factor - 1`` (``schedule="timeloop"``, the default); ``schedule="exact"`` walks
  every iteration and is what the brute-force simulator checks.
* Children of a spatial fanout that need identical data are served by one parent
  access (multicast); children updating identical outputs are reduced on the way up.
* A bypassed level passes its children's demand to the next kept level above,
  multiplied by the number of distinct requests among its own fanout.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from loopscape.spaces.arch import Architecture
from loopscape.spaces.mapping import Mapping, tile_box
from loopscape.spaces.workload import Tensor, Workload

from .links import bypass_served, link_effects
from .options import ModelOptions, model_options
from .residual_links import residual_link_effects
from .residual_walk import ResidualNest

Vec = tuple[int, ...]
_NULL = None  # "no translation yet" state of the refetch rule

SCHEDULES = ("timeloop", "exact")


@dataclass(frozen=True)
class TensorTraffic:
    """Per-instance scalar access counts of one tensor at one level."""

    tile_words: int
    partition_words: int
    reads: int
    fills: int
    updates: int
    kept: bool
    link_transfers: int = 0  # words received over inter-PE links, per parent instance


@dataclass(frozen=True)
class NestAnalysis:
    """Everything the energy and latency models need, all per instance."""

    traffic: tuple[dict[str, TensorTraffic], ...]  # per level, per tensor (kept tensors only)
    utilized_instances: tuple[int, ...]  # per level
    utilized_pes: int
    compute_cycles: int  # temporal iterations per PE
    macs: int
    # Residual loops (docs/semantics.md): MACs the busiest PE runs; None when perfect.
    macs_per_pe: int | None = None


def loop_steps(mapping: Mapping, dims: Sequence[str]) -> list[list[tuple[str, int, int, bool]]]:
    """Per level, its loops outermost first as (dim, factor, step, is_spatial).

    A loop's step is the product of the factors of its dimension nested inside it:
    a level's temporal loops sit outside its spatial loops, which sit outside every
    loop of the levels below.
    """
    below = {d: 1 for d in dims}  # product of factors at levels deeper than the current
    out: list[list[tuple[str, int, int, bool]]] = []
    for lm in reversed(mapping.levels):
        level_loops: list[tuple[str, int, int, bool]] = []
        spatial_factor = {d: 1 for d in dims}
        for l in lm.spatial:
            spatial_factor[l.dim] *= l.factor
        for l in lm.temporal:
            level_loops.append((l.dim, l.factor, below[l.dim] * spatial_factor[l.dim], False))
        for l in lm.spatial:
            level_loops.append((l.dim, l.factor, below[l.dim], True))
        out.append(level_loops)
        for l in lm.temporal + lm.spatial:
            below[l.dim] *= l.factor
    out.reverse()
    return out


def project_step(tensor: Tensor, dim: str, step: int) -> Vec:
    """Translation of ``tensor``'s tile when ``dim`` advances by ``step``."""
    return tuple(sum(c * step for c, d in axis if d == dim) for axis in tensor.axes)


def _overlap(extents: Vec, t: Vec) -> int:
    return math.prod(max(0, e - abs(x)) for e, x in zip(extents, t))


def refetch_words(extents: Vec, loops: Sequence[tuple[int, Vec]], schedule: str = "timeloop",
                  keep_stationary: bool = True) -> int:
    """Words a tile fetches over all visits of the loops above it (outermost first).

    ``loops`` holds (factor, translation) of every non-unit temporal loop above the tile.
    The rule per visit: same translation as the previous move (or no move recorded yet)
    -> fetch the new part; otherwise -> fetch the whole tile and forget the translation.
    A visit where the tile does not move fetches nothing; with ``keep_stationary``
    (Timeloop after PR #297) it also leaves the remembered translation as it was, without
    it (before #297) the zero move is remembered like any other.
    """
    size = math.prod(extents)
    k = len(loops)
    if k == 0:
        return size
    taus = [t for _, t in loops]
    factors = [f for f, _ in loops]

    def combine(j: int, weights: Sequence[int]) -> Vec:
        # Translation of a step of loop j while every inner loop wraps back to 0.
        v = list(taus[j])
        for i in range(j + 1, k):
            w = weights[i]
            if w:
                for a in range(len(v)):
                    v[a] -= w * taus[i][a]
        return tuple(v)

    def step(state, t: Vec) -> tuple[object, int]:
        if keep_stationary and not any(t):
            return state, 0
        if state is _NULL:
            return t, size - _overlap(extents, t)
        if state == t:
            return state, size - _overlap(extents, t)
        return _NULL, size

    if schedule == "timeloop":
        wrap = [combine(j, [1] * k) for j in range(k)]

        @lru_cache(maxsize=None)
        def run(j: int, state) -> tuple[object, int]:
            if j == k:
                return state, 0
            s1_state, s1 = run(j + 1, state)
            s2_state, d = step(s1_state, wrap[j])
            s3_state, s3 = run(j + 1, s2_state)
            return s3_state, s1 + (factors[j] - 1) * (d + s3)

        return size + run(0, _NULL)[1]

    if schedule == "exact":
        wrap = [combine(j, [f - 1 for f in factors]) for j in range(k)]

        @lru_cache(maxsize=None)
        def run_exact(j: int, state) -> tuple[object, int]:
            if j == k:
                return state, 0
            state, total = run_exact(j + 1, state)
            # The state sequence becomes periodic quickly; memoize per entry state.
            seen: dict[object, tuple[int, int]] = {}
            it = 0
            n = factors[j] - 1
            acc = 0
            while it < n:
                if state in seen:
                    prev_it, prev_acc = seen[state]
                    period, gain = it - prev_it, acc - prev_acc
                    reps = (n - it) // period
                    acc += reps * gain
                    it += reps * period
                    seen = {}
                    if it >= n:
                        break
                seen[state] = (it, acc)
                state, d = step(state, wrap[j])
                state, s = run_exact(j + 1, state)
                acc += d + s
                it += 1
            return state, total + acc

        return size + run_exact(0, _NULL)[1]
    raise ValueError(f"unknown schedule {schedule!r}; use one of {SCHEDULES}")


def distinct_offsets(tensor: Tensor, spatial: Sequence[tuple[str, int, int]]) -> int:
    """Number of distinct tile origins of ``tensor`` among the children of one fanout.

    ``spatial`` holds (dim, factor, step) of one level's spatial loops. Children whose
    tiles coincide are served by one access (multicast / spatial reduction).
    """
    relevant = [(d, f, s) for d, f, s in spatial if f > 1 and d in tensor.dims]
    if not relevant:
        return 1
    # Fast path: each axis moved by at most one relevant loop -> all origins differ.
    axes_per_loop = [frozenset(a for a, axis in enumerate(tensor.axes)
                               if any(dd == d for _, dd in axis)) for d, _, _ in relevant]
    if all(not (x & y) for x, y in itertools.combinations(axes_per_loop, 2)):
        return math.prod(f for _, f, _ in relevant)
    steps = [project_step(tensor, d, s) for d, _, s in relevant]
    origins = {tuple(0 for _ in tensor.axes)}
    for (d, f, s), st in zip(relevant, steps):
        origins = {tuple(o + i * x for o, x in zip(orig, st)) for orig in origins
                   for i in range(f)}
    return len(origins)


def analyze(workload: Workload, arch: Architecture, mapping: Mapping,
            schedule: str = "timeloop", options: ModelOptions | None = None) -> NestAnalysis:
    """Per level and tensor: tile, partition, reads, fills and updates per instance."""
    options = model_options(options)
    dims = workload.dims
    n = len(arch.levels)
    loops = loop_steps(mapping, dims)
    boxes = [tile_box(mapping, i, dims) for i in range(n)]
    temporal_total = math.prod(f for lvl in loops for _, f, _, sp in lvl if not sp)
    spatial_per_level = [math.prod(f for _, f, _, sp in lvl if sp) for lvl in loops]
    utilized = []
    acc = 1
    for i in range(n):
        utilized.append(acc)
        acc *= spatial_per_level[i]
    utilized_pes = acc
    rn = None
    macs = workload.macs
    if mapping.imperfect:
        rn = ResidualNest(mapping, dims, schedule, options.keeps_stationary_translation)
        boxes = [rn.tile_box(c) for c in range(n)]
        utilized = [int(rn.utilized(c)) for c in range(n)]
        macs_pe = rn.macs0()
        if options.residual_cycles == "exact":
            temporal_total = macs_pe
        else:  # Timeloop: cycles are the product of the loop ends, MACs per PE x PEs
            macs = macs_pe * int(rn.utilized(n))

    traffic: list[dict[str, TensorTraffic]] = [dict() for _ in range(n)]
    links = {}
    if options.link_transfers and rn is not None:
        links = residual_link_effects(workload, arch, mapping, rn, utilized)
    elif options.link_transfers:
        temporal_above = [[(d, f, s) for lvl in loops[:c] for d, f, s, sp in lvl
                           if not sp and f > 1] for c in range(n)]
        extents = [{t.name: t.extents(boxes[c]) for t in workload.tensors} for c in range(n)]
        links = link_effects(workload, arch, mapping, extents, temporal_above, utilized,
                             schedule, options.keeps_stationary_translation)
    for tensor in workload.tensors:
        tname = tensor.name
        tiles = [tensor.size(b) for b in boxes]
        groups = [distinct_offsets(tensor, [(d, f, s) for d, f, s, sp in loops[i] if sp])
                  for i in range(n)]
        # Words each instance of level i fetches from above over the whole run
        # (Timeloop's parent access share); level 0 fetches nothing.
        share = [0] * n
        for c in range(1, n):
            above = []
            for lvl in loops[:c]:
                for d, f, s, sp in lvl:
                    if not sp and f > 1:
                        above.append((f, project_step(tensor, d, s)))
            share[c] = refetch_words(tensor.extents(boxes[c]), above, schedule,
                                     options.keeps_stationary_translation) if rn is None \
                else rn.refetch(tensor, c)
        kept = [tname in mapping.levels[i].keep for i in range(n)]
        server_r = [Fraction(1)] * n
        if rn is not None:  # Timeloop's averaged fills (docs/semantics.md)
            for c in range(1, n):
                if kept[c]:
                    p = max(i for i in range(c) if kept[i])
                    f, server_r[p] = rn.child_ratios(p, c, tensor)
                    share[c] = share[c] * f if tensor.read_write else \
                        math.floor(share[c] * f + Fraction(1, 2))
        # Words each level serves to its fanout, before bypass is applied.
        per_pe = temporal_total if rn is None else macs_pe
        content = [share[i + 1] * groups[i] if i + 1 < n else per_pe * groups[i]
                   for i in range(n)]

        for c in range(1, n):
            if (c, tname) in links:  # children served over links: the parent serves less
                content[c - 1] -= links[c, tname].saved_words
        served = content[:]
        to_macs = [i == n - 1 for i in range(n)]  # whether level i serves the MACs
        for i in range(n - 2, -1, -1):
            if not kept[i + 1]:
                to_macs[i] = to_macs[i + 1]
                served[i] = groups[i] * served[i + 1] if (i + 1, tname) not in links else \
                    bypass_served(links[i + 1, tname], served[i + 1])
        if rn is not None:  # Timeloop's sharing under imperfect spatial loops, seen on
            # the words an inner level serves straight to the MACs (docs/semantics.md)
            for i in range(n):
                r = math.prod(rn.sharing_ratio(c, tensor, i) for c in range(i, n)) \
                    if to_macs[i] else server_r[i]
                served[i] = math.floor(served[i] * r + Fraction(1, 2))
        # Partition: the part of the tensor one instance is responsible for.
        partition = [0] * n
        partition[0] = tiles[0]
        for i in range(n - 1):
            if any(sp for *_, sp in loops[i]):
                spatial_box = dict(boxes[i + 1])
                for d, f, _, sp in loops[i]:
                    if sp:
                        spatial_box[d] *= f
                partition[i + 1] = partition[i] * tiles[i + 1] // tensor.size(spatial_box)
            else:
                partition[i + 1] = partition[i]
        for i in range(n):
            if not kept[i]:
                continue
            outermost = not any(kept[:i])
            if tensor.read_write:
                updates = served[i]
                reads = served[i] - partition[i]
                fills = 0 if outermost else share[i] - partition[i]
                if rn is not None:  # averaged fills are fractions: nearest word
                    fills = math.floor(fills + Fraction(1, 2))
            else:
                updates = 0
                reads = served[i]
                fills = 0 if outermost else share[i]
            link = links.get((i, tname))
            if link is not None:
                fills, reads = link.fills, reads + link.extra_reads
            traffic[i][tname] = TensorTraffic(tiles[i], partition[i], reads, fills, updates, True,
                                              0 if link is None else link.link_words)
    return NestAnalysis(tuple(traffic), tuple(utilized), utilized_pes, temporal_total,
                        macs, None if rn is None else macs_pe)
