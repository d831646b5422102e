"""Eyexam's steps 2 to 5: the largest spatial product the layer, the architecture and
the constraints allow (dataflow, PE count, array dimensions, storage capacity),
independent of the mapping (docs/eyexam.md#how-step-5-is-computed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import NO_CONSTRAINTS, Constraints
from loopscape.spaces.feasibility import capacity_floor_check, validate_constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.workload import Workload

from .fit import Fit, level_checks
from .splits import Choice, dimension_slots, spatial_choices, uncapped_products


@dataclass(frozen=True)
class SpatialBounds:
    """Steps 2 to 5 (mapping-independent) with their witnesses and search sizes."""

    dataflow: int  # step 2
    dataflow_per_dim: dict[str, int]
    flat: int  # step 3
    flat_per_dim: dict[str, int]
    array: int  # step 4
    array_assignment: tuple[tuple[str, int, int, str], ...]  # (dim, level, factor, axis)
    array_states: int
    capacity: int  # step 5
    capacity_assignment: tuple[tuple[str, int, int, str], ...]
    capacity_tested: int
    capacity_reason: str | None  # why the step-4 assignment does not fit (if it does not)


def spatial_bounds(workload: Workload, arch: Architecture,
                   constraints: Constraints | None = None) -> SpatialBounds:
    """Steps 2 to 5 of Eyexam: the largest number of PEs used in parallel (the spatial
    product) under the constraints' dataflow (fanout sizes ignored), within the PE count
    as one pool, within each fanout level's X and Y extents, and by a legal mapping
    whose tiles fit every level. Raises SpecError when the constrained mapspace holds
    no legal mapping."""
    c = constraints or NO_CONSTRAINTS
    validate_constraints(c, workload, arch)
    capacity_floor_check(workload, arch, c)
    pes = arch.compute.instances
    dims = workload.dims
    slots = {d: dimension_slots(workload, arch, c, d) for d in dims}

    # Step 2: per dimension, the largest spatial product of a complete split.
    uncapped = {d: uncapped_products(workload.bound(d), slots[d]) for d in dims}
    per_dim2 = {d: max(uncapped[d]) for d in dims}
    step2 = math.prod(per_dim2.values())

    # Step 3: products of per-dimension spatial products within the PE count.
    reach: dict[int, tuple[int, ...]] = {1: ()}
    for d in dims:
        nxt: dict[int, tuple[int, ...]] = {}
        for p, w in reach.items():
            for s in sorted(uncapped[d]):
                if p * s <= pes and p * s not in nxt:
                    nxt[p * s] = w + (s,)
        reach = nxt
    if not reach:
        raise SpecError(f"no mapping of the constrained mapspace fits the {pes:,} PEs: the "
                        f"factor rules force more spatial factors than that",
                        source=c.source, key="constraints",
                        fix="relax the factor rules (e.g. default_max_factor)")
    step3 = max(reach)
    per_dim3 = dict(zip(dims, reach[step3]))

    # Step 4: per-axis usage states; the spatial product is the product of the state.
    axes = [(i, a, size) for i in range(len(arch.levels))
            for a, size in zip("XY", arch.fanout(i)) if size > 1]
    ax_index = {(i, a): k for k, (i, a, _) in enumerate(axes)}
    checked, checks = level_checks(workload, arch, c)
    pareto = not any(ch.low_bits for ch in checks)
    choices = {d: spatial_choices(workload.bound(d), slots[d], checked, pareto) for d in dims}

    def usage(ch: Choice) -> tuple[int, ...]:
        u = [1] * len(axes)
        for lvl, f, a in ch.spatial:
            u[ax_index[(lvl, a)]] *= f
        return tuple(u)

    use = {d: [usage(ch) for ch in choices[d]] for d in dims}
    sizes = [size for _, _, size in axes]
    layers: list[dict[tuple[int, ...], tuple]] = [{(1,) * len(axes): ()}]
    n_states = 1
    for d in dims:
        nxt4: dict[tuple[int, ...], tuple] = {}
        for st in layers[-1]:
            for ch, u in zip(choices[d], use[d]):
                ns = tuple(a * b for a, b in zip(st, u))
                if ns not in nxt4 and all(x <= s for x, s in zip(ns, sizes)):
                    nxt4[ns] = (st, ch)
        layers.append(nxt4)
        n_states += len(nxt4)
    if not layers[-1]:
        raise SpecError("no mapping of the constrained mapspace fits the array: every "
                        "split of the dimensions puts more spatial factors on some mesh "
                        "axis than it has", source=c.source, key="constraints",
                        fix="relax the factor rules or allow more dimensions on each axis")
    best_state = max(layers[-1], key=math.prod)
    step4 = math.prod(best_state)
    picks4: list[Choice] = []
    st = best_state
    for k in range(len(dims), 0, -1):
        st, ch = layers[k][st]
        picks4.append(ch)
    picks4.reverse()

    # Step 5: branch and bound over spatial assignments, largest products first.
    fit = Fit(workload, checks)
    need = c.min_pe_utilization * pes
    maxrem = [1] * (len(dims) + 1)
    for k in range(len(dims) - 1, -1, -1):
        maxrem[k] = maxrem[k + 1] * max(ch.product for ch in choices[dims[k]])
    gmin = [[min(v[p] for ch in choices[d] for v in ch.inners) for p in range(len(checks))]
            for d in dims]
    best = [0, None]
    tested = [0]
    cache: dict[tuple, bool] = {}

    def dfs(k: int, used: tuple[int, ...], prod: int, picks: list[Choice]) -> None:
        if k == len(dims):
            if prod <= best[0] or prod < need:
                return
            key = tuple(ch.factors for ch in picks)
            if key not in cache:
                tested[0] += 1
                cache[key] = fit.fits([ch.inners for ch in picks])
            if cache[key]:
                best[0], best[1] = prod, list(picks)
            return
        room = math.prod(s // u for s, u in zip(sizes, used))
        if prod * min(maxrem[k], room) <= best[0] or prod * maxrem[k] < need:
            return
        if pareto and checks and k:
            # The smallest tiles of the dimensions chosen so far (and of the others)
            # already overflow a level: so does every completion below this node.
            lows = [[min(v[p] for v in picks[i].inners) for p in range(len(checks))]
                    if i < k else gmin[i] for i in range(len(dims))]
            if fit.overflow(lows) is not None:
                return
        for ch, u in zip(choices[dims[k]], use[dims[k]]):
            if prod * ch.product * maxrem[k + 1] <= best[0]:
                break
            ns = tuple(a * b for a, b in zip(used, u))
            if all(x <= s for x, s in zip(ns, sizes)):
                picks.append(ch)
                dfs(k + 1, ns, prod * ch.product, picks)
                picks.pop()

    dfs(0, (1,) * len(axes), 1, [])
    if best[1] is None:
        raise SpecError(
            "no legal mapping exists in the constrained mapspace: no spatial assignment "
            "has tiles that fit every level" + (f" with at least {math.ceil(need)} PEs "
                                                f"(min_pe_utilization)" if need else ""),
            source=c.source, key="constraints",
            fix="relax the constraints or enlarge the buffers")
    reason = None
    if best[0] < step4:
        lows = [[min(v[p] for v in ch.inners) for p in range(len(checks))] for ch in picks4]
        # (step4 >= need here, or no mapping would be legal: the witness fails fit)
        reason = fit.overflow(lows) or "no completion of it fits every level at once"

    def flat(picks: Sequence[Choice]) -> tuple[tuple[str, int, int, str], ...]:
        return tuple((d, lvl, f, a) for d, ch in zip(dims, picks) for lvl, f, a in ch.spatial)

    return SpatialBounds(step2, per_dim2, step3, per_dim3, step4, flat(picks4), n_states,
                         best[0], flat(best[1]), tested[0], reason)


__all__ = ["SpatialBounds", "spatial_bounds"]
