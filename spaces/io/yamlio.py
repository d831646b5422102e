"""loopscape's own YAML format: the one loader and saver for layers, architectures and
mappings (docs/formats.md).

A file is a map whose top-level keys select what it holds: ``layer``, ``architecture``
and/or ``mapping``. Loaders take a path or an already-parsed dict (reported as
"<memory>") and raise SpecError naming the file, the dotted key and a fix for every
mistake. ``load_x(dump_x(obj)) == obj`` for everything the builders and presets make.
Saving is atomic: a temporary file in the target directory, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..arch import Architecture
from ..errors import SpecError
from ..mapping import Mapping
from ..workload import Workload
from .strict import MEMORY, Where, describe, parse_file
from .yaml_arch import dump_arch_body, load_arch_body
from .yaml_constraints import dump_constraints, load_constraints, save_constraints
from .yaml_layer import dump_layer_body, load_layer_body
from .yaml_mapping import dump_mapping_body, load_mapping_body

__all__ = ["TOP_KEYS", "dump_arch", "dump_constraints", "dump_mapping", "dump_workload",
           "load_arch", "load_constraints", "load_mapping", "load_workload", "load_yaml",
           "save_arch", "save_constraints", "save_mapping", "save_workload", "to_yaml",
           "write_atomic"]

TOP_KEYS = ("layer", "architecture", "mapping", "constraints")
_TIMELOOP_KEYS = ("problem", "architecture_constraints", "mapper", "mapspace",
                  "mapspace_constraints", "ERT", "compound_components", "variables",
                  "globals", "components")
_TIMELOOP_HINT = ("this looks like a Timeloop input; import it with "
                  "loopscape.spaces.io.load_timeloop (CLI: --from-timeloop)")

Source = str | os.PathLike | dict


# ----------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------

def load_yaml(path: str | os.PathLike) -> dict:
    """Parse a YAML file into a dict; SpecError for a missing, empty, non-YAML or non-map
    file and for duplicate keys (which plain PyYAML silently merges)."""
    data = parse_file(path)
    where = Where(str(path))
    if data is None:
        raise where.error("the file is empty", fix="write a YAML map (docs/formats.md)")
    if not isinstance(data, dict):
        raise where.error(f"expected a YAML map at the top level, got {describe(data)}",
                          fix="write key: value pairs (docs/formats.md)")
    return data


def _section(src: Source, section: str) -> tuple[Any, Where]:
    """The value under top-level key ``section`` and where it sits."""
    if isinstance(src, dict):
        data: Any = src
        source = MEMORY
    elif isinstance(src, (str, os.PathLike)):
        source = str(src)
        data = parse_file(src)
    else:
        raise SpecError(f"expected a file path or a dict, got {type(src).__name__}",
                        source=MEMORY, key=section,
                        fix=f"pass a path or a dict such as {{'{section}': ...}}")
    top = Where(source)
    if data is None:
        raise top.at(section).error(
            "the file is empty", fix=f"write a top-level '{section}:' map (docs/formats.md)")
    if not isinstance(data, dict):
        raise top.at(section).error(
            f"expected a YAML map with a top-level {section!r} key, got {describe(data)}",
            fix=f"write '{section}:' followed by its fields (docs/formats.md)")
    for k in data:
        if k not in TOP_KEYS:
            fix = (_TIMELOOP_HINT if k in _TIMELOOP_KEYS
                   else f"allowed top-level keys: {', '.join(TOP_KEYS)}")
            if k in ("name", "type", "levels", "target"):
                fix = f"put the fields under a top-level '{section}:' key"
            raise top.at(str(k)).error(f"unknown top-level key {k!r}", fix=fix)
    if section not in data:
        have = ", ".join(repr(k) for k in data) or "nothing"
        raise top.at(section).error(f"missing required top-level key {section!r} (the file "
                                    f"holds {have})",
                                    fix=f"add '{section}:' (docs/formats.md)")
    return data[section], top.at(section)


def load_workload(src: Source) -> Workload:
    """The layer under ``layer:`` in a file (path) or a parsed document (dict)."""
    body, where = _section(src, "layer")
    return load_layer_body(body, where)


def load_arch(src: Source) -> Architecture:
    """The architecture under ``architecture:`` in a file or a parsed document."""
    body, where = _section(src, "architecture")
    return load_arch_body(body, where)


def load_mapping(src: Source, workload: Workload | None = None,
                 arch: Architecture | None = None, *, check_capacity: bool = True) -> Mapping:
    """The mapping under ``mapping:``. Given the workload and architecture it is also
    checked against them (dimension names, factor products, level order, fanout, keep
    sets and, unless ``check_capacity`` is False, buffer capacities)."""
    body, where = _section(src, "mapping")
    return load_mapping_body(body, where, workload, arch, check_capacity=check_capacity)


# ----------------------------------------------------------------------------------
# Dumping and saving
# ----------------------------------------------------------------------------------

def dump_workload(w: Workload) -> dict:
    """``{"layer": {...}}``: the builder form when it rebuilds ``w``, else the einsum form."""
    return {"layer": dump_layer_body(w)}


def dump_arch(a: Architecture) -> dict:
    """``{"architecture": {...}}`` with every non-default field."""
    return {"architecture": dump_arch_body(a)}


def dump_mapping(m: Mapping) -> dict:
    """``{"mapping": [...]}``, one entry per level, loops outermost first."""
    return {"mapping": dump_mapping_body(m)}


class _FlowDict(dict):
    pass


class _FlowList(list):
    pass


class _Dumper(yaml.SafeDumper):
    """Block style overall, flow style for short leaf maps and lists; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(_FlowDict, lambda d, v: d.represent_mapping(
    "tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))

_FLOW_KEYS = frozenset({"mesh", "keeps", "keep", "temporal", "spatial_x", "spatial_y",
                        "energy_pj", "bandwidth", "tensor_bits", "bounds", "stride",
                        "dilation", "spatial", "inner", "outer", "bypass"})


def _styled(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        inner = {k: _styled(v, k) for k, v in value.items()}
        return _FlowDict(inner) if key in _FLOW_KEYS else inner
    if isinstance(value, list):
        inner_list = [_styled(v) for v in value]
        return _FlowList(inner_list) if key in _FLOW_KEYS else inner_list
    return value


def to_yaml(document: dict) -> str:
    """YAML text of a document made by the dump functions (readable, order kept)."""
    return yaml.dump(_styled(document), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=100)


def write_atomic(data: str | bytes, path: str | os.PathLike) -> None:
    """Write text (UTF-8) or bytes to ``path`` atomically: a temporary file in the same
    directory, flushed to disk, then ``os.replace``. An existing file keeps its mode, a
    new one gets 0644; a missing directory is a SpecError. Every loopscape writer uses it."""
    p = Path(path)
    directory = p.parent
    if not directory.is_dir():
        raise SpecError("the directory does not exist", source=str(path),
                        fix="create the directory first")
    if p.is_dir():
        raise SpecError("is a directory, expected a file name", source=str(path),
                        fix="give a file path")
    mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save(document: dict, path: str | os.PathLike, what: str) -> None:
    header = f"# loopscape {what} (format: docs/formats.md)\n"
    write_atomic(header + to_yaml(document), path)


def save_workload(w: Workload, path: str | os.PathLike) -> None:
    """Write ``w`` as a ``layer:`` file, atomically."""
    _save(dump_workload(w), path, "layer")


def save_arch(a: Architecture, path: str | os.PathLike) -> None:
    """Write ``a`` as an ``architecture:`` file, atomically."""
    _save(dump_arch(a), path, "architecture")


def save_mapping(m: Mapping, path: str | os.PathLike) -> None:
    """Write ``m`` as a ``mapping:`` file, atomically."""
    _save(dump_mapping(m), path, "mapping")
