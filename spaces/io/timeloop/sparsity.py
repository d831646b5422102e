"""Timeloop's sparse inputs -> SparsitySpec: ``problem.instance.densities``,
``sparse_optimizations`` (representation formats, action and compute optimizations),
the metadata attributes of storage components and the ERT's sparse actions.

The exercises' files (timeloop-accelergy-exercises, sparseloop/) load as they are.
"""

from __future__ import annotations

import re
from typing import Any

from ...arch import Architecture
from ...errors import SpecError
from ...sparsity import (ActionOptimization, Density, SparseLevelCosts,
                         SparsitySpec, TensorFormat, validate_sparsity)
from ...workload import Workload

_RANGE = re.compile(r"^(?P<base>[^\[]+)(\[\d+\.\.\d+\])?$")
_TARGET_KEYS = {"name", "target", "representation_format", "action_optimization",
                "compute_optimization"}


def _base(name: str) -> str:
    name = re.sub(r"\[\d+\.\.\d+\]$", "", str(name))
    return name.rsplit(".", 1)[-1]


def _err(source: str, key: str, msg: str, fix: str | None = None) -> SpecError:
    return SpecError(msg, source=source, key=key, fix=fix)


def _densities(instance: dict, source: str) -> list[tuple[str, Density]]:
    out = []
    common = instance.get("commonDensity")
    raw = instance.get("densities") or {}
    if not isinstance(raw, dict):
        raise _err(source, "problem.instance.densities", "expected a map tensor -> density")
    for t, d in raw.items():
        key = f"problem.instance.densities.{t}"
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            if not 0.0 <= d <= 1.0:
                raise _err(source, key, f"density must be in [0, 1], got {d}")
            out.append((str(t), Density("fixed_structured", float(d))))
            continue
        if not isinstance(d, dict):
            raise _err(source, key, f"expected a number or a map, got {d!r}",
                       "e.g. {distribution: fixed_structured, density: 0.3}")
        unknown = set(d) - {"distribution", "density", "band_width", "workload_tensor_size"}
        if unknown:
            raise _err(source, key, f"unknown keys {sorted(unknown)}",
                       "a density has distribution, density, band_width")
        dist = d.get("distribution", "fixed_structured")
        try:
            dens = float(d.get("density", 1.0))
            band = int(d.get("band_width", 0) or 0)
        except (TypeError, ValueError):
            raise _err(source, key, "density and band_width must be numbers") from None
        if not 0.0 <= dens <= 1.0:
            raise _err(source, key, f"density must be in [0, 1], got {dens}")
        out.append((str(t), Density(str(dist), dens, band)))
    if common is not None and common != 1 and common != 1.0:
        raise _err(source, "problem.instance.commonDensity",
                   "commonDensity is not supported", "give per-tensor densities instead")
    return out


def _attr_int(attrs: dict, *names: str) -> int | None:
    for n in names:
        v = attrs.get(n)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return int(v)
    return None


def _level_costs(components: list[tuple[str, dict]], ert: dict[str, dict[str, float]],
                 arch: Architecture) -> list[tuple[str, SparseLevelCosts]]:
    out = []
    attrs_of = dict(components)
    for lvl in arch.levels:
        acts = ert.get(lvl.name, {})
        attrs = attrs_of.get(lvl.name, {})
        md_bits = _attr_int(attrs, "metadata_datawidth", "metadata_word_bits")
        md_width = _attr_int(attrs, "metadata_storage_width", "metadata_width")

        def g(*names: str) -> float:
            for n in names:
                if n in acts:
                    return float(acts[n])
            return 0.0

        out.append((lvl.name, SparseLevelCosts(
            metadata_read_pj=g("metadata_read"),
            metadata_fill_pj=g("metadata_write", "metadata_fill"),
            metadata_update_pj=g("metadata_update", "metadata_write"),
            gated_read_pj=g("gated_read"), gated_fill_pj=g("gated_write", "gated_fill"),
            gated_update_pj=g("gated_update"),
            skipped_read_pj=g("skipped_read"), skipped_fill_pj=g("skipped_write", "skipped_fill"),
            skipped_update_pj=g("skipped_update"),
            gated_metadata_read_pj=g("gated_metadata_read"),
            skipped_metadata_read_pj=g("skipped_metadata_read"),
            metadata_word_bits=md_bits, metadata_storage_width_bits=md_width or 0,
            decompression_pj=g("decompression_count"), compression_pj=g("compression_count"))))
    return out


def _storage_components(arch_raw: Any) -> list[tuple[str, dict]]:
    """(base name, attributes) of every component of a v0.4 tree or v0.3 subtree."""
    out: list[tuple[str, dict]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "name" in node and ("class" in node or "attributes" in node):
                out.append((_base(node["name"]), node.get("attributes") or {}))
            for k in ("subtree", "local", "nodes"):
                for child in node.get(k) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(arch_raw)
    return out


def timeloop_sparsity(merged: dict, origin: dict[str, str], workload: Workload,
                      arch: Architecture, ert: dict[str, dict[str, float]] | None
                      ) -> SparsitySpec | None:
    """The SparsitySpec the merged Timeloop documents describe, or None when dense."""
    src_p = origin.get("problem", "<timeloop>")
    src_s = origin.get("sparse_optimizations", "<timeloop>")
    instance = (merged.get("problem") or {}).get("instance") or {}
    dens = _densities(instance, src_p) if isinstance(instance, dict) else []
    raw = merged.get("sparse_optimizations") or {}
    if not isinstance(raw, dict):
        raise _err(src_s, "sparse_optimizations", "expected a map with 'targets'")
    unknown = set(raw) - {"targets", "version"}
    if unknown:
        raise _err(src_s, "sparse_optimizations", f"unknown keys {sorted(unknown)}",
                   "sparse_optimizations has targets (and version)")
    formats, actions = [], []
    compute_opt = None
    compute_name = arch.compute.name
    for i, t in enumerate(raw.get("targets") or []):
        key = f"sparse_optimizations.targets[{i}]"
        if not isinstance(t, dict):
            raise _err(src_s, key, "expected a map with name and optimizations")
        bad = set(t) - _TARGET_KEYS
        if bad:
            raise _err(src_s, key, f"unknown keys {sorted(bad)}",
                       "a target has name, representation_format, action_optimization, "
                       "compute_optimization")
        level = _base(t.get("name") or t.get("target") or "")
        rf = t.get("representation_format") or {}
        for ds in (rf.get("data_spaces") or []) if isinstance(rf, dict) else []:
            ranks = tuple(str(r.get("format", "")).upper() for r in ds.get("ranks") or [])
            ranks = tuple("B" if r == "UB" else r for r in ranks)
            flat = tuple(tuple(map(str, (r.get("flattened_rankIDs") or [[]])[0])) or None
                         if r.get("flattened_rankIDs") else None for r in ds.get("ranks") or [])
            if ranks:
                formats.append(TensorFormat(level, str(ds.get("name")), ranks,
                                            flat if any(flat) else ()))
        for a in t.get("action_optimization") or []:
            kind = str(a.get("type", ""))
            kind = {"gating": "gating", "skipping": "skipping"}.get(kind, kind)
            if kind == "spatial_skipping":
                raise _err(src_s, f"{key}.action_optimization", "spatial_skipping is not "
                           "supported", "use gating or skipping")
            for o in a.get("options") or []:
                cond = o.get("condition_on") or []
                cond = (cond,) if isinstance(cond, str) else tuple(cond)
                actions.append(ActionOptimization(level, kind, str(o.get("target")), cond))
        for c in t.get("compute_optimization") or []:
            if level != compute_name:
                raise _err(src_s, f"{key}.compute_optimization",
                           f"compute_optimization is given for {level!r}, which is not the "
                           f"compute unit", f"put it under the target {compute_name!r}")
            compute_opt = str(c.get("type"))
    costs = _level_costs(_storage_components(merged.get("architecture")), ert or {}, arch)
    cacts = (ert or {}).get(compute_name, {})
    spec = SparsitySpec(tuple(dens), tuple(formats), tuple(actions), compute_opt, tuple(costs),
                        cacts.get("compute_gated", cacts.get("gated_compute")),
                        cacts.get("compute_skipped", cacts.get("skipped_compute")),
                        source=src_s if raw else src_p)
    validate_sparsity(spec, workload, arch)
    if not dens and spec.is_dense:
        return None
    return spec
