"""A Timeloop mapping (``mapping:`` list of directives) -> a loopscape Mapping."""

from __future__ import annotations

import re
from typing import Any

from ...arch import Architecture
from ...mapping import LevelMapping, Loop, Mapping
from ...workload import Workload
from ...residuals import coverage_problems
from ..strict import Where, did_you_mean, expect_int, expect_list, expect_map, expect_names
from .common import is_empty

__all__ = ["parse_mapping"]

_FACTOR_RE = re.compile(r"([A-Za-z]+)\s*=*\s*([0-9]+)(?:,([0-9]+))?")
_DIRECTIVE_KEYS = {
    "temporal": ("target", "type", "factors", "permutation"),
    "spatial": ("target", "type", "factors", "permutation", "split"),
    "bypass": ("target", "type", "keep", "bypass"),
}
_UNSUPPORTED_DIRECTIVE_KEYS = ("no_link_transfer", "no_reuse", "no_temporal_reuse",
                               "rmw_first_update", "no_coalesce")


def _parse_factors(raw: Any, at: Where, workload: Workload
                   ) -> dict[str, tuple[int, int | None]]:
    """Factors in any of Timeloop's spellings: "R=1,P=16", "R=1 P=16", "C1 M8", a list of
    such strings, or a map, as (end, residual or None). ``P=4,3`` is a loop of end 4 and
    residual 3. A dimension left out has factor 1; 0 means the whole bound."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        pairs = [(str(k), v, at.at(str(k))) for k, v in raw.items()]
    else:
        text = " ".join(raw) if isinstance(raw, list) and all(isinstance(x, str) for x in raw) \
            else raw
        if not isinstance(text, str):
            raise at.error(f"expected factors such as 'R=3 P=16', got {raw!r}")
        text = text.split("#", 1)[0]
        pairs = []
        leftover = _FACTOR_RE.sub(" ", text)
        if leftover.strip(" ,\t\n"):
            raise at.error(f"cannot read factors {raw!r}",
                           fix="write them as 'R=3 P=16', 'R=3,P=16' or 'R3 P16'")
        for m in _FACTOR_RE.finditer(text):
            residual = None if m.group(3) is None else int(m.group(3))
            pairs.append((m.group(1), int(m.group(2)), at, residual))
    out: dict[str, tuple[int, int | None]] = {}
    for dim, value, v_at, *rest in pairs:
        if dim not in workload.dims:
            raise v_at.error(f"unknown dimension {dim!r} in factors",
                             fix=f"use dimensions of the problem: {list(workload.dims)}")
        if dim in out:
            raise v_at.error(f"dimension {dim} is given two factors")
        f = expect_int(value, v_at, minimum=0, lenient=True)
        f = f if f > 0 else workload.bound(dim)
        residual = rest[0] if rest else None
        if residual is not None and not 1 <= residual <= f:
            raise v_at.error(f"residual {residual} of {dim}={f} is outside 1..{f}",
                             fix=f"write {dim}=END,RESIDUAL with 1 <= RESIDUAL <= END")
        out[dim] = (f, residual)
    return out


def _parse_permutation(raw: Any, at: Where, workload: Workload) -> list[str]:
    """Dimensions innermost first; those left out are appended in problem order
    (Timeloop pads an incomplete permutation the same way)."""
    if raw is None:
        order: list[str] = []
    elif isinstance(raw, list):
        order = [str(x) for x in raw]
    elif isinstance(raw, str):
        order = [c for c in raw if not c.isspace()]
    else:
        raise at.error(f"expected a permutation string such as 'RPK', got {raw!r}")
    for d in order:
        if d not in workload.dims:
            raise at.error(f"unknown dimension {d!r} in permutation {raw!r}",
                           fix=f"use dimensions of the problem: {list(workload.dims)}")
    if len(set(order)) != len(order):
        raise at.error(f"a dimension repeats in permutation {raw!r}")
    return order + [d for d in workload.dims if d not in order]


def parse_mapping(raw: Any, at: Where, workload: Workload, arch: Architecture) -> Mapping:
    entries = expect_list(raw, at)
    names = list(arch.level_names)
    n = len(names)
    temporal: dict[int, list[Loop]] = {}
    spatial: dict[int, tuple[list[Loop], list[Loop]]] = {}
    keep = [set() if lvl.dummy else set(workload.tensor_names) for lvl in arch.levels]
    for i, e in enumerate(entries):
        e_at = at.at(i)
        e = expect_map(e, e_at)
        kind = e.get("type")
        if kind in ("datatype", "dataspace"):
            kind = "bypass"
        if kind == "skew":
            raise e_at.at("type").error("skew directives are not supported")
        if kind not in _DIRECTIVE_KEYS:
            raise e_at.at("type").error(
                f"unknown mapping type {e.get('type')!r}",
                fix="use temporal, spatial, bypass (or datatype/dataspace)")
        for key in e:
            if key in _UNSUPPORTED_DIRECTIVE_KEYS:
                if is_empty(e[key]):
                    continue
                raise e_at.at(key).error(f"{key} is not supported by loopscape",
                                         fix=f"remove {key}")
            if key not in _DIRECTIVE_KEYS[kind]:
                raise e_at.at(str(key)).error(
                    f"unknown key {key!r} in a {e['type']} entry"
                    f"{did_you_mean(key, _DIRECTIVE_KEYS[kind])}",
                    fix=f"a {e['type']} entry has {', '.join(_DIRECTIVE_KEYS[kind])}")
        target = e.get("target")
        if isinstance(target, int) and not isinstance(target, bool):
            if not 0 <= target < n:  # Timeloop numbers storage levels innermost first
                raise e_at.at("target").error(f"storage level id {target} out of range 0..{n - 1}")
            lvl = n - 1 - target
        elif isinstance(target, str) and target in names:
            lvl = names.index(target)
        else:
            raise e_at.at("target").error(f"unknown target {target!r}",
                                          fix=f"use one of the storage levels {names}")
        if kind == "bypass":
            k_list = expect_names(e.get("keep"), e_at.at("keep"), lenient=True)
            b_list = expect_names(e.get("bypass"), e_at.at("bypass"), lenient=True)
            for key, lst in (("keep", k_list), ("bypass", b_list)):
                for t in lst:
                    if t not in workload.tensor_names:
                        raise e_at.at(key).error(f"unknown data space {t!r}",
                                                 fix=f"use {list(workload.tensor_names)}")
            both = set(k_list) & set(b_list)
            if both:
                raise e_at.error(f"{sorted(both)} both kept and bypassed at {names[lvl]}")
            keep[lvl] |= set(k_list)
            keep[lvl] -= set(b_list)
            continue
        if kind in ("temporal", "spatial") and (lvl in (temporal if kind == "temporal"
                                                        else spatial)):
            raise e_at.error(f"a second {kind} entry for {names[lvl]}",
                             fix=f"give each level at most one {kind} entry")
        factors = _parse_factors(e.get("factors"), e_at.at("factors"), workload)
        perm = _parse_permutation(e.get("permutation"), e_at.at("permutation"), workload)
        if kind == "temporal":
            inner_first = [Loop(d, *factors[d]) for d in perm if factors.get(d, (1,))[0] > 1]
            temporal[lvl] = inner_first[::-1]
            continue
        fx, fy = arch.fanout(lvl)
        if fx * fy == 1 and any(f > 1 for f, _ in factors.values()):
            raise e_at.at("target").error(
                f"{names[lvl]} has no spatial fanout (the next level has as many instances)",
                fix="put spatial factors on a level whose child has more instances")
        split = len(workload.dims)
        if e.get("split") is not None:
            split = expect_int(e["split"], e_at.at("split"), minimum=0, lenient=True)
        xs = [Loop(d, *factors[d]) for d in perm[:split] if factors.get(d, (1,))[0] > 1]
        ys = [Loop(d, *factors[d]) for d in perm[split:] if factors.get(d, (1,))[0] > 1]
        spatial[lvl] = (xs[::-1], ys[::-1])
    levels = []
    for i in range(n):
        xs, ys = spatial.get(i, ([], []))
        levels.append(LevelMapping(
            target=names[i], temporal=tuple(temporal.get(i, [])), spatial_x=tuple(xs),
            spatial_y=tuple(ys), keep=tuple(t for t in workload.tensor_names if t in keep[i])))
    mapping = Mapping(tuple(levels))
    problems = coverage_problems(mapping, workload.dims,
                                 {d: workload.bound(d) for d in workload.dims})
    if problems:
        raise at.error(problems[0].replace("multiply to", "multiply to", 1),
                       fix="make the factors of every dimension multiply to its bound, or "
                           "cover it exactly with residuals (P=END,RESIDUAL)")
    return mapping
