"""Built-in architectures, workloads (preset kind "layer"), mappings and constraints, stored as YAML files in loopscape's format.

Each ``*.yaml`` file in this package is one preset named after the file. Its header
comment carries a ``# Source:`` (where every number comes from; may continue on
indented ``#`` lines) and a one-line ``# Description:``. The CLI resolves the names
given on its command line here: an existing file wins, then a preset name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..arch import Architecture
from ..errors import SpecError
from ..mapping import Mapping
from ..workload import Workload
from ..io.yamlio import load_arch, load_constraints, load_mapping, load_workload, load_yaml

__all__ = ["PresetInfo", "list_presets", "load_arch_preset", "load_layer_preset",
           "load_workload_preset", "preset_path", "resolve_arch", "resolve_constraints",
           "resolve_layer", "resolve_mapping", "resolve_workload"]

_KINDS = {"architecture": "architecture", "layer": "layer", "mapping": "mapping",
          "constraints": "constraints", "sparsity": "sparsity"}


@dataclass(frozen=True)
class PresetInfo:
    """One preset: its name, kind ("architecture", "layer" or "mapping"), description and
    source. A mapping preset also names the architecture and layer it maps."""

    name: str
    kind: str
    description: str
    source: str
    path: str
    architecture: str = ""
    layer: str = ""

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "description": self.description,
             "source": self.source, "path": self.path}
        if self.kind == "mapping":
            d.update(architecture=self.architecture, layer=self.layer)
        elif self.kind in ("constraints", "sparsity"):
            d.update(architecture=self.architecture)
        return d


def _directory() -> Path:
    return Path(str(resources.files(__name__)))


def _header(text: str) -> dict[str, str]:
    """``Source``/``Description`` fields of the leading comment block."""
    fields: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:]
        head, sep, rest = body.strip().partition(":")
        if sep and head.lower() in ("source", "description", "architecture", "layer") \
                and not body.startswith("  "):
            current = head.lower()
            fields[current] = rest.strip()
        elif current and body.startswith("  ") and body.strip():
            fields[current] += " " + body.strip()
        else:
            current = None
    return fields


@lru_cache(maxsize=None)
def _index() -> tuple[PresetInfo, ...]:
    out = []
    for path in sorted(_directory().glob("*.yaml")):
        data = load_yaml(path)
        kinds = [k for k in _KINDS if k in data]
        if len(kinds) != 1:  # pragma: no cover - guarded by tests
            raise SpecError("a preset file must hold exactly one layer, architecture or mapping",
                            source=str(path), fix="split it into one file per preset")
        fields = _header(path.read_text(encoding="utf-8"))
        out.append(PresetInfo(path.stem, kinds[0], fields.get("description", ""),
                              fields.get("source", ""), str(path),
                              fields.get("architecture", ""), fields.get("layer", "")))
    return tuple(out)


def list_presets(kind: str | None = None) -> list[PresetInfo]:
    """All presets (architectures first, then layers), optionally of one kind."""
    if kind is not None and kind not in _KINDS:
        raise SpecError(f"unknown preset kind {kind!r}", key="kind",
                        fix=f"use one of {', '.join(_KINDS)}")
    items = [p for p in _index() if kind is None or p.kind == kind]
    rank = {"architecture": 0, "layer": 1, "mapping": 2, "constraints": 3, "sparsity": 4}
    return sorted(items, key=lambda p: (rank[p.kind], p.name))


def _names(kind: str) -> list[str]:
    return [p.name for p in list_presets(kind)]


def preset_path(name: str, kind: str) -> Path:
    """The file of preset ``name`` of the given kind; SpecError listing the presets."""
    for p in _index():
        if p.name == name:
            if p.kind != kind:
                raise SpecError(f"{name!r} is {_article(p.kind)} preset, not {_article(kind)}",
                                source=name, key=kind,
                                fix=f"{kind} presets: {', '.join(_names(kind))}")
            return Path(p.path)
    raise SpecError(f"no {kind} preset named {name!r}", source=name, key=kind,
                    fix=f"use one of {', '.join(_names(kind))} (see `loopscape presets`)")


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


@lru_cache(maxsize=None)
def load_arch_preset(name: str) -> Architecture:
    """The built-in architecture ``name`` (e.g. "eyeriss_like")."""
    return load_arch(preset_path(name, "architecture"))


@lru_cache(maxsize=None)
def load_workload_preset(name: str) -> Workload:
    """The built-in workload ``name`` (e.g. "resnet50_conv2_x_3x3"); presets of kind
    "layer"."""
    return load_workload(preset_path(name, "layer"))


# Documented alias (docs/api.md, "Workload and layer"): the older name, kept for users.
load_layer_preset = load_workload_preset


def _is_file(name_or_path: str | os.PathLike) -> bool:
    return Path(name_or_path).is_file()


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith((".yaml", ".yml"))


def _resolve(name_or_path: str | os.PathLike, kind: str):
    path = _file_or_preset(name_or_path, kind, f"{kind}: section")
    if path is not name_or_path:  # a preset: load it through the cache
        preset = load_arch_preset if kind == "architecture" else load_workload_preset
        return preset(str(name_or_path))
    return (load_arch if kind == "architecture" else load_workload)(path)


def resolve_arch(name_or_path: str | os.PathLike) -> Architecture:
    """An architecture from a YAML file (if it exists) or a preset name."""
    return _resolve(name_or_path, "architecture")


def resolve_workload(name_or_path: str | os.PathLike) -> Workload:
    """A workload from a YAML file (if it exists) or a preset name."""
    return _resolve(name_or_path, "layer")


# Documented alias (docs/api.md, "Workload and layer").
resolve_layer = resolve_workload


def _file_or_preset(name_or_path: str | os.PathLike, kind: str, what: str):
    """The path of an existing file, else of the preset of that name and kind."""
    text = str(name_or_path)
    if _is_file(name_or_path):
        return name_or_path
    if any(p.name == text for p in _index()):
        return preset_path(text, kind)  # names the right kind if this one is wrong
    if _looks_like_path(text):
        raise SpecError("no such file", source=text, key=kind,
                        fix=f"give the path of a YAML file with a top-level {what}")
    raise SpecError(f"{text!r} is neither {_article(kind)} preset nor an existing file",
                    source=text, key=kind,
                    fix=f"{kind} presets: {', '.join(_names(kind))}; or give a YAML file path")


def resolve_mapping(path: str | os.PathLike, workload: Workload, arch: Architecture, *,
                    check_capacity: bool = False) -> Mapping:
    """A mapping from a YAML file (if it exists) or a mapping preset name, checked
    against ``workload`` and ``arch``.

    Capacity is not checked by default: evaluation checks it (or skips it on request).
    """
    path = _file_or_preset(path, "mapping", "mapping: list")
    return load_mapping(path, workload, arch, check_capacity=check_capacity)


def resolve_constraints(name_or_path: str | os.PathLike, workload: Workload | None = None,
                        arch: Architecture | None = None):
    """Constraints from a YAML file (if it exists) or a constraints preset name."""
    path = _file_or_preset(name_or_path, "constraints", "constraints: map")
    return load_constraints(path, workload, arch)
