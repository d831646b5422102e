"""Mapspace constraints: which factors, loop orders, spatial axes and keep choices a
mapping may use. Validated against a layer and an architecture before any mapping is
generated, so contradictions surface as errors naming the constraints in conflict.
"""

from __future__ import annotations

import math as _math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import SpecError
from .factors import divisors as _divisors

if TYPE_CHECKING:  # pragma: no cover
    from .arch import Architecture
    from .workload import Workload


@dataclass(frozen=True)
class FactorRule:
    """A rule on one factor: ``exact`` (or ``whole``: the dimension's full bound), or a
    range ``[min, max]``. Unset fields are unconstrained."""

    exact: int | None = None
    min: int | None = None
    max: int | None = None
    whole: bool = False

    def allows(self, factor: int, bound: int) -> bool:
        if self.whole:
            return factor == bound
        if self.exact is not None and factor != self.exact:
            return False
        if self.min is not None and factor < self.min:
            return False
        if self.max is not None and factor > self.max:
            return False
        return True


@dataclass(frozen=True)
class LevelConstraints:
    """Constraints on one storage level (``target``).

    ``temporal``/``spatial``: per-dimension factor rules (the spatial rule applies to the
    dimension's spatial factor on whichever axis it lands). ``spatial_x``/``spatial_y``:
    dimensions allowed on each mesh axis (None: any). ``outer``/``inner``: dimensions
    whose temporal loops must be outermost / innermost at this level, in the given
    order (outermost first); loops with factor 1 are exempt. ``keep``/``bypass``: tensors
    that must be kept / bypassed here.
    """

    target: str
    temporal: tuple[tuple[str, FactorRule], ...] = ()
    spatial: tuple[tuple[str, FactorRule], ...] = ()
    spatial_x: tuple[str, ...] | None = None
    spatial_y: tuple[str, ...] | None = None
    outer: tuple[str, ...] = ()
    inner: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    bypass: tuple[str, ...] = ()

    def temporal_rule(self, dim: str) -> FactorRule | None:
        return dict(self.temporal).get(dim)

    def spatial_rule(self, dim: str) -> FactorRule | None:
        return dict(self.spatial).get(dim)


@dataclass(frozen=True)
class Constraints:
    """All constraints of a mapspace. ``default_min_factor``/``default_max_factor`` apply
    to every temporal factor no level rule names; ``min_pe_utilization`` is the smallest
    fraction of the MAC units a mapping must use."""

    levels: tuple[LevelConstraints, ...] = ()
    default_min_factor: int | None = None
    default_max_factor: int | None = None
    min_pe_utilization: float = 0.0
    source: str = field(default="<memory>", compare=False)

    def level(self, name: str) -> LevelConstraints | None:
        for lc in self.levels:
            if lc.target == name:
                return lc
        return None

    def temporal_rule(self, level: str, dim: str) -> FactorRule | None:
        """The rule on ``dim``'s temporal factor at ``level``: the level's own, else the
        default min/max factors, else None (free)."""
        lc = self.level(level)
        rule = lc.temporal_rule(dim) if lc is not None else None
        if rule is None and (self.default_min_factor is not None
                             or self.default_max_factor is not None):
            rule = FactorRule(min=self.default_min_factor, max=self.default_max_factor)
        return rule


NO_CONSTRAINTS = Constraints()


# ----------------------------------------------------------------------------------
# Validation against a layer and an architecture
# ----------------------------------------------------------------------------------
#
# Every error names the constraints in conflict by their key path in loopscape's YAML
# format (``constraints.levels.<target>.temporal.<dim>``...), whatever the constraints
# were read from; ``Constraints.source`` says which file.

ROOT = "constraints"


def rule_text(rule: FactorRule) -> str:
    """A rule as written in loopscape's YAML: ``4``, ``all``, ``<=4``, ``>=2 <=8``, ``any``."""
    parts = []
    if rule.whole:
        parts.append("all")
    if rule.exact is not None:
        parts.append(str(rule.exact) if not parts else f"={rule.exact}")
    if rule.min is not None:
        parts.append(f">={rule.min}")
    if rule.max is not None:
        parts.append(f"<={rule.max}")
    return " ".join(parts) or "any"


def rule_ref(path: str, rule: FactorRule) -> str:
    """``path = value`` for messages (a range is quoted as YAML would need it)."""
    text = rule_text(rule)
    if text.isdigit() or text == "all":
        return f"{path} = {text}"
    return f"{path} = '{text}'"


def _level_path(target: str) -> str:
    return f"{ROOT}.levels.{target}"


def _err(c: Constraints, key: str, message: str, fix: str | None = None) -> SpecError:
    return SpecError(message, source=c.source, key=key, fix=fix)


def _names_list(names) -> str:
    return "[" + ", ".join(names) + "]"


def restrict_constraints(c: Constraints, workload: Workload) -> Constraints:
    """``c`` for a layer that lacks some of the dimensions it names (a network's FC or
    depthwise layers under constraints written for convolutions): a missing dimension
    has bound 1, so rules that allow a factor of 1 are dropped with it and any other rule
    on it is an error naming the rule and the layer."""
    dims = set(workload.dims)
    levels = []
    for lc in c.levels:
        p = _level_path(lc.target)
        kept: dict[str, tuple] = {}
        for kind in ("temporal", "spatial"):
            rules = []
            for d, rule in getattr(lc, kind):
                if d in dims:
                    rules.append((d, rule))
                elif not rule.allows(1, 1):
                    raise _err(c, f"{p}.{kind}.{d}",
                               f"layer {workload.name!r} has no dimension {d} (bound 1), "
                               f"but the rule asks for {rule_text(rule)}",
                               fix="relax the rule or sweep layers that have the dimension")
            kept[kind] = tuple(rules)
        names = {k: None if getattr(lc, k) is None else
                 tuple(d for d in getattr(lc, k) if d in dims)
                 for k in ("spatial_x", "spatial_y", "outer", "inner")}
        levels.append(replace(lc, **kept, **names))
    return replace(c, levels=tuple(levels))


def check_names(c: Constraints, workload: Workload | None = None,
                arch: Architecture | None = None) -> None:
    """Check the names used by ``c``: level targets against ``arch``, dimensions and
    tensors against ``workload`` (each check only when that context is given), and
    repeated names. Raise SpecError at the offending key."""
    seen: list[str] = []
    for lc in c.levels:
        p = _level_path(lc.target)
        if not isinstance(lc.target, str) or not lc.target:
            raise _err(c, f"{ROOT}.levels", f"a level entry needs a target name, got "
                                            f"{lc.target!r}", fix="name an architecture level")
        if lc.target in seen:
            raise _err(c, f"{p}.target", f"two entries for level {lc.target!r}",
                       fix="merge them into one entry per level")
        seen.append(lc.target)
        if arch is not None and lc.target not in arch.level_names:
            raise _err(c, f"{p}.target", f"architecture {arch.name!r} has no level "
                                         f"{lc.target!r}",
                       fix=f"its levels, outermost first: {', '.join(arch.level_names)}")
        for kind, rules in (("temporal", lc.temporal), ("spatial", lc.spatial)):
            dims_seen: list[str] = []
            for d, rule in rules:
                if d in dims_seen:
                    raise _err(c, f"{p}.{kind}.{d}", f"dimension {d} has two {kind} rules",
                               fix="give each dimension one rule per level")
                dims_seen.append(d)
                if workload is not None and d not in workload.dims:
                    raise _err(c, f"{p}.{kind}.{d}", f"unknown dimension {d!r}",
                               fix=f"layer {workload.name!r} has {list(workload.dims)}")
                if not isinstance(rule, FactorRule):
                    raise _err(c, f"{p}.{kind}.{d}", f"expected a FactorRule, got "
                                                     f"{type(rule).__name__}")
        for kind in ("spatial_x", "spatial_y", "inner", "outer"):
            names = getattr(lc, kind)
            if names is None:
                continue
            for i, d in enumerate(names):
                if d in names[:i]:
                    raise _err(c, f"{p}.{kind}", f"dimension {d} is listed twice",
                               fix="list each dimension once")
                if workload is not None and d not in workload.dims:
                    raise _err(c, f"{p}.{kind}", f"unknown dimension {d!r}",
                               fix=f"layer {workload.name!r} has {list(workload.dims)}")
        for kind in ("keep", "bypass"):
            names = getattr(lc, kind)
            for i, t in enumerate(names):
                if t in names[:i]:
                    raise _err(c, f"{p}.{kind}", f"tensor {t} is listed twice",
                               fix="list each tensor once")
                if workload is not None and t not in workload.tensor_names:
                    raise _err(c, f"{p}.{kind}", f"unknown tensor {t!r}",
                               fix=f"layer {workload.name!r} has {list(workload.tensor_names)}")


def _check_top(c: Constraints) -> None:
    for key in ("default_min_factor", "default_max_factor"):
        v = getattr(c, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise _err(c, f"{ROOT}.{key}", f"must be a positive integer, got {v!r}",
                       fix="use an integer >= 1, or leave it out")
    lo, hi = c.default_min_factor, c.default_max_factor
    if lo is not None and hi is not None and lo > hi:
        raise _err(c, f"{ROOT}.default_min_factor",
                   f"{ROOT}.default_min_factor = {lo} and {ROOT}.default_max_factor = {hi} "
                   f"conflict: the minimum is above the maximum",
                   fix="make default_min_factor <= default_max_factor")
    u = c.min_pe_utilization
    if isinstance(u, bool) or not isinstance(u, (int, float)) or not 0 <= u <= 1:
        raise _err(c, f"{ROOT}.min_pe_utilization",
                   f"must be a fraction between 0 and 1, got {u!r}",
                   fix="e.g. 0.5 for at least half of the MAC units")


def _check_rule(c: Constraints, path: str, rule: FactorRule, dim: str, bound: int) -> None:
    """One rule on its own: positive values, a consistent range, and a divisor of the
    bound that satisfies it."""
    ref = rule_ref(path, rule)
    for attr in ("exact", "min", "max"):
        v = getattr(rule, attr)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise _err(c, path, f"{attr} must be a positive integer, got {v!r}",
                       fix="factors are integers >= 1")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise _err(c, path, f"{ref}: the minimum {rule.min} is above the maximum {rule.max}",
                   fix="make the minimum <= the maximum")
    exact = bound if rule.whole else rule.exact
    if rule.whole and rule.exact is not None and rule.exact != bound:
        raise _err(c, path, f"{ref}: 'all' means the whole {dim} = {bound}, not {rule.exact}",
                   fix="keep one of the two")
    if exact is not None:
        if exact > bound:
            raise _err(c, path, f"{ref} exceeds the layer's {dim} = {bound}",
                       fix=f"use a divisor of {bound}: {_short_divs(bound)}")
        if bound % exact:
            raise _err(c, path, f"{ref} does not divide the layer's {dim} = {bound} "
                                f"(loopscape needs perfect factorization)",
                       fix=f"use a divisor of {bound}: {_short_divs(bound)}")
        if rule.min is not None and exact < rule.min:
            raise _err(c, path, f"{ref}: the factor {exact} is below the minimum {rule.min}",
                       fix="drop one of the two")
        if rule.max is not None and exact > rule.max:
            raise _err(c, path, f"{ref}: the factor {exact} is above the maximum {rule.max}",
                       fix="drop one of the two")
        return
    if rule.min is not None and rule.min > bound:
        raise _err(c, path, f"{ref} asks for at least {rule.min} but the layer's {dim} is "
                            f"{bound}", fix=f"use a minimum of at most {bound}")
    if not any(rule.allows(f, bound) for f in _divisors(bound)):
        raise _err(c, path, f"{ref}: no divisor of the layer's {dim} = {bound} satisfies it",
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
    p = _level_path(lc.target)
    shape = workload.shape
    for kind, rules in (("temporal", lc.temporal), ("spatial", lc.spatial)):
        for d, rule in rules:
            _check_rule(c, f"{p}.{kind}.{d}", rule, d, shape[d])
    # keep / bypass
    for t in lc.keep:
        if t in lc.bypass:
            raise _err(c, f"{p}.keep", f"{p}.keep and {p}.bypass both name {t}",
                       fix=f"keep or bypass {t}, not both")
        if lvl.dummy:
            raise _err(c, f"{p}.keep", f"{p}.keep names {t} but {lc.target} is a dummy "
                                       f"level that holds no data",
                       fix="a dummy level keeps nothing: remove the keep list")
        if not lvl.may_keep(t):
            raise _err(c, f"{p}.keep", f"{p}.keep names {t} but architecture level "
                                       f"{lc.target} may only keep {list(lvl.keeps or [])} "
                                       f"(architecture.levels.{lc.target}.keeps)",
                       fix=f"remove {t} from keep, or allow it in the architecture")
    if i == 0 and lc.bypass:
        raise _err(c, f"{p}.bypass", f"{p}.bypass names {_names_list(lc.bypass)} but the "
                                     f"outermost level {lc.target} keeps every tensor",
                   fix="remove the bypass list of the outermost level")
    # loop order
    for d in lc.inner:
        if d in lc.outer:
            raise _err(c, f"{p}.inner", f"{p}.inner and {p}.outer both name {d}",
                       fix=f"pin {d} innermost or outermost, not both")
    # spatial rules against the fanout
    fx, fy = arch.fanout(i)
    for d, rule in lc.spatial:
        need = _required(rule, shape[d])
        if need <= 1:
            continue
        ref = rule_ref(f"{p}.spatial.{d}", rule)
        if (fx, fy) == (1, 1):
            raise _err(c, f"{p}.spatial.{d}",
                       f"{ref} but level {lc.target} has no spatial fanout (the level below "
                       f"it has as many instances)",
                       fix="put spatial rules on a level whose child has more instances")
        axes = allowed_axes(lc, d, fx, fy)
        cap = max((f for _, f in axes), default=1)
        if need > cap:
            fix = (f"allow {d} in spatial_x or spatial_y, or remove the rule" if not axes
                   else f"lower the factor to at most {cap} or allow {d} on a wider axis")
            raise _err(c, f"{p}.spatial.{d}", f"{ref} but {_axes_phrase(lc, d, fx, fy)}",
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
            raise _err(c, f"{p}.spatial.{forced[0][0]}",
                       f"{refs} must all go on {axis} ({where}"
                       f"{' = ' + _names_list(names) if names is not None else ''}) and "
                       f"multiply to {prod}, but the {axis} fanout of {lc.target} is {fan}",
                       fix="lower these factors or allow some of them on the other axis")


def allowed_axes(lc: LevelConstraints | None, d: str, fx: int, fy: int) -> list[tuple[str, int]]:
    """The mesh axes (with fanout > 1) on which dimension ``d`` may be spatial."""
    out = []
    if fx > 1 and (lc is None or lc.spatial_x is None or d in lc.spatial_x):
        out.append(("X", fx))
    if fy > 1 and (lc is None or lc.spatial_y is None or d in lc.spatial_y):
        out.append(("Y", fy))
    return out


def _axes_phrase(lc: LevelConstraints, d: str, fx: int, fy: int) -> str:
    p = _level_path(lc.target)
    axes = allowed_axes(lc, d, fx, fy)
    lists = []
    if lc.spatial_x is not None:
        lists.append(f"{p}.spatial_x = {_names_list(lc.spatial_x)}")
    if lc.spatial_y is not None:
        lists.append(f"{p}.spatial_y = {_names_list(lc.spatial_y)}")
    by = f" ({'; '.join(lists)})" if lists else ""
    if not axes:
        return f"{d} may go on neither mesh axis of {lc.target}{by}"
    shown = " or ".join(f"{a} (fanout {f})" for a, f in axes)
    return f"{d} may only go on {shown} at {lc.target}{by}"


# ----------------------------------------------------------------------------------
# Per-dimension tiling slots: what each (level, temporal|spatial) slot allows
# ----------------------------------------------------------------------------------

class _Slot:
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


def _dim_slots(c: Constraints, workload: Workload, arch: Architecture, d: str) -> list[_Slot]:
    """Slots of dimension ``d``, outermost first: each level's temporal slot, then its
    spatial slot when the level fans out."""
    bound = workload.bound(d)
    divs = _divisors(bound)
    slots = []
    for i, lvl in enumerate(arch.levels):
        lc = c.level(lvl.name)
        p = _level_path(lvl.name)
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
        slots.append(_Slot(i, "temporal", allowed, refs))
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
                cap_refs.append(_axes_phrase(lc, d, fx, fy))
            else:
                cap_refs.append(f"the fanout of {lvl.name} ({fx}x{fy})")
        slots.append(_Slot(i, "spatial", [f for f in by_rule if f <= cap], refs, cap_refs))
    return slots


def _reach(slots: list[_Slot], bound: int) -> list[set[int]]:
    """``out[k]``: the products (divisors of ``bound``) that slots ``0..k-1`` can make."""
    out = [{1}]
    for s in slots:
        out.append({r * f for r in out[-1] for f in s.allowed if bound % (r * f) == 0})
    return out


def _reach_inner(slots: list[_Slot], bound: int) -> list[set[int]]:
    """``out[k]``: the products that slots ``k..`` can make (``out[len] == {1}``)."""
    out = [{1}]
    for s in reversed(slots):
        out.append({r * f for r in out[-1] for f in s.allowed if bound % (r * f) == 0})
    return out[::-1]


def _check_dimension(c: Constraints, workload: Workload, arch: Architecture, d: str) -> None:
    """The rules of one dimension over all levels must admit a split of its bound."""
    bound = workload.bound(d)
    slots = _dim_slots(c, workload, arch, d)
    # Exact factors first: the clearest conflict.
    exact = []
    for lc in c.levels:
        p = _level_path(lc.target)
        for kind, rule in (("temporal", lc.temporal_rule(d)), ("spatial", lc.spatial_rule(d))):
            if rule is not None and (rule.whole or rule.exact is not None):
                exact.append((rule_ref(f"{p}.{kind}.{d}", rule),
                              bound if rule.whole else rule.exact))
    prod = _math.prod(f for _, f in exact)
    if len(exact) > 1 and (prod > bound or bound % prod):
        refs = " and ".join(r for r, _ in exact)
        how = "exceeds" if prod > bound else "does not divide"
        raise _err(c, _ref_key(exact[0][0]), f"{refs} multiply to {prod} but the layer's "
                                             f"{d} is {bound} "
                            f"({prod} {how} {bound})",
                   fix=f"make the fixed factors of {d} multiply to a divisor of {bound}")
    if bound in _reach(slots, bound)[-1]:
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
    raise _err(c, _ref_key(refs[0]) if refs else ROOT,
               f"no split of the layer's {d} = {bound} over the levels satisfies "
                        f"{' and '.join(refs) or 'the constraints'}: {why}",
               fix=f"relax one of these rules on {d}")


def _ref_key(ref: str) -> str:
    """The key path at the start of a reference such as ``constraints.levels.X.temporal.K = 4``."""
    head = ref.split(" ", 1)[0]
    return head if head.startswith(ROOT) else ROOT


def _check_utilization(c: Constraints, workload: Workload, arch: Architecture) -> None:
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
        slots = _dim_slots(c, workload, arch, d)
        outer = _reach(slots, bound)
        inner = _reach_inner(slots, bound)
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
            p = _level_path(lvl.name)
            limits += [rule_ref(f"{p}.spatial.{d}", r) for d, r in lc.spatial]
            if lc.spatial_x is not None:
                limits.append(f"{p}.spatial_x = {_names_list(lc.spatial_x)}")
            if lc.spatial_y is not None:
                limits.append(f"{p}.spatial_y = {_names_list(lc.spatial_y)}")
    best_pes = min(level_best, per_dim_best) * arch.levels[0].instances
    if best_pes >= need * total:
        return
    by = f" (limited by {', '.join(limits)} and the layer's bounds)" if limits else \
        " (limited by the layer's bounds and the fanouts)"
    raise _err(c, f"{ROOT}.min_pe_utilization",
               f"{ROOT}.min_pe_utilization = {need:g} needs {_math.ceil(need * total)} of the "
               f"{total} MAC units but at most {best_pes} ({best_pes / total:.3g}) can be "
               f"used: {'; '.join(detail)}{by}",
               fix=f"lower min_pe_utilization to at most {best_pes / total:.3g} or relax the "
                   f"spatial rules")


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
        _check_dimension(c, workload, arch, d)
    _check_utilization(c, workload, arch)


def capacity_floor_check(workload: Workload, arch: Architecture, c: Constraints) -> None:
    """Raise SpecError when even the smallest tiles the constraints allow overflow a
    level: every factor that is free goes as far out as the rules let it, forced
    factors stay where rules force them, and each level holds the tensors it must keep
    (constraint keeps; everything at the outermost level). Assumes ``c`` validated."""
    min_inner: dict[str, list[int]] = {}  # dim -> per level: smallest product at/below it
    for d in workload.dims:
        bound = workload.bound(d)
        slots = _dim_slots(c, workload, arch, d)
        outer = _reach(slots, bound)
        inner = _reach_inner(slots, bound)
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
            key = f"{_level_path(lvl.name)}.keep" if i > 0 else f"architecture.levels.{lvl.name}"
            raise _err(c, key,
                       f"layer fits no mapping: {lvl.name} needs at least {need} bits for "
                       f"{', '.join(keep)} ({', '.join(parts)}, with the smallest tiles the "
                       f"constraints allow) but holds {cap} ({need - cap} bits short)",
                       fix=f"let {lvl.name} bypass a tensor, relax the factor rules at or "
                           f"below it, or give it more capacity")
