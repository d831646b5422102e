"""Eyexam: a mapping's performance explained as seven tightening upper bounds on MACs
per cycle (after Sze, Chen, Yang and Emer, *Efficient Processing of Deep Neural
Networks*, section 6.5, and "How to Evaluate Deep Neural Network Processors", IEEE
Solid-State Circuits Magazine, 2020). docs/eyexam.md states the definitions:

1. layer size and shape: every MAC in one cycle (bound = MACs);
2. dataflow: the largest spatial product the constraints allow, fanout sizes ignored;
3. number of PEs: the same, the product at most the number of PEs (one flat pool);
4. array dimensions: each fanout level's X and Y extents respected separately;
5. storage capacity: the largest spatial product of a legal mapping (tiles fit);
6. average bandwidth: the given mapping's roofline over each level's total traffic;
7. instantaneous bandwidth: the cost model's cycles (read and write ports separately).

Steps 2 to 5 depend on the layer, the architecture and the constraints only; steps 6
and 7 on the given mapping. Each bound is at most the previous one by construction.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from loopscape.spaces.arch import Architecture, StorageLevel
from loopscape.spaces.constraints import (NO_CONSTRAINTS, Constraints, allowed_axes,
                                          capacity_floor_check, validate_constraints)
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import Workload
from loopscape.spaces.factors import divisors as _divisors

from .options import ModelOptions
from .evaluate import Evaluation, evaluate

STEP_NAMES = ("layer size and shape", "dataflow", "number of PEs", "array dimensions",
              "storage capacity", "average bandwidth", "instantaneous bandwidth")


@dataclass(frozen=True)
class EyexamStep:
    """One Eyexam step: its upper bound on MACs per cycle, what limits it, how computed."""

    step: int
    name: str
    bound_macs_per_cycle: float
    cause: str
    method: str

    def to_dict(self) -> dict:
        return {"step": self.step, "name": self.name,
                "bound_macs_per_cycle": float(self.bound_macs_per_cycle),
                "cause": self.cause, "method": self.method}


@dataclass(frozen=True)
class EyexamReport:
    """The seven steps of one mapping of ``workload`` on ``arch`` (``pes`` MAC units)."""

    workload: str
    arch: str
    macs: int
    pes: int
    steps: tuple[EyexamStep, ...]

    @property
    def bounds(self) -> tuple[float, ...]:
        """The seven bounds in MACs per cycle, step 1 first."""
        return tuple(s.bound_macs_per_cycle for s in self.steps)

    def step(self, k: int) -> EyexamStep:
        """Step ``k`` (1..7)."""
        return self.steps[k - 1]

    def to_dict(self) -> dict:
        return {"steps": [s.to_dict() for s in self.steps], "macs": self.macs,
                "pes": self.pes}

    def summary(self) -> dict:
        """Where the PE array loses most: each bound is capped at the PE count (parallel
        work beyond the array is no loss), and the step with the largest ratio of the
        previous capped bound to its own is reported (the earliest on ties), with its
        cause and the final bound against the PE count. When every PE is busy every
        cycle, ``step`` is None and ``loss_ratio`` 1."""
        capped = [min(s.bound_macs_per_cycle, self.pes) for s in self.steps]
        worst, ratio = None, 1.0
        for s, prev, cur in zip(self.steps[1:], capped, capped[1:]):
            r = prev / cur if cur > 0 else math.inf
            if r > ratio * (1 + 1e-12):
                worst, ratio = s.step, r
        final = self.steps[-1].bound_macs_per_cycle
        if worst is None:
            name, cause = "none", "every PE is busy every cycle"
        else:
            name, cause = self.step(worst).name, self.step(worst).cause
        return {"step": worst, "name": name, "cause": cause, "loss_ratio": ratio,
                "final_macs_per_cycle": final, "pes": self.pes,
                "final_utilization": final / self.pes}


# ----------------------------------------------------------------------------------
# Tiling slots of one dimension (the mapspace's: docs/mapspace.md)
# ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Slot:
    level: int
    spatial: bool
    options: tuple[tuple[int, str], ...]  # (factor, axis); axis "" if temporal or 1
    uncapped: tuple[int, ...]  # spatial factors allowed when the fanout size is ignored


def _slots(workload: Workload, arch: Architecture, c: Constraints, dim: str) -> list[_Slot]:
    """Each level's temporal slot (none for a dummy level under a parent without
    fanout: its loops are the parent's innermost) and, where it fans out, its spatial
    slot; outermost first, with the factors the constraints allow."""
    bound = workload.bound(dim)
    divs = _divisors(bound)
    out = []
    for i, lvl in enumerate(arch.levels):
        if not (lvl.dummy and i > 0 and arch.fanout(i - 1) == (1, 1)):
            rule = c.temporal_rule(lvl.name, dim)
            fs = tuple(f for f in divs if rule is None or rule.allows(f, bound))
            out.append(_Slot(i, False, tuple((f, "") for f in fs), fs))
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
        out.append(_Slot(i, True, tuple(opts), uncapped))
    return out


def _uncapped_products(bound: int, slots: Sequence[_Slot]) -> set[int]:
    """The total spatial products of one dimension over its complete splits, with
    spatial factors not capped by the fanout (steps 2 and 3)."""
    states = {(bound, 1)}
    for s in slots:
        states = {(q // f, sp * f if s.spatial else sp) for q, sp in states
                  for f in s.uncapped if q % f == 0}
    return {sp for q, sp in states if q == 1}


def _pareto_min(vectors) -> set[tuple[int, ...]]:
    """The vectors no other vector is componentwise at most."""
    out: list[tuple[int, ...]] = []
    for v in sorted(vectors, key=lambda v: (sum(v), v)):
        if not any(all(a <= b for a, b in zip(u, v)) for u in out):
            out.append(v)
    return set(out)


@dataclass(frozen=True)
class _Choice:
    """One dimension's spatial assignment: ((level, factor, axis), ...) for its factors
    > 1, and the tile extents ("inner vectors": the dimension's extent in the tile of
    each capacity-checked level) its complete splits can give."""

    spatial: tuple[tuple[int, int, str], ...]
    product: int
    inners: tuple[tuple[int, ...], ...]

    @property
    def factors(self) -> tuple[tuple[int, int], ...]:
        return tuple((lvl, f) for lvl, f, _ in self.spatial)


def _choices(bound: int, slots: Sequence[_Slot], checked: Sequence[int],
             pareto: bool) -> list[_Choice]:
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
        states = {key: _pareto_min(vs) if pareto else vs for key, vs in nxt.items()}
    tail = (1,) * (len(checked) - rec)
    out = [_Choice(sp, math.prod(f for _, f, _ in sp), tuple(sorted(v + tail for v in vs)))
           for (q, sp), vs in states.items() if q == 1]
    return sorted(out, key=lambda ch: (-ch.product, ch.spatial))


# ----------------------------------------------------------------------------------
# Capacity: does some completion of a spatial assignment fit every level?
# ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _LevelCheck:
    level: StorageLevel
    cap_bits: int
    low_bits: float  # min_utilization x capacity (0: no minimum)
    forced: tuple[str, ...]  # tensors the level must keep
    free: tuple[str, ...]  # tensors it may keep or bypass


def _level_checks(workload: Workload, arch: Architecture, c: Constraints
                  ) -> tuple[list[int], list[_LevelCheck]]:
    idx, checks = [], []
    for i, lvl in enumerate(arch.levels):
        cap = lvl.effective_capacity_bits
        if cap is None:
            continue
        lc = c.level(lvl.name)
        forced, free = [], []
        for t in workload.tensor_names:
            if i == 0 or (lc is not None and t in lc.keep and lvl.may_keep(t)):
                forced.append(t)
            elif lvl.may_keep(t) and not (lc is not None and t in lc.bypass):
                free.append(t)
        idx.append(i)
        checks.append(_LevelCheck(lvl, cap, lvl.min_utilization * cap if lvl.min_utilization
                                  else 0.0, tuple(forced), tuple(free)))
    return idx, checks


def _bits(workload: Workload, lvl: StorageLevel, tensors: Sequence[str],
          box: dict[str, int]) -> int:
    return sum(workload.tensor(t).size(box) * lvl.bits(t) for t in tensors)


class _Fit:
    """Tests spatial assignments for a completion whose kept tiles fit every level."""

    def __init__(self, workload: Workload, checks: Sequence[_LevelCheck]):
        self.workload = workload
        self.checks = list(checks)
        self.dims = workload.dims

    def _box(self, vecs: Sequence[Sequence[int]], pos: int) -> dict[str, int]:
        return {d: v[pos] for d, v in zip(self.dims, vecs)}

    def overflow(self, lows: Sequence[Sequence[int]]) -> str | None:
        """Why the smallest tiles (per dimension, per level: the smallest extent any of
        its candidate vectors gives) break a level with only forced keeps; None if
        they do not."""
        for pos, ch in enumerate(self.checks):
            box = self._box(lows, pos)
            need = _bits(self.workload, ch.level, ch.forced, box)
            if need > ch.cap_bits:
                parts = ", ".join(f"{t} {self.workload.tensor(t).size(box):,} words"
                                  for t in ch.forced)
                return (f"{ch.level.name} needs at least {need:,} bits ({parts}) but holds "
                        f"{ch.cap_bits:,}")
            if ch.low_bits:
                most = _bits(self.workload, ch.level, ch.forced + ch.free, box)
                if most < ch.low_bits:
                    return (f"{ch.level.name} cannot reach its min_utilization "
                            f"({most:,} of {ch.cap_bits:,} bits at most)")
        return None

    def fits(self, cands: Sequence[Sequence[tuple[int, ...]]]) -> bool:
        """Whether one inner vector per dimension (from ``cands``) and keep choices per
        level exist whose tiles fit every capacity (and reach every min_utilization)."""
        n = len(self.checks)
        if n == 0:
            return True
        lo = [[min(v[p] for v in cs) for p in range(n)] for cs in cands]
        hi = [[max(v[p] for v in cs) for p in range(n)] for cs in cands]
        chosen: list[tuple[int, ...]] = []

        def feasible(k: int) -> bool:
            for pos, ch in enumerate(self.checks):
                small = {d: (chosen[i][pos] if i < k else lo[i][pos])
                         for i, d in enumerate(self.dims)}
                if _bits(self.workload, ch.level, ch.forced, small) > ch.cap_bits:
                    return False
                if ch.low_bits:
                    big = {d: (chosen[i][pos] if i < k else hi[i][pos])
                           for i, d in enumerate(self.dims)}
                    if _bits(self.workload, ch.level, ch.forced + ch.free, big) < ch.low_bits:
                        return False
            return True

        def leaf() -> bool:
            for pos, ch in enumerate(self.checks):
                if not ch.low_bits:
                    continue  # forced keeps fit (feasible()), free tensors bypass
                box = self._box(chosen, pos)
                base = _bits(self.workload, ch.level, ch.forced, box)
                sizes = [_bits(self.workload, ch.level, (t,), box) for t in ch.free]
                ok = False
                for mask in range(1 << len(sizes)):
                    used = base + sum(s for j, s in enumerate(sizes) if mask >> j & 1)
                    if ch.low_bits <= used <= ch.cap_bits:
                        ok = True
                        break
                if not ok:
                    return False
            return True

        def dfs(k: int) -> bool:
            if not feasible(k):
                return False
            if k == len(cands):
                return leaf()
            for v in cands[k]:
                chosen.append(v)
                if dfs(k + 1):
                    return True
                chosen.pop()
            return False

        return dfs(0)


# ----------------------------------------------------------------------------------
# Steps 2 to 5: what the layer, the architecture and the constraints allow
# ----------------------------------------------------------------------------------

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
    slots = {d: _slots(workload, arch, c, d) for d in dims}

    # Step 2: per dimension, the largest spatial product of a complete split.
    uncapped = {d: _uncapped_products(workload.bound(d), slots[d]) for d in dims}
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
    checked, checks = _level_checks(workload, arch, c)
    pareto = not any(ch.low_bits for ch in checks)
    choices = {d: _choices(workload.bound(d), slots[d], checked, pareto) for d in dims}

    def usage(ch: _Choice) -> tuple[int, ...]:
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
    picks4: list[_Choice] = []
    st = best_state
    for k in range(len(dims), 0, -1):
        st, ch = layers[k][st]
        picks4.append(ch)
    picks4.reverse()

    # Step 5: branch and bound over spatial assignments, largest products first.
    fit = _Fit(workload, checks)
    need = c.min_pe_utilization * pes
    maxrem = [1] * (len(dims) + 1)
    for k in range(len(dims) - 1, -1, -1):
        maxrem[k] = maxrem[k + 1] * max(ch.product for ch in choices[dims[k]])
    gmin = [[min(v[p] for ch in choices[d] for v in ch.inners) for p in range(len(checks))]
            for d in dims]
    best = [0, None]
    tested = [0]
    cache: dict[tuple, bool] = {}

    def dfs(k: int, used: tuple[int, ...], prod: int, picks: list[_Choice]) -> None:
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

    def flat(picks: Sequence[_Choice]) -> tuple[tuple[str, int, int, str], ...]:
        return tuple((d, lvl, f, a) for d, ch in zip(dims, picks) for lvl, f, a in ch.spatial)

    return SpatialBounds(step2, per_dim2, step3, per_dim3, step4, flat(picks4), n_states,
                         best[0], flat(best[1]), tested[0], reason)


# ----------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------

def _num(x: float) -> str:
    """A bound for a sentence: integers with separators, others with 4 digits."""
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.4g}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _dims_expr(per_dim: dict[str, int]) -> str:
    parts = [f"{d} {s}" for d, s in per_dim.items() if s > 1]
    return " x ".join(parts) if parts else "nothing"


def _assign_expr(arch: Architecture, assignment) -> str:
    """Spatial factors grouped by fanout level and mesh axis."""
    if not assignment:
        return "no spatial factor"
    groups: dict[tuple[int, str], list[str]] = {}
    for d, lvl, f, a in assignment:
        groups.setdefault((lvl, a), []).append(f"{d} {f}")
    return "; ".join(f"{arch.levels[lvl].name} {a}: {' x '.join(v)}"
                     for (lvl, a), v in sorted(groups.items()))


def _total_bandwidth(lvl: StorageLevel) -> tuple[float | None, str]:
    """Words per cycle per instance the level can move in all (reads and writes
    together), and how that number was formed; None: unlimited."""
    r, w, s = lvl.read_bandwidth, lvl.write_bandwidth, lvl.shared_bandwidth
    if s is not None:
        if r is not None and w is not None and r + w < s:
            return r + w, f"read {r:g} + write {w:g}"
        return s, f"shared {s:g}"
    if r is None or w is None:
        return None, "unlimited"
    return r + w, f"read {r:g} + write {w:g}"


def _outside_space(ms: Mapspace, mapping: Mapping) -> str | None:
    """Why ``mapping`` is not a legal member of the constrained mapspace (None if it is)."""
    try:
        back = ms.mapping(ms.id(mapping))
    except KeyError as e:
        return str(e.args[0]) if e.args else "it breaks the constraints"
    for a, b in zip(mapping.levels, back.levels):
        for d in ms.workload.dims:
            for kind in ("temporal", "spatial_x", "spatial_y"):
                fa = math.prod(l.factor for l in getattr(a, kind) if l.dim == d)
                fb = math.prod(l.factor for l in getattr(b, kind) if l.dim == d)
                if fa != fb:
                    return f"{a.target}: its {kind} factor of {d} breaks the constraints"
        if set(a.keep) != set(b.keep):
            return f"{a.target}: its keep choice {sorted(a.keep)} breaks the constraints"
    problems = ms.problems(mapping)
    return problems[0][2] if problems else None


def eyexam(workload: Workload, arch: Architecture, mapping: Mapping,
           constraints: Constraints | None = None,
           options: ModelOptions | None = None) -> EyexamReport:
    """The seven Eyexam bounds (MACs per cycle) of ``mapping`` of ``workload`` on
    ``arch`` under ``constraints`` (docs/eyexam.md). Steps 2-5 describe the constrained
    mapspace; steps 6 and 7 the mapping, evaluated with the scalar cost model (which
    raises MappingError if it is illegal on the architecture)."""
    ms = Mapspace(workload, arch, constraints)  # validates the constraints
    c = ms.constraints
    macs, pes = workload.macs, arch.compute.instances
    ev: Evaluation = evaluate(workload, arch, mapping, options=options)
    sb = spatial_bounds(workload, arch, constraints)
    shape = " ".join(f"{d}{b}" for d, b in workload.shape.items())
    by = f" (constraints: {os.path.basename(c.source)})" if constraints is not None else ""
    has_fanout = any(arch.fanout(i) != (1, 1) for i in range(len(arch.levels)))

    steps = [EyexamStep(1, STEP_NAMES[0], float(macs),
                        f"layer {workload.name} ({shape}) has {macs:,} MACs: all of them in "
                        f"one cycle", "closed form: the product of the layer's bounds")]

    # Step 2
    b2 = min(float(macs), float(sb.dataflow))
    if not has_fanout:
        cause2 = f"architecture {arch.name} has no spatial fanout: one MAC unit at a time"
    elif sb.dataflow >= macs:
        cause2 = "every dimension may be unrolled whole: no loss"
    else:
        never = [d for d, s in sb.dataflow_per_dim.items() if s == 1 and workload.bound(d) > 1]
        part = [f"{d} {s} of {workload.bound(d)}" for d, s in sb.dataflow_per_dim.items()
                if 1 < s < workload.bound(d)]
        cause2 = (f"the dataflow unrolls at most {_dims_expr(sb.dataflow_per_dim)} = "
                  f"{sb.dataflow:,} MACs in parallel")
        if never:
            cause2 += f"; {', '.join(never)} may not be spatial at any fanout level"
        if part:
            cause2 += f"; the factor rules cap {', '.join(part)}"
        cause2 += by
    steps.append(EyexamStep(2, STEP_NAMES[1], b2, cause2,
                            "dynamic program per dimension over its factor slots (factor "
                            "rules and allowed axes; fanout sizes ignored)"))

    # Step 3
    b3 = min(b2, float(sb.flat))
    if sb.dataflow <= pes:
        cause3 = f"the dataflow's {sb.dataflow:,} parallel MACs fit in the {pes:,} PEs: no loss"
    elif sb.flat == pes:
        cause3 = (f"{pes:,} PEs as one pool: {_dims_expr(sb.flat_per_dim)} = {pes:,} uses "
                  f"them all")
    else:
        cause3 = (f"{pes:,} PEs as one pool: no product of allowed spatial factors equals "
                  f"{pes:,}; the largest that fits is {_dims_expr(sb.flat_per_dim)} = "
                  f"{sb.flat:,} (fragmentation)")
    steps.append(EyexamStep(3, STEP_NAMES[2], b3, cause3,
                            f"dynamic program over the products <= {pes:,} of per-dimension "
                            f"spatial products"))

    # Step 4
    b4 = min(b3, float(sb.array))
    axes_desc = []
    for i in range(len(arch.levels)):
        for a, size in zip("XY", arch.fanout(i)):
            if size > 1:
                used = [(d, f) for d, lvl, f, ax in sb.array_assignment if lvl == i and ax == a]
                expr = " x ".join(f"{d} {f}" for d, f in used) or "nothing"
                axes_desc.append(f"{arch.levels[i].name} {a} {math.prod(f for _, f in used)} "
                                 f"of {size} ({expr})")
    if not axes_desc:
        cause4 = f"architecture {arch.name} has no spatial fanout"
    elif sb.array >= sb.flat:
        cause4 = f"each mesh axis fits the assignment: {'; '.join(axes_desc)}"
    else:
        cause4 = (f"fragmentation per mesh axis (each dimension takes one axis per level): "
                  f"the best assignment uses {'; '.join(axes_desc)} = {sb.array:,} PEs")
    steps.append(EyexamStep(4, STEP_NAMES[3], b4, cause4,
                            f"dynamic program over per-axis usage ({sb.array_states:,} "
                            f"reachable states)"))

    # Step 5
    b5 = min(b4, float(sb.capacity))
    if sb.capacity >= sb.array:
        cause5 = (f"the {sb.capacity:,}-PE assignment ({_assign_expr(arch, sb.capacity_assignment)})"
                  f" fits every level: no loss")
    else:
        cause5 = (f"the {sb.array:,}-PE assignment ({_assign_expr(arch, sb.array_assignment)}) does "
                  f"not fit: {sb.capacity_reason}; the largest that fits uses {sb.capacity:,} "
                  f"PEs ({_assign_expr(arch, sb.capacity_assignment)})")
    steps.append(EyexamStep(5, STEP_NAMES[4], b5, cause5,
                            f"branch and bound over spatial assignments, largest products "
                            f"first: tested {sb.capacity_tested:,} for a completion that fits "
                            f"(free temporal factors as far out as the rules allow, free "
                            f"tensors bypassed; every completion when a level has "
                            f"min_utilization)"))

    # Step 6
    cc = ev.compute_cycles
    busiest = None
    for i, lvl in enumerate(arch.levels):
        bw, how = _total_bandwidth(lvl)
        ls = ev.levels[i]
        words = ls.utilized_instances * sum(s.reads + s.fills + s.updates
                                            for s in ls.tensors.values())
        if bw is None or words == 0:
            continue
        cyc = words / (lvl.instances * bw)
        if busiest is None or cyc > busiest[0]:
            busiest = (cyc, lvl, words, ls.utilized_instances, bw, how)
    cycles6 = max(float(cc), busiest[0] if busiest else 0.0)
    raw6 = macs / cycles6
    b6 = min(b5, raw6)
    if busiest is None:
        level_text = "no level has a bandwidth limit"
    else:
        cyc, lvl, words, used, bw, how = busiest
        level_text = (f"{lvl.name} moves {words:,} words (reads + fills + updates) over "
                      f"{_count(used, 'utilized instance')} at {_count(lvl.instances, 'instance')}"
                      f" x {bw:g} words/cycle, {how}: {cyc:,.1f} cycles")
    outside = _outside_space(ms, mapping)
    if raw6 >= b5:
        cause6 = (f"no loss: the mapping uses {ev.utilized_pes:,} PEs and no level's average "
                  f"bandwidth binds ({cc:,} compute cycles); busiest: {level_text}"
                  if busiest is not None else
                  f"no loss: the mapping uses {ev.utilized_pes:,} PEs and {level_text}")
    elif busiest is not None and busiest[0] > cc:
        cause6 = f"on average {level_text} > {cc:,} compute cycles"
        if ev.utilized_pes < sb.capacity:
            cause6 += (f"; the mapping also unrolls only {ev.utilized_pes:,} PEs where step 5 "
                       f"reaches {sb.capacity:,}")
    else:
        cause6 = (f"the mapping unrolls {ev.utilized_pes:,} PEs where step 5 reaches "
                  f"{sb.capacity:,}: {macs:,} MACs / {ev.utilized_pes:,} = {cc:,} compute cycles; "
                  f"busiest level on average: {level_text}")
    if outside:
        cause6 += f" (note: the mapping is outside the constrained mapspace: {outside})"
    steps.append(EyexamStep(6, STEP_NAMES[5], b6, cause6,
                            "roofline of the given mapping (scalar evaluator's traffic): "
                            "max(compute cycles, per level words / (instances x read + write "
                            "bandwidth))"))

    # Step 7
    raw7 = macs / ev.cycles
    b7 = min(b6, raw7)
    worst = None
    for i, lvl in enumerate(arch.levels):
        ls = ev.levels[i]
        for port, demand, bw in (("read", ls.read_words_per_cycle, lvl.read_bandwidth),
                                 ("write", ls.write_words_per_cycle, lvl.write_bandwidth),
                                 ("shared", ls.read_words_per_cycle + ls.write_words_per_cycle,
                                  lvl.shared_bandwidth)):
            if bw is None or demand <= bw:
                continue
            if worst is None or demand / bw > worst[0]:
                worst = (demand / bw, lvl.name, port, demand, bw, ls.cycles)
    if b7 < b6 and worst is not None:
        _, name, port, demand, bw, cyc = worst
        cause7 = (f"{name} {port} port: {demand:.4g} words/cycle per instance needed, {bw:g} "
                  f"available: {ev.cycles:,} cycles against {cycles6:,.1f} on average")
    elif ev.cycles == cc:
        cause7 = (f"no further loss: every level's read and write ports keep up (cycles = "
                  f"compute cycles = {cc:,})")
    else:
        cause7 = (f"no further loss: the mapping's {ev.cycles:,} cycles give "
                  f"{_num(raw7)} MACs/cycle, not below step 6")
    steps.append(EyexamStep(7, STEP_NAMES[6], b7, cause7,
                            "scalar evaluator (costmodels.evaluate): cycles with each "
                            "instance's read and write ports checked separately"))
    for prev, cur in zip(steps, steps[1:]):
        assert cur.bound_macs_per_cycle <= prev.bound_macs_per_cycle
    return EyexamReport(workload.name, arch.name, macs, pes, tuple(steps))


__all__ = ["EyexamReport", "EyexamStep", "STEP_NAMES", "SpatialBounds", "eyexam",
           "spatial_bounds"]
