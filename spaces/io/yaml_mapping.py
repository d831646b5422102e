"""The ``mapping:`` section of loopscape's YAML format.

One entry per architecture level, outermost first. Loops are maps from dimension to
factor and YAML keeps map order, so ``temporal: {P: 8, Q: 2}`` puts P outside Q. With a
workload and an architecture at hand the mapping is checked against both, and every
problem is reported at the key that causes it.
"""

from __future__ import annotations

import math

from typing import Any

from ..arch import Architecture
from ..mapping import LevelMapping, Loop, Mapping, mapping_problems
from ..residuals import coverage_problems, covered
from ..workload import Workload
from .strict import Where, describe, expect_int, expect_list, expect_map, expect_names, expect_str

ENTRY_KEYS = ("target", "temporal", "spatial_x", "spatial_y", "keep")
LOOP_KINDS = ("temporal", "spatial_x", "spatial_y")

_TIMELOOP_HINT = ("this looks like a Timeloop mapping; import it with "
                  "loopscape.spaces.io.load_timeloop (CLI: --from-timeloop)")


def load_mapping_body(body: Any, where: Where, workload: Workload | None = None,
                      arch: Architecture | None = None, *,
                      check_capacity: bool = True) -> Mapping:
    """Build a Mapping from the list under ``mapping:``; check it when given its context."""
    if isinstance(body, dict):
        raise where.error("expected a list with one entry per architecture level, got a map",
                          fix="write one '- target: LEVEL' entry per level, outermost first")
    entries = expect_list(body, where, what="a list of levels")
    if not entries:
        raise where.error("the mapping has no levels",
                          fix="write one '- target: LEVEL' entry per level, outermost first")
    targets = _targets(entries, where)
    if arch is not None:
        _check_targets(targets, arch, where)
    levels = []
    for i, (raw, target) in enumerate(zip(entries, targets)):
        dummy = arch is not None and arch.levels[i].dummy
        levels.append(_load_entry(raw, where.at(target), target, workload, arch, dummy))
    mapping = Mapping(tuple(levels))
    if workload is not None:
        _check_products(mapping, workload, where)
    if workload is not None and arch is not None:
        problems = mapping_problems(workload, arch, mapping, check_capacity=check_capacity)
        if problems:
            raise _problem_error(problems[0], where)
    return mapping


def _targets(entries: list, where: Where) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(entries):
        named = isinstance(raw, dict) and isinstance(raw.get("target"), str) \
            and raw["target"].strip() and raw["target"] not in out
        ew = where.at(raw["target"] if named else i)
        if isinstance(raw, dict) and ("factors" in raw or "permutation" in raw
                                      or "type" in raw):
            bad = next(k for k in ("type", "factors", "permutation") if k in raw)
            raise ew.at(bad).error(f"unknown key {bad!r}", fix=_TIMELOOP_HINT)
        expect_map(raw, ew, allowed=ENTRY_KEYS, required=("target",),
                   what="a map (one level's loops)")
        target = expect_str(raw["target"], ew.at("target"))
        if target in out:
            raise ew.at("target").error(f"level {target!r} appears twice",
                                        fix="give exactly one entry per level")
        out.append(target)
    return out


def _check_targets(targets: list[str], arch: Architecture, where: Where) -> None:
    names = list(arch.level_names)
    order = ", ".join(names)
    for t in targets:
        if t not in names:
            raise where.at(t).at("target").error(
                f"architecture {arch.name!r} has no level {t!r}",
                fix=f"its levels, outermost first: {order}")
    if len(targets) != len(names):
        missing = [n for n in names if n not in targets]
        raise where.error(f"the mapping has {len(targets)} levels but architecture "
                          f"{arch.name!r} has {len(names)}; missing {missing}",
                          fix=f"give one entry per level, outermost first: {order}")
    for i, (t, n) in enumerate(zip(targets, names)):
        if t != n:
            raise where.at(t).at("target").error(
                f"entry {i} is {t!r} but level {i} of {arch.name!r} is {n!r}",
                fix=f"list the entries in the architecture's order: {order}")


def _load_entry(raw: dict, where: Where, target: str, workload: Workload | None,
                arch: Architecture | None, dummy: bool) -> LevelMapping:
    loops = {k: _loops(raw.get(k), where.at(k), workload) for k in LOOP_KINDS}
    if "keep" in raw:
        keep = expect_names(raw["keep"], where.at("keep"), what="tensor",
                            known=workload.tensor_names if workload is not None else None)
    elif dummy:
        keep = ()
    else:
        raise where.error("missing required key 'keep'",
                          fix="list the tensors this level keeps, or keep: [] to bypass all")
    if arch is not None:
        lvl = arch.levels[arch.index(target)]
        for t in keep:
            if not lvl.may_keep(t):
                why = ("it is a dummy level that holds no data" if lvl.dummy
                       else f"it may only keep {list(lvl.keeps or [])}")
                raise where.at("keep").error(f"level {target!r} cannot keep {t}: {why}",
                                             fix=f"remove {t} from keep")
    return LevelMapping(target, loops["temporal"], loops["spatial_x"], loops["spatial_y"],
                        keep)


def _loops(raw: Any, where: Where, workload: Workload | None) -> tuple[Loop, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise where.error(f"expected a map of dimension to factor, got {describe(raw)}",
                          fix="write e.g. {P: 8, Q: 2} (outermost loop first)")
    out = []
    for d, f in raw.items():
        if not isinstance(d, str):
            raise where.error(f"dimension names must be strings, got {describe(d)}",
                              fix="write e.g. {P: 8}")
        if workload is not None and d not in workload.dims:
            raise where.at(d).error(f"unknown dimension {d!r}",
                                    fix=f"layer {workload.name!r} has {list(workload.dims)}")
        out.append(_loop(d, f, where.at(d)))
    return tuple(out)


def _loop(d: str, f: Any, where: Where) -> Loop:
    """``P: 4`` or, for a loop with a residual, ``P: [4, 3]`` (end 4, residual 3)."""
    if not isinstance(f, list):
        return Loop(d, expect_int(f, where, minimum=1))
    if len(f) != 2:
        raise where.error(f"expected [factor, residual], got {describe(f)}",
                          fix="write e.g. P: [4, 3] (4 iterations, 3 on the last pass)")
    factor = expect_int(f[0], where.at(0), minimum=1)
    residual = expect_int(f[1], where.at(1), minimum=1)
    if residual > factor:
        raise where.error(f"residual {residual} exceeds the factor {factor}",
                          fix=f"a residual is 1..{factor}")
    return Loop(d, factor, residual)


def _check_products(mapping: Mapping, w: Workload, where: Where) -> None:
    for d in w.dims:
        problems = coverage_problems(mapping, [d], {d: w.bound(d)})
        if not problems:
            continue
        loops = [(lm.target, l) for lm in mapping.levels for l in lm.temporal + lm.spatial
                 if l.dim == d and l.factor != 1]
        if "outermost" in problems[0] or "residual of" in problems[0]:
            raise where.error(problems[0], fix="see docs/formats.md (residual loops)")
        shown = " x ".join(f"{t} {l.factor}" + (f",{l.residual}" if l.imperfect else "")
                           for t, l in loops) or "no loops"
        if any(l.imperfect for _, l in loops):
            raise where.error(
                f"the loops of {d} cover {covered([l for _, l in loops])} points ({shown}) "
                f"but layer {w.name!r} has {d} = {w.bound(d)}",
                fix=f"choose factors and residuals of {d} that cover exactly {w.bound(d)} "
                    f"(docs/formats.md, residual loops)")
        prod = math.prod(l.factor for _, l in loops)
        raise where.error(
            f"the factors of {d} multiply to {prod} ({shown}) but layer {w.name!r} has "
            f"{d} = {w.bound(d)}",
            fix=f"make the factors of {d} over all levels multiply to exactly {w.bound(d)}")


def _problem_error(problem: tuple[str | None, str | None, str], where: Where):
    level, tensor, msg = problem
    w = where if level is None else where.at(level)
    if "kept tiles need" in msg:
        fix = "use smaller factors at or below this level, or bypass a tensor here"
    elif "minimum utilization" in msg:
        fix = "use larger tiles at this level"
    elif "spatial X" in msg:
        w, fix = w.at("spatial_x"), "make the X factors multiply to at most the X fanout"
    elif "spatial Y" in msg:
        w, fix = w.at("spatial_y"), "make the Y factors multiply to at most the Y fanout"
    elif "outermost level must keep" in msg:
        w, fix = w.at("keep"), "the outermost level keeps every tensor"
    elif tensor is not None:
        w, fix = w.at("keep"), "fix the keep list of this level"
    elif "two" in msg and "loops" in msg:
        fix = "put each dimension in at most one spatial map (X or Y) per level"
    else:
        fix = "see docs/formats.md (mapping)"
    return w.error(msg, fix=fix)


# ----------------------------------------------------------------------------------
# Dumping
# ----------------------------------------------------------------------------------

def dump_mapping_body(m: Mapping) -> list:
    """The list to write under ``mapping:``."""
    out = []
    for lm in m.levels:
        entry: dict = {"target": lm.target}
        for kind in LOOP_KINDS:
            loops = getattr(lm, kind)
            dims = [l.dim for l in loops]
            if len(set(dims)) != len(dims):
                raise Where("<dump>", f"mapping.{lm.target}.{kind}").error(
                    f"two {kind} loops of one dimension at level {lm.target!r} cannot be "
                    f"written (a map holds each dimension once)",
                    fix="merge them into one loop with the product of their factors")
            if loops or kind == "temporal":
                entry[kind] = {l.dim: [l.factor, l.residual] if l.imperfect else l.factor
                               for l in loops}
        entry["keep"] = list(lm.keep)
        out.append(entry)
    return out
