"""Mapspace constraints as data: which factors, loop orders, spatial axes and keep choices
a mapping may use, plus the rules every user of them shares (a rule's text, the axes a
dimension may use, restriction to a workload). Whether constraints fit a workload on an
architecture is checked by :mod:`.feasibility` before any mapping is generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import SpecError

if TYPE_CHECKING:  # pragma: no cover
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
    fraction of the MAC units a mapping must use; ``imperfect`` lets factorizations
    use residual loops (docs/mapspace.md, imperfect factors), for the dimensions in
    ``imperfect_dims`` only when it is set, and at the levels (the loops a level holds:
    temporal, and spatial over its fanout) in ``imperfect_levels`` only when that is set."""

    levels: tuple[LevelConstraints, ...] = ()
    default_min_factor: int | None = None
    default_max_factor: int | None = None
    min_pe_utilization: float = 0.0
    imperfect: bool = False
    imperfect_dims: tuple[str, ...] | None = None  # None: every dimension (when imperfect)
    imperfect_levels: tuple[str, ...] | None = None  # None: every level (when imperfect)
    source: str = field(default="<memory>", compare=False)

    def level(self, name: str) -> LevelConstraints | None:
        for lc in self.levels:
            if lc.target == name:
                return lc
        return None

    def imperfect_for(self, dim: str) -> bool:
        """Whether ``dim``'s factorizations may use residual loops."""
        return self.imperfect and (self.imperfect_dims is None or dim in self.imperfect_dims)

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


# Key paths name constraints the same way whatever they were read from: by their path in
# loopscape's YAML format (``constraints.levels.<target>.temporal.<dim>``...);
# ``Constraints.source`` says which file.
ROOT = "constraints"


def level_path(target: str) -> str:
    """The key path of a level's constraints: ``constraints.levels.<target>``."""
    return f"{ROOT}.levels.{target}"


def constraint_error(c: Constraints, key: str, message: str, fix: str | None = None) -> SpecError:
    """A SpecError about ``c`` at key path ``key``, naming the file ``c`` came from."""
    return SpecError(message, source=c.source, key=key, fix=fix)


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



def restrict_constraints(c: Constraints, workload: Workload) -> Constraints:
    """``c`` for a layer that lacks some of the dimensions it names (a network's FC or
    depthwise layers under constraints written for convolutions): a missing dimension
    has bound 1, so rules that allow a factor of 1 are dropped with it and any other rule
    on it is an error naming the rule and the layer."""
    dims = set(workload.dims)
    levels = []
    for lc in c.levels:
        p = level_path(lc.target)
        kept: dict[str, tuple] = {}
        for kind in ("temporal", "spatial"):
            rules = []
            for d, rule in getattr(lc, kind):
                if d in dims:
                    rules.append((d, rule))
                elif not rule.allows(1, 1):
                    raise constraint_error(c, f"{p}.{kind}.{d}",
                               f"layer {workload.name!r} has no dimension {d} (bound 1), "
                               f"but the rule asks for {rule_text(rule)}",
                               fix="relax the rule or sweep layers that have the dimension")
            kept[kind] = tuple(rules)
        names = {k: None if getattr(lc, k) is None else
                 tuple(d for d in getattr(lc, k) if d in dims)
                 for k in ("spatial_x", "spatial_y", "outer", "inner")}
        levels.append(replace(lc, **kept, **names))
    return replace(c, levels=tuple(levels))



def allowed_axes(lc: LevelConstraints | None, d: str, fx: int, fy: int) -> list[tuple[str, int]]:
    """The mesh axes (with fanout > 1) on which dimension ``d`` may be spatial."""
    out = []
    if fx > 1 and (lc is None or lc.spatial_x is None or d in lc.spatial_x):
        out.append(("X", fx))
    if fy > 1 and (lc is None or lc.spatial_y is None or d in lc.spatial_y):
        out.append(("Y", fy))
    return out


def rule_ref(path: str, rule: FactorRule) -> str:
    """``path = value`` for messages (a range is quoted as YAML would need it)."""
    text = rule_text(rule)
    if text.isdigit() or text == "all":
        return f"{path} = {text}"
    return f"{path} = '{text}'"


def names_list(names) -> str:
    """``[a, b]``: a list of names as messages show it."""
    return "[" + ", ".join(names) + "]"


def axes_phrase(lc: LevelConstraints, d: str, fx: int, fy: int) -> str:
    """Why dimension ``d`` may (not) be spatial at ``lc``'s level, for messages."""
    p = level_path(lc.target)
    axes = allowed_axes(lc, d, fx, fy)
    lists = []
    if lc.spatial_x is not None:
        lists.append(f"{p}.spatial_x = {names_list(lc.spatial_x)}")
    if lc.spatial_y is not None:
        lists.append(f"{p}.spatial_y = {names_list(lc.spatial_y)}")
    by = f" ({'; '.join(lists)})" if lists else ""
    if not axes:
        return f"{d} may go on neither mesh axis of {lc.target}{by}"
    shown = " or ".join(f"{a} (fanout {f})" for a, f in axes)
    return f"{d} may only go on {shown} at {lc.target}{by}"
