"""Strict YAML for sparsity (docs/sparsity.md)::

    sparsity:
      densities: {Weights: 0.3, Inputs: {distribution: hypergeometric, density: 0.5}}
      formats:   {GLB: {Inputs: [UOP, RLE]}, DRAM: {Weights: [UOP, CP]}}
      actions:
        - {level: GLB, type: gating, target: Weights, condition_on: [Inputs]}
      compute_optimization: gating
      levels:    {GLB: {metadata_read_pj: 0.4, metadata_fill_pj: 0.5, metadata_word_bits: 4}}

Unknown keys, wrong types and out-of-range values are errors naming file and key.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..sparsity import (ActionOptimization, Density, SparseLevelCosts, SparsitySpec,
                        TensorFormat)
from .strict import parse_file

_TOP = ("densities", "formats", "actions", "compute_optimization", "levels",
        "compute_gated_pj", "compute_skipped_pj", "layers", "description", "source")
_COSTS = tuple(f.name for f in fields(SparseLevelCosts))


def _map(v: Any, src: str, key: str) -> dict:
    if not isinstance(v, dict):
        raise SpecError(f"expected a map, got {v!r}", source=src, key=key)
    return v


def _num(v: Any, src: str, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(f"expected a number, got {v!r}", source=src, key=key)
    return float(v)


def _densities(raw: Any, src: str, at: str) -> list:
    out = []
    for t, d in _map(raw, src, at).items():
        key = f"{at}.{t}"
        if isinstance(d, dict):
            bad = set(d) - {"distribution", "density", "band_width"}
            if bad:
                raise SpecError(f"unknown keys {sorted(bad)}", source=src, key=key,
                                fix="a density has distribution, density, band_width")
            out.append((str(t), Density(str(d.get("distribution", "fixed_structured")),
                                        _num(d.get("density", 1.0), src, key),
                                        int(_num(d.get("band_width", 0), src, key)))))
        else:
            out.append((str(t), Density("fixed_structured", _num(d, src, key))))
    return out


def sparsity_from_data(doc: Any, src: str) -> SparsitySpec:
    doc = _map(doc, src, "")
    if set(doc) != {"sparsity"}:
        raise SpecError("a sparsity file has one top-level key, 'sparsity'", source=src,
                        key=",".join(map(str, doc)) or "sparsity", fix="see docs/sparsity.md")
    body = _map(doc["sparsity"] or {}, src, "sparsity")
    for k in body:
        if k not in _TOP:
            raise SpecError(f"unknown key {k!r}", source=src, key=f"sparsity.{k}",
                            fix=f"use {', '.join(_TOP)}")
    dens = _densities(body.get("densities") or {}, src, "sparsity.densities")
    layers = tuple((str(name), tuple(_densities(
        _map(v, src, f"sparsity.layers.{name}").get("densities") or {}, src,
        f"sparsity.layers.{name}.densities")))
        for name, v in _map(body.get("layers") or {}, src, "sparsity.layers").items())
    for name, v in (body.get("layers") or {}).items():
        bad = set(v) - {"densities"}
        if bad:
            raise SpecError(f"unknown keys {sorted(bad)}", source=src, key=f"sparsity.layers.{name}",
                            fix="a layer entry has densities only")
    formats = []
    for lvl, per in _map(body.get("formats") or {}, src, "sparsity.formats").items():
        for t, ranks in _map(per, src, f"sparsity.formats.{lvl}").items():
            if isinstance(ranks, str):
                ranks = [ranks]
            key = f"sparsity.formats.{lvl}.{t}"
            if not isinstance(ranks, list):
                raise SpecError("expected a list of rank formats, outermost first", source=src,
                                key=key, fix="e.g. [UOP, CP]")
            names, flat = [], []
            for j, r in enumerate(ranks):
                if isinstance(r, dict):
                    bad = set(r) - {"format", "flatten"}
                    if bad or "format" not in r:
                        raise SpecError("a rank is a format name or {format, flatten}",
                                        source=src, key=f"{key}[{j}]",
                                        fix="e.g. {format: RLE, flatten: all}")
                    f = r.get("flatten")
                    flat.append(("*",) if f == "all" else tuple(map(str, f)) if f else None)
                    names.append(str(r["format"]).upper())
                else:
                    names.append(str(r).upper())
                    flat.append(None)
            formats.append(TensorFormat(str(lvl), str(t), tuple(names),
                                        tuple(flat) if any(flat) else ()))
    actions = []
    for i, a in enumerate(body.get("actions") or []):
        key = f"sparsity.actions[{i}]"
        a = _map(a, src, key)
        bad = set(a) - {"level", "type", "target", "condition_on"}
        if bad or not {"level", "type", "target", "condition_on"} <= set(a):
            raise SpecError("an action needs exactly level, type, target, condition_on",
                            source=src, key=key)
        cond = a["condition_on"]
        cond = (cond,) if isinstance(cond, str) else tuple(map(str, cond))
        actions.append(ActionOptimization(str(a["level"]), str(a["type"]), str(a["target"]), cond))
    costs = []
    for lvl, c in _map(body.get("levels") or {}, src, "sparsity.levels").items():
        c = _map(c, src, f"sparsity.levels.{lvl}")
        for k in c:
            if k not in _COSTS:
                raise SpecError(f"unknown key {k!r}", source=src, key=f"sparsity.levels.{lvl}.{k}",
                                fix=f"use {', '.join(_COSTS)}")
        vals = {k: (int(_num(v, src, f"sparsity.levels.{lvl}.{k}")) if k in (
            "metadata_word_bits", "metadata_storage_width_bits") else _num(v, src, f"sparsity.levels.{lvl}.{k}"))
            for k, v in c.items()}
        costs.append((str(lvl), SparseLevelCosts(**vals)))
    opt = body.get("compute_optimization")
    cg = body.get("compute_gated_pj")
    cs = body.get("compute_skipped_pj")
    return SparsitySpec(tuple(dens), tuple(formats), tuple(actions),
                        None if opt is None else str(opt), tuple(costs),
                        None if cg is None else _num(cg, src, "sparsity.compute_gated_pj"),
                        None if cs is None else _num(cs, src, "sparsity.compute_skipped_pj"),
                        layers, source=src)


def load_sparsity(path: str | Path) -> SparsitySpec:
    """A sparsity YAML file, or the name of a sparsity preset (spaces/presets)."""
    p = Path(path)
    if not p.is_file():
        if os.sep in str(path) or "/" in str(path) or str(path).endswith((".yaml", ".yml")):
            raise SpecError("no such file", source=str(path), key="--sparsity",
                            fix="give the path of a YAML file with a top-level sparsity: map")
        from ..presets import preset_path
        p = preset_path(str(path), "sparsity")
    return sparsity_from_data(parse_file(p), str(path))
