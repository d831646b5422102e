"""One loopscape YAML document: read one top-level section, render and save atomically.

The loaders (:mod:`.yamlio` for workloads, architectures and mappings,
:mod:`.yaml_constraints` for constraints) read their section with :func:`read_section`
and write with :func:`save_document`; every loopscape writer goes through
:func:`write_atomic` (a temporary file in the target directory, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError
from .strict import MEMORY, Where, describe, did_you_mean, parse_file

__all__ = ["Source", "TOP_KEYS", "load_yaml", "read_section", "save_document", "to_yaml",
           "write_atomic"]

TOP_KEYS = ("layer", "architecture", "mapping", "constraints")
_TIMELOOP_KEYS = ("problem", "architecture_constraints", "mapper", "mapspace",
                  "mapspace_constraints", "ERT", "compound_components", "variables",
                  "globals", "components")
_TIMELOOP_HINT = ("this looks like a Timeloop input; import it with "
                  "loopscape.spaces.io.load_timeloop (CLI: --from-timeloop)")

Source = str | os.PathLike | dict


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


def read_section(src: Source, section: str) -> tuple[Any, Where]:
    """The value under top-level key ``section`` of a file (path) or a parsed document
    (dict, reported as "<memory>") and where it sits; SpecError for a missing, empty or
    non-map file, an unknown top-level key and a missing section."""
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
            raise top.at(str(k)).error(
                f"unknown top-level key {k!r}{did_you_mean(k, TOP_KEYS)}", fix=fix)
    if section not in data:
        have = ", ".join(repr(k) for k in data) or "nothing"
        raise top.at(section).error(f"missing required top-level key {section!r} (the file "
                                    f"holds {have})",
                                    fix=f"add '{section}:' (docs/formats.md)")
    return data[section], top.at(section)


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


def save_document(document: dict, path: str | os.PathLike, what: str) -> None:
    """Write a dumped document with a one-line header naming ``what`` it holds, atomically."""
    header = f"# loopscape {what} (format: docs/formats.md)\n"
    write_atomic(header + to_yaml(document), path)
