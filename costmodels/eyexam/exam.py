"""``eyexam()``: the seven bounds of one mapping, each with the sentence that names its
cause (docs/eyexam.md). Steps 2 to 5 come from :mod:`.spatial`; steps 6 and 7 from
the scalar cost model's evaluation of the mapping."""

from __future__ import annotations

import math
import os

from loopscape.spaces.arch import Architecture, StorageLevel
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import Workload

from ..evaluate import Evaluation, evaluate
from ..options import ModelOptions
from .report import STEP_NAMES, EyexamReport, EyexamStep
from .spatial import spatial_bounds


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
    if mapping.imperfect:
        return "it has residual loops, and the mapspace holds perfect factorizations only"
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
        per_pe = (f"{cc:,} compute cycles (residual loops: the product of the loop "
                  f"factors, as Timeloop counts)" if mapping.imperfect else
                  f"{macs:,} MACs / {ev.utilized_pes:,} = {cc:,} compute cycles")
        cause6 = (f"the mapping unrolls {ev.utilized_pes:,} PEs where step 5 reaches "
                  f"{sb.capacity:,}: {per_pe}; busiest level on average: {level_text}")
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


__all__ = ["eyexam"]
