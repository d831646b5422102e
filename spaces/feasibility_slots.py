"""Per-dimension tiling slots for constraint feasibility: what each (level, temporal or
spatial) slot allows a dimension's factor to be, which products the slots can reach,
and the two checks built on them (a dimension's rules leave some split of its bound;
min_pe_utilization is reachable). Used by :mod:`.feasibility`."""

from __future__ import annotations

import math as _math
from typing import TYPE_CHECKING

from .constraints import constraint_error as err  # (c, key, message, fix)
from .constraints import (ROOT, Constraints, allowed_axes, axes_phrase, level_path,
                          names_list, rule_ref)
from .factors import divisors as _divisors

if TYPE_CHECKING:  # pragma: no cover
    from .arch import Architecture
    from .workload import Workload


__all__ = ["Slot", "check_dimension", "check_utilization", "dim_slots", "reach", "reach_inner"]


# ----------------------------------------------------------------------------------
# Per-dimension tiling slots: what each (level, temporal|spatial) slot allows
# ----------------------------------------------------------------------------------

class Slot:
    """One tiling slot of one dimension: level ``level``'s temporal loop or its spatial
    fanout, with the factors the constraints and the fanout allow."""

    def __init__(self, level: int, kind: str, allowed: list[int], refs: list[str],
                 cap_refs: list[str] | None = None):
        self.level = level
        self.kind = kind
        self.allowed = allowed
        self.rule_refs = refs  # the rules that restrict this slot, for messages
        self.cap_refs = cap_refs or []  # the fanout / axis lists, when they restrict it

    @property
    def refs(self) -> list[str]:
        return self.rule_refs + self.cap_refs


def dim_slots(c: Constraints, workload: Workload, arch: Architecture, d: str) -> list[Slot]:
    """Slots of dimension ``d``, outermost first: each level's temporal slot, then its
    spatial slot when the level fans out."""
    bound = workload.bound(d)
    divs = _divisors(bound)
    slots = []
    for i, lvl in enumerate(arch.levels):
        lc = c.level(lvl.name)
        p = level_path(lvl.name)
        rule = c.temporal_rule(lvl.name, d)
        refs: list[str] = []
        if lc is not None and lc.temporal_rule(d) is not None:
            refs.append(rule_ref(f"{p}.temporal.{d}", rule))
        elif rule is not None:
            if c.default_min_factor is not None:
                refs.append(f"{ROOT}.default_min_factor = {c.default_min_factor}")
            if c.default_max_factor is not None:
                refs.append(f"{ROOT}.default_max_factor = {c.default_max_factor}")
        allowed = [f for f in divs if rule is None or rule.allows(f, bound)]
        slots.append(Slot(i, "temporal", allowed, refs))
        fx, fy = arch.fanout(i)
        if (fx, fy) == (1, 1):
            continue
        rule = lc.spatial_rule(d) if lc else None
        refs = [rule_ref(f"{p}.spatial.{d}", rule)] if rule is not None else []
        axes = allowed_axes(lc, d, fx, fy)
        cap = max((f for _, f in axes), default=1)
        by_rule = [f for f in divs if rule is None or rule.allows(f, bound)]
        cap_refs = []
        if by_rule and max(by_rule) > cap:
            if lc is not None and (lc.spatial_x is not None or lc.spatial_y is not None):
                cap_refs.append(axes_phrase(lc, d, fx, fy))
            else:
                cap_refs.append(f"the fanout of {lvl.name} ({fx}x{fy})")
        slots.append(Slot(i, "spatial", [f for f in by_rule if f <= cap], refs, cap_refs))
    return slots


def reach(slots: list[Slot], bound: int) -> list[set[int]]:
    """``out[k]``: the products (divisors of ``bound``) that slots ``0..k-1`` can make."""
    out = [{1}]
    for s in slots:
        out.append({r * f for r in out[-1] for f in s.allowed if bound % (r * f) == 0})
    return out


def reach_inner(slots: list[Slot], bound: int) -> list[set[int]]:
    """``out[k]``: the products that slots ``k..`` can make (``out[len] == {1}``)."""
    out = [{1}]
    for s in reversed(slots):
        out.append({r * f for r in out[-1] for f in s.allowed if bound % (r * f) == 0})
    return out[::-1]


def check_dimension(c: Constraints, workload: Workload, arch: Architecture, d: str) -> None:
    """The rules of one dimension over all levels must admit a split of its bound."""
    bound = workload.bound(d)
    slots = dim_slots(c, workload, arch, d)
    # Exact factors first: the clearest conflict.
    exact = []
    for lc in c.levels:
        p = level_path(lc.target)
        for kind, rule in (("temporal", lc.temporal_rule(d)), ("spatial", lc.spatial_rule(d))):
            if rule is not None and (rule.whole or rule.exact is not None):
                exact.append((rule_ref(f"{p}.{kind}.{d}", rule),
                              bound if rule.whole else rule.exact))
    prod = _math.prod(f for _, f in exact)
    if len(exact) > 1 and (prod > bound or bound % prod):
        refs = " and ".join(r for r, _ in exact)
        how = "exceeds" if prod > bound else "does not divide"
        raise err(c, _ref_key(exact[0][0]), f"{refs} multiply to {prod} but the layer's "
                                             f"{d} is {bound} "
                            f"({prod} {how} {bound})",
                   fix=f"make the fixed factors of {d} multiply to a divisor of {bound}")
    if bound in reach(slots, bound)[-1]:
        return
    lo = _math.prod(min(s.allowed, default=bound + 1) for s in slots)
    hi = _math.prod(max(s.allowed, default=0) for s in slots)
    if any(not s.allowed for s in slots):
        empty = next(s for s in slots if not s.allowed)
        refs = empty.refs
        why = f"they leave no factor for the {empty.kind} loop of {arch.levels[empty.level].name}"
    elif all(len(s.allowed) == 1 for s in slots):
        refs = [r for s in slots for r in s.refs]
        why = f"they leave no loop of {d} free and its factors multiply to {hi}"
    elif hi < bound:
        refs = [r for s in slots if max(s.allowed) < bound for r in s.refs]
        why = f"the largest product they allow is {hi}"
    elif lo > bound:
        refs = [r for s in slots if min(s.allowed) > 1 for r in s.rule_refs]
        why = f"the smallest product they allow is {lo}"
    else:
        refs = [r for s in slots for r in s.refs]
        why = "no combination of the factors they allow multiplies to exactly " + str(bound)
    refs = list(dict.fromkeys(refs))
    raise err(c, _ref_key(refs[0]) if refs else ROOT,
               f"no split of the layer's {d} = {bound} over the levels satisfies "
                        f"{' and '.join(refs) or 'the constraints'}: {why}",
               fix=f"relax one of these rules on {d}")


def _ref_key(ref: str) -> str:
    """The key path at the start of a reference such as ``constraints.levels.X.temporal.K = 4``."""
    head = ref.split(" ", 1)[0]
    return head if head.startswith(ROOT) else ROOT


def check_utilization(c: Constraints, workload: Workload, arch: Architecture) -> None:
    """``min_pe_utilization`` must be reachable by the best spatial factors the rules,
    the axis lists, the fanouts and the bounds allow (an upper bound is computed, so the
    check never rejects a reachable target)."""
    need = c.min_pe_utilization
    if not need:
        return
    total = arch.compute.instances
    per_dim_best = 1
    feasible: dict[tuple[str, int], list[int]] = {}
    for d in workload.dims:
        bound = workload.bound(d)
        slots = dim_slots(c, workload, arch, d)
        outer = reach(slots, bound)
        inner = reach_inner(slots, bound)
        # Largest total spatial product of d over a feasible split (DP over products).
        best: dict[int, int] = {1: 1}
        for s in slots:
            nxt: dict[int, int] = {}
            for q, sp in best.items():
                for f in s.allowed:
                    if bound % (q * f):
                        continue
                    v = sp * f if s.kind == "spatial" else sp
                    if nxt.get(q * f, 0) < v:
                        nxt[q * f] = v
            best = nxt
        per_dim_best *= best.get(bound, 1)
        for k, s in enumerate(slots):
            if s.kind != "spatial":
                continue
            feasible[(d, s.level)] = [f for f in s.allowed if any(
                bound % (r * f) == 0 and bound // (r * f) in inner[k + 1] for r in outer[k])]
    level_best = 1
    detail = []
    limits: list[str] = []
    for i, lvl in enumerate(arch.levels):
        fx, fy = arch.fanout(i)
        if (fx, fy) == (1, 1):
            continue
        lc = c.level(lvl.name)
        caps = {"X": 1, "Y": 1}
        whole = 1
        for d in workload.dims:
            opts = feasible.get((d, i), [1])
            whole *= max(opts)
            for axis, fan in allowed_axes(lc, d, fx, fy):
                caps[axis] *= max([f for f in opts if f <= fan], default=1)
        ub = min(fx * fy, min(caps["X"], fx) * min(caps["Y"], fy), whole)
        level_best *= ub
        detail.append(f"{lvl.name} at most {ub} of {fx * fy}")
        if ub < fx * fy and lc is not None:
            p = level_path(lvl.name)
            limits += [rule_ref(f"{p}.spatial.{d}", r) for d, r in lc.spatial]
            if lc.spatial_x is not None:
                limits.append(f"{p}.spatial_x = {names_list(lc.spatial_x)}")
            if lc.spatial_y is not None:
                limits.append(f"{p}.spatial_y = {names_list(lc.spatial_y)}")
    best_pes = min(level_best, per_dim_best) * arch.levels[0].instances
    if best_pes >= need * total:
        return
    by = f" (limited by {', '.join(limits)} and the layer's bounds)" if limits else \
        " (limited by the layer's bounds and the fanouts)"
    raise err(c, f"{ROOT}.min_pe_utilization",
               f"{ROOT}.min_pe_utilization = {need:g} needs {_math.ceil(need * total)} of the "
               f"{total} MAC units but at most {best_pes} ({best_pes / total:.3g}) can be "
               f"used: {'; '.join(detail)}{by}",
               fix=f"lower min_pe_utilization to at most {best_pes / total:.3g} or relax the "
                   f"spatial rules")
