"""Constraint feasibility: does a set of constraints fit a workload on an architecture?

:func:`validate_constraints` checks names, top-level values, each level's rules and,
per dimension, whether any split of its bound over the levels satisfies every rule
(with :mod:`.feasibility_slots`); :func:`capacity_floor_check` whether even the smallest
tiles the constraints allow fit every buffer. Every error names the constraints in
conflict by their key path (``constraints.levels.<target>.temporal.<dim>``...).
"""

from __future__ import annotations

import math as _math
from typing import TYPE_CHECKING

from .constraints import constraint_error as err  # (c, key, message, fix)
from .constraints import (ROOT, Constraints, FactorRule, LevelConstraints, allowed_axes,
                          axes_phrase, level_path, names_list, rule_ref)
from .factors import divisors as _divisors

if TYPE_CHECKING:  # pragma: no cover
    from .arch import Architecture
    from .workload import Workload

from .feasibility_slots import check_dimension, check_utilization, dim_slots, reach, reach_inner

__all__ = ["capacity_floor_check", "check_names", "validate_constraints"]




def check_names(c: Constraints, workload: Workload | None = None,
                arch: Architecture | None = None) -> None:
    """Check the names used by ``c``: level targets against ``arch``, dimensions and
    tensors against ``workload`` (each check only when that context is given), and
    repeated names. Raise SpecError at the offending key."""
    seen: list[str] = []
    for lc in c.levels:
        p = level_path(lc.target)
        if not isinstance(lc.target, str) or not lc.target:
            raise err(c, f"{ROOT}.levels", f"a level entry needs a target name, got "
                                            f"{lc.target!r}", fix="name an architecture level")
        if lc.target in seen:
            raise err(c, f"{p}.target", f"two entries for level {lc.target!r}",
                       fix="merge them into one entry per level")
        seen.append(lc.target)
        if arch is not None and lc.target not in arch.level_names:
            raise err(c, f"{p}.target", f"architecture {arch.name!r} has no level "
                                         f"{lc.target!r}",
                       fix=f"its levels, outermost first: {', '.join(arch.level_names)}")
        for kind, rules in (("temporal", lc.temporal), ("spatial", lc.spatial)):
            dims_seen: list[str] = []
            for d, rule in rules:
                if d in dims_seen:
                    raise err(c, f"{p}.{kind}.{d}", f"dimension {d} has two {kind} rules",
                               fix="give each dimension one rule per level")
                dims_seen.append(d)
                if workload is not None and d not in workload.dims:
                    raise err(c, f"{p}.{kind}.{d}", f"unknown dimension {d!r}",
                               fix=f"layer {workload.name!r} has {list(workload.dims)}")
                if not isinstance(rule, FactorRule):
                    raise err(c, f"{p}.{kind}.{d}", f"expected a FactorRule, got "
                                                     f"{type(rule).__name__}")
        for kind in ("spatial_x", "spatial_y", "inner", "outer"):
            names = getattr(lc, kind)
            if names is None:
                continue
            for i, d in enumerate(names):
                if d in names[:i]:
                    raise err(c, f"{p}.{kind}", f"dimension {d} is listed twice",
                               fix="list each dimension once")
                if workload is not None and d not in workload.dims:
                    raise err(c, f"{p}.{kind}", f"unknown dimension {d!r}",
                               fix=f"layer {workload.name!r} has {list(workload.dims)}")
        for kind in ("keep", "bypass"):
            names = getattr(lc, kind)
            for i, t in enumerate(names):
                if t in names[:i]:
                    raise err(c, f"{p}.{kind}", f"tensor {t} is listed twice",
                               fix="list each tensor once")
                if workload is not None and t not in workload.tensor_names:
                    raise err(c, f"{p}.{kind}", f"unknown tensor {t!r}",
                               fix=f"layer {workload.name!r} has {list(workload.tensor_names)}")


def _check_top(c: Constraints) -> None:
    for key in ("default_min_factor", "default_max_factor"):
        v = getattr(c, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise err(c, f"{ROOT}.{key}", f"must be a positive integer, got {v!r}",
                       fix="use an integer >= 1, or leave it out")
    lo, hi = c.default_min_factor, c.default_max_factor
    if lo is not None and hi is not None and lo > hi:
        raise err(c, f"{ROOT}.default_min_factor",
                   f"{ROOT}.default_min_factor = {lo} and {ROOT}.default_max_factor = {hi} "
                   f"conflict: the minimum is above the maximum",
                   fix="make default_min_factor <= default_max_factor")
    u = c.min_pe_utilization
    if isinstance(u, bool) or not isinstance(u, (int, float)) or not 0 <= u <= 1:
        raise err(c, f"{ROOT}.min_pe_utilization",
                   f"must be a fraction between 0 and 1, got {u!r}",
                   fix="e.g. 0.5 for at least half of the MAC units")


def _check_rule(c: Constraints, path: str, rule: FactorRule, dim: str, bound: int) -> None:
    """One rule on its own: positive values, a consistent range, and a divisor of the
    bound that satisfies it."""
    ref = rule_ref(path, rule)
    for attr in ("exact", "min", "max"):
        v = getattr(rule, attr)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise err(c, path, f"{attr} must be a positive integer, got {v!r}",
                       fix="factors are integers >= 1")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise err(c, path, f"{ref}: the minimum {rule.min} is above the maximum {rule.max}",
                   fix="make the minimum <= the maximum")
    exact = bound if rule.whole else rule.exact
    if rule.whole and rule.exact is not None and rule.exact != bound:
        raise err(c, path, f"{ref}: 'all' means the whole {dim} = {bound}, not {rule.exact}",
                   fix="keep one of the two")
    if exact is not None:
        if exact > bound:
            raise err(c, path, f"{ref} exceeds the layer's {dim} = {bound}",
                       fix=f"use a divisor of {bound}: {_short_divs(bound)}")
        if bound % exact:
            raise err(c, path, f"{ref} does not divide the layer's {dim} = {bound} "
                                f"(loopscape needs perfect factorization)",
                       fix=f"use a divisor of {bound}: {_short_divs(bound)}")
        if rule.min is not None and exact < rule.min:
            raise err(c, path, f"{ref}: the factor {exact} is below the minimum {rule.min}",
                       fix="drop one of the two")
        if rule.max is not None and exact > rule.max:
            raise err(c, path, f"{ref}: the factor {exact} is above the maximum {rule.max}",
                       fix="drop one of the two")
        return
    if rule.min is not None and rule.min > bound:
        raise err(c, path, f"{ref} asks for at least {rule.min} but the layer's {dim} is "
                            f"{bound}", fix=f"use a minimum of at most {bound}")
    if not any(rule.allows(f, bound) for f in _divisors(bound)):
        raise err(c, path, f"{ref}: no divisor of the layer's {dim} = {bound} satisfies it",
                   fix=f"divisors of {bound}: {_short_divs(bound)}")


def _short_divs(n: int) -> str:
    divs = _divisors(n)
    if len(divs) > 12:
        return ", ".join(map(str, divs[:6])) + ", ..., " + ", ".join(map(str, divs[-3:]))
    return ", ".join(map(str, divs))


def _required(rule: FactorRule | None, bound: int) -> int:
    """The smallest divisor of ``bound`` a rule allows (1 without a rule)."""
    if rule is None:
        return 1
    return min((f for f in _divisors(bound) if rule.allows(f, bound)), default=1)


def _check_level(c: Constraints, lc: LevelConstraints, workload: Workload,
                 arch: Architecture) -> None:
    i = arch.index(lc.target)
    lvl = arch.levels[i]
    p = level_path(lc.target)
    shape = workload.shape
    for kind, rules in (("temporal", lc.temporal), ("spatial", lc.spatial)):
        for d, rule in rules:
            _check_rule(c, f"{p}.{kind}.{d}", rule, d, shape[d])
    # keep / bypass
    for t in lc.keep:
        if t in lc.bypass:
            raise err(c, f"{p}.keep", f"{p}.keep and {p}.bypass both name {t}",
                       fix=f"keep or bypass {t}, not both")
        if lvl.dummy:
            raise err(c, f"{p}.keep", f"{p}.keep names {t} but {lc.target} is a dummy "
                                       f"level that holds no data",
                       fix="a dummy level keeps nothing: remove the keep list")
        if not lvl.may_keep(t):
            raise err(c, f"{p}.keep", f"{p}.keep names {t} but architecture level "
                                       f"{lc.target} may only keep {list(lvl.keeps or [])} "
                                       f"(architecture.levels.{lc.target}.keeps)",
                       fix=f"remove {t} from keep, or allow it in the architecture")
    if i == 0 and lc.bypass:
        raise err(c, f"{p}.bypass", f"{p}.bypass names {names_list(lc.bypass)} but the "
                                     f"outermost level {lc.target} keeps every tensor",
                   fix="remove the bypass list of the outermost level")
    # loop order
    for d in lc.inner:
        if d in lc.outer:
            raise err(c, f"{p}.inner", f"{p}.inner and {p}.outer both name {d}",
                       fix=f"pin {d} innermost or outermost, not both")
    # spatial rules against the fanout
    fx, fy = arch.fanout(i)
    for d, rule in lc.spatial:
        need = _required(rule, shape[d])
        if need <= 1:
            continue
        ref = rule_ref(f"{p}.spatial.{d}", rule)
        if (fx, fy) == (1, 1):
            raise err(c, f"{p}.spatial.{d}",
                       f"{ref} but level {lc.target} has no spatial fanout (the level below "
                       f"it has as many instances)",
                       fix="put spatial rules on a level whose child has more instances")
        axes = allowed_axes(lc, d, fx, fy)
        cap = max((f for _, f in axes), default=1)
        if need > cap:
            fix = (f"allow {d} in spatial_x or spatial_y, or remove the rule" if not axes
                   else f"lower the factor to at most {cap} or allow {d} on a wider axis")
            raise err(c, f"{p}.spatial.{d}", f"{ref} but {axes_phrase(lc, d, fx, fy)}",
                       fix=fix)
    # dimensions forced onto one axis must fit it together
    for axis, fan, names in (("X", fx, lc.spatial_x), ("Y", fy, lc.spatial_y)):
        forced = []
        for d, rule in lc.spatial:
            axes = [a for a, _ in allowed_axes(lc, d, fx, fy)]
            if axes == [axis] and _required(rule, shape[d]) > 1:
                forced.append((d, rule))
        prod = _math.prod(_required(r, shape[d]) for d, r in forced)
        if len(forced) > 1 and prod > fan:
            refs = " and ".join(rule_ref(f"{p}.spatial.{d}", r) for d, r in forced)
            where = f"{p}.spatial_{axis.lower()}"
            raise err(c, f"{p}.spatial.{forced[0][0]}",
                       f"{refs} must all go on {axis} ({where}"
                       f"{' = ' + names_list(names) if names is not None else ''}) and "
                       f"multiply to {prod}, but the {axis} fanout of {lc.target} is {fan}",
                       fix="lower these factors or allow some of them on the other axis")





def validate_constraints(c: Constraints, workload: Workload, arch: Architecture) -> None:
    """Raise SpecError when ``c`` does not fit ``workload`` on ``arch`` or contradicts
    itself: unknown levels, dimensions or tensors; a tensor both kept and bypassed; a
    keep the level may not hold (dummy levels, ``keeps``); a bypass at the outermost
    level; pinned inner/outer loops that overlap; spatial rules without fanout or wider
    than the axes they may use; factor rules that admit no divisor of the bound, fixed
    factors whose product does not divide the bound, or any set of rules that leaves no
    split of a dimension; default_min_factor above default_max_factor; and a
    min_pe_utilization outside [0, 1] or above what the spatial rules can reach. Each
    message names the constraints in conflict by key path."""
    _check_top(c)
    check_names(c, workload, arch)
    for lc in c.levels:
        _check_level(c, lc, workload, arch)
    for d in workload.dims:
        check_dimension(c, workload, arch, d)
    check_utilization(c, workload, arch)


def capacity_floor_check(workload: Workload, arch: Architecture, c: Constraints) -> None:
    """Raise SpecError when even the smallest tiles the constraints allow overflow a
    level: every factor that is free goes as far out as the rules let it, forced
    factors stay where rules force them, and each level holds the tensors it must keep
    (constraint keeps; everything at the outermost level). Assumes ``c`` validated."""
    min_inner: dict[str, list[int]] = {}  # dim -> per level: smallest product at/below it
    for d in workload.dims:
        bound = workload.bound(d)
        slots = dim_slots(c, workload, arch, d)
        outer = reach(slots, bound)
        inner = reach_inner(slots, bound)
        per_level = []
        for i in range(len(arch.levels)):
            k = next(j for j, s in enumerate(slots) if s.level == i)
            options = [s for s in inner[k] if bound % s == 0 and bound // s in outer[k]]
            per_level.append(min(options, default=1))
        min_inner[d] = per_level
    for i, lvl in enumerate(arch.levels):
        cap = lvl.effective_capacity_bits
        if cap is None or lvl.dummy:
            continue
        lc = c.level(lvl.name)
        keep = list(workload.tensor_names) if i == 0 else \
            [t for t in (lc.keep if lc else ()) if lvl.may_keep(t)]
        if not keep:
            continue
        box = {d: min_inner[d][i] for d in workload.dims}
        parts = []
        need = 0
        for t in keep:
            words = workload.tensor(t).size(box)
            need += words * lvl.bits(t)
            parts.append(f"{t} {words} words x {lvl.bits(t)} b")
        if need > cap:
            key = f"{level_path(lvl.name)}.keep" if i > 0 else f"architecture.levels.{lvl.name}"
            raise err(c, key,
                       f"layer fits no mapping: {lvl.name} needs at least {need} bits for "
                       f"{', '.join(keep)} ({', '.join(parts)}, with the smallest tiles the "
                       f"constraints allow) but holds {cap} ({need - cap} bits short)",
                       fix=f"let {lvl.name} bypass a tensor, relax the factor rules at or "
                           f"below it, or give it more capacity")
