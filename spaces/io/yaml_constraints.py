"""The ``constraints:`` section of loopscape's YAML format (docs/formats.md, Constraints).

```yaml
constraints:
  default_max_factor: 16        # every temporal factor no level rule names
  min_pe_utilization: 0.5       # fraction of the MAC units a mapping must use
  imperfect: true               # residual loops allowed (or [P, Q]: those dims only,
                                # or {dims: [P, Q], levels: [GlobalBuffer]})
  levels:
    - target: DRAM
      temporal: {N: 1, C: "<=4", M: ">=2", P: all}
      inner: [N]                # pinned innermost loops, outermost first
      keep: [Weights]
```

A factor value is an integer (exact), ``all`` (the whole bound), ``any`` (no rule), or a
string of ``<=k``/``>=k`` terms (``">=2 <=8"``). With the layer and the architecture at
hand the constraints are also validated (``validate_constraints``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..arch import Architecture
from ..constraints import Constraints, FactorRule, LevelConstraints, rule_text
from ..feasibility import check_names, validate_constraints
from ..workload import Workload
from .yaml_document import read_section, save_document
from .strict import (Where, describe, expect_bool, expect_int, expect_list, expect_map,
                     expect_names, expect_number,
                     expect_str)

__all__ = ["BODY_KEYS", "LEVEL_KEYS", "dump_constraints", "dump_constraints_body",
           "load_constraints", "load_constraints_body", "save_constraints"]

BODY_KEYS = ("default_max_factor", "default_min_factor", "min_pe_utilization", "imperfect",
             "levels")
LEVEL_KEYS = ("target", "temporal", "spatial", "spatial_x", "spatial_y", "inner", "outer",
              "keep", "bypass")
_NAME_LISTS = ("spatial_x", "spatial_y", "inner", "outer", "keep", "bypass")

_TIMELOOP_HINT = ("this looks like a Timeloop constraint; import it with "
                  "loopscape.spaces.io.timeloop_constraints")
_RULE_FIX = 'write an integer (exact), all, any, "<=k", ">=k" or e.g. ">=2 <=8"'
_TERM_RE = re.compile(r"\s*(?:(?P<word>all|any)|(?P<op><=|>=|=)?\s*(?P<num>[+-]?\d+))\s*,?")


# ----------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------

def load_constraints_body(body: Any, where: Where, workload: Workload | None = None,
                          arch: Architecture | None = None) -> Constraints:
    """Build Constraints from the map under ``constraints:``; check names against the
    given context and validate fully when both the layer and the architecture are given."""
    expect_map(body, where, allowed=BODY_KEYS, what="a map of constraints")
    dmax = dmin = None
    if body.get("default_max_factor") is not None:
        dmax = expect_int(body["default_max_factor"], where.at("default_max_factor"))
    if body.get("default_min_factor") is not None:
        dmin = expect_int(body["default_min_factor"], where.at("default_min_factor"))
    util = 0.0
    if body.get("min_pe_utilization") is not None:
        util = expect_number(body["min_pe_utilization"], where.at("min_pe_utilization"),
                             maximum=1.0)
    imperfect, imperfect_dims, imperfect_levels = False, None, None
    raw_imp = body.get("imperfect")
    if isinstance(raw_imp, dict):
        i_at = where.at("imperfect")
        expect_map(raw_imp, i_at, allowed=("dims", "levels"),
                   what="a map with dims and/or levels")
        imperfect = True
        if raw_imp.get("dims") is not None:
            imperfect_dims = tuple(expect_names(
                raw_imp["dims"], i_at.at("dims"), what="dimension",
                known=workload.dims if workload is not None else None))
        if raw_imp.get("levels") is not None:
            imperfect_levels = tuple(expect_names(
                raw_imp["levels"], i_at.at("levels"), what="level",
                known=arch.level_names if arch is not None else None))
    elif isinstance(raw_imp, list):
        imperfect = True
        imperfect_dims = tuple(expect_names(
            raw_imp, where.at("imperfect"), what="dimension",
            known=workload.dims if workload is not None else None))
    elif raw_imp is not None:
        imperfect = expect_bool(body["imperfect"], where.at("imperfect"))
    levels: list[LevelConstraints] = []
    if body.get("levels") is not None:
        l_at = where.at("levels")
        if isinstance(body["levels"], dict):
            raise l_at.error("expected a list with one entry per constrained level, got a map",
                             fix="write one '- target: LEVEL' entry per level")
        entries = expect_list(body["levels"], l_at, what="a list of levels")
        seen: list[str] = []
        for i, raw in enumerate(entries):
            named = isinstance(raw, dict) and isinstance(raw.get("target"), str) \
                and raw["target"].strip() and raw["target"] not in seen
            e_at = l_at.at(raw["target"] if named else i)
            lc = _load_level(raw, e_at, seen)
            seen.append(lc.target)
            levels.append(lc)
    c = Constraints(tuple(levels), dmin, dmax, util, imperfect, imperfect_dims,
                    imperfect_levels, source=where.source)
    if workload is not None and arch is not None:
        validate_constraints(c, workload, arch)
    elif workload is not None or arch is not None:
        check_names(c, workload, arch)
    return c


def _load_level(raw: Any, where: Where, seen: list[str]) -> LevelConstraints:
    if isinstance(raw, dict) and ("type" in raw or "factors" in raw or "permutation" in raw):
        bad = next(k for k in ("type", "factors", "permutation") if k in raw)
        raise where.at(bad).error(f"unknown key {bad!r}", fix=_TIMELOOP_HINT)
    expect_map(raw, where, allowed=LEVEL_KEYS, required=("target",),
               what="a map (one level's constraints)")
    target = expect_str(raw["target"], where.at("target"))
    if target in seen:
        raise where.at("target").error(f"level {target!r} has two entries",
                                       fix="merge them into one entry per level")
    rules = {k: _load_rules(raw.get(k), where.at(k)) for k in ("temporal", "spatial")}
    names: dict[str, tuple[str, ...] | None] = {}
    for k in _NAME_LISTS:
        names[k] = _load_names(raw[k], where.at(k)) if k in raw else None
    for k in ("inner", "outer", "keep", "bypass"):
        if names[k] is None:
            names[k] = ()
    return LevelConstraints(target=target, temporal=rules["temporal"], spatial=rules["spatial"],
                            spatial_x=names["spatial_x"], spatial_y=names["spatial_y"],
                            outer=names["outer"] or (), inner=names["inner"] or (),
                            keep=names["keep"] or (), bypass=names["bypass"] or ())


def _load_names(raw: Any, where: Where) -> tuple[str, ...]:
    """A list of distinct names (a dimension or tensor list); null is not allowed."""
    if isinstance(raw, str):
        raise where.error(f"expected a list of names, got {describe(raw)}",
                          fix=f"write [{raw}]")
    items = expect_list(raw, where, what="a list of names")
    out: list[str] = []
    for i, item in enumerate(items):
        name = expect_str(item, where.at(i))
        if name in out:
            raise where.error(f"{name!r} is listed twice", fix="list each name once")
        out.append(name)
    return tuple(out)


def _load_rules(raw: Any, where: Where) -> tuple[tuple[str, FactorRule], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise where.error(f"expected a map of dimension to factor rule, got {describe(raw)}",
                          fix='write e.g. {N: 1, C: "<=4", P: all}')
    out = []
    for d, v in raw.items():
        if not isinstance(d, str):
            raise where.error(f"dimension names must be strings, got {describe(d)}",
                              fix="write e.g. {N: 1}")
        out.append((d, parse_rule(v, where.at(d))))
    return tuple(out)


def parse_rule(value: Any, where: Where) -> FactorRule:
    """One factor rule: ``4``, ``all``, ``any``, ``"<=4"``, ``">=2"``, ``">=2 <=8"``."""
    if isinstance(value, (bool, float)):
        expect_int(value, where)  # always raises: a boolean or a decimal is no factor
    if isinstance(value, int):
        if value == 0:
            raise where.error("must be positive, got 0",
                              fix="write all for the whole bound (Timeloop's 0)")
        return FactorRule(exact=expect_int(value, where))
    if not isinstance(value, str):
        raise where.error(f"expected a factor rule, got {describe(value)}", fix=_RULE_FIX)
    text = value.strip()
    if not text:
        raise where.error("empty factor rule", fix=_RULE_FIX)
    pos = 0
    got: dict[str, int | bool] = {}
    while pos < len(text):
        m = _TERM_RE.match(text, pos)
        if not m or m.end() == pos:
            raise where.error(f"cannot read factor rule {value!r}", fix=_RULE_FIX)
        pos = m.end()
        if m.group("word"):
            kind, v = m.group("word"), True
        else:
            kind = {"<=": "max", ">=": "min"}.get(m.group("op") or "=", "exact")
            v = int(m.group("num"))
            if v <= 0:
                raise where.error(f"factors must be positive, got {v} in {value!r}",
                                  fix="use integers >= 1 (all for the whole bound)")
        if kind in ("all", "exact") and ({"all", "exact"} - {kind}) & set(got):
            raise where.error(f"factor rule {value!r} combines all (the whole bound) with an "
                              f"exact factor", fix="keep one of the two")
        if kind in got:
            raise where.error(f"factor rule {value!r} gives {_kind_name(kind)} twice",
                              fix="give one exact value, one minimum and one maximum at most")
        got[kind] = v
    if "any" in got:
        if len(got) > 1:
            raise where.error(f"'any' means no rule; it cannot be combined ({value!r})",
                              fix="write any alone, or only the bounds you need")
        return FactorRule()
    nums = {k: int(v) for k, v in got.items() if k in ("exact", "min", "max")}
    rule = FactorRule(exact=nums.get("exact"), min=nums.get("min"), max=nums.get("max"),
                      whole="all" in got)
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise where.error(f"the minimum {rule.min} is above the maximum {rule.max} in "
                          f"{value!r}", fix="make the minimum <= the maximum")
    return rule


def _kind_name(kind: str) -> str:
    return {"min": "a minimum", "max": "a maximum"}.get(kind, "an exact value")


def load_constraints(src: str | os.PathLike | dict, workload: Workload | None = None,
                     arch: Architecture | None = None) -> Constraints:
    """The constraints under ``constraints:`` in a file (path) or a parsed document (dict).
    Given the layer and the architecture they are also validated against both."""
    body, where = read_section(src, "constraints")
    return load_constraints_body(body, where, workload, arch)


# ----------------------------------------------------------------------------------
# Dumping
# ----------------------------------------------------------------------------------

def _rule_value(rule: FactorRule) -> int | str:
    if rule.exact is not None and not rule.whole and rule.min is None and rule.max is None:
        return rule.exact
    return rule_text(rule)


def dump_constraints_body(c: Constraints) -> dict:
    """The map to write under ``constraints:`` (only what differs from the defaults)."""
    out: dict[str, Any] = {}
    if c.default_max_factor is not None:
        out["default_max_factor"] = c.default_max_factor
    if c.default_min_factor is not None:
        out["default_min_factor"] = c.default_min_factor
    if c.min_pe_utilization:
        out["min_pe_utilization"] = c.min_pe_utilization
    if c.imperfect and c.imperfect_levels is not None:
        out["imperfect"] = {"levels": list(c.imperfect_levels)}
        if c.imperfect_dims is not None:
            out["imperfect"] = {"dims": list(c.imperfect_dims)} | out["imperfect"]
    elif c.imperfect:
        out["imperfect"] = True if c.imperfect_dims is None else list(c.imperfect_dims)
    levels = []
    for lc in c.levels:
        entry: dict[str, Any] = {"target": lc.target}
        for kind in ("temporal", "spatial"):
            rules = getattr(lc, kind)
            if rules:
                entry[kind] = {d: _rule_value(r) for d, r in rules}
        for kind in _NAME_LISTS:
            names = getattr(lc, kind)
            if names is None or (not names and kind not in ("spatial_x", "spatial_y")):
                continue
            entry[kind] = list(names)
        levels.append(entry)
    out["levels"] = levels
    return out


def dump_constraints(c: Constraints) -> dict:
    """``{"constraints": {...}}``; ``load_constraints(dump_constraints(c)) == c``."""
    return {"constraints": dump_constraints_body(c)}


def save_constraints(c: Constraints, path: str | os.PathLike) -> None:
    """Write ``c`` as a ``constraints:`` file, atomically."""
    save_document(dump_constraints(c), path, "constraints")
