"""loopscape's own YAML format: the one loader and saver for layers, architectures and
mappings (docs/formats.md).

A file is a map whose top-level keys select what it holds: ``layer``, ``architecture``
and/or ``mapping``. Loaders take a path or an already-parsed dict (reported as
"<memory>") and raise SpecError naming the file, the dotted key and a fix for every
mistake. ``load_x(dump_x(obj)) == obj`` for everything the builders and presets make.
Saving is atomic (:func:`.yaml_document.write_atomic`).
"""

from __future__ import annotations

import os

from ..arch import Architecture
from ..mapping import Mapping
from ..workload import Workload
from .yaml_arch import dump_arch_body, load_arch_body
from .yaml_constraints import dump_constraints, load_constraints, save_constraints
from .yaml_workload import dump_workload_body, load_workload_body
from .yaml_mapping import dump_mapping_body, load_mapping_body
from .yaml_document import (TOP_KEYS, Source, load_yaml, read_section, save_document, to_yaml,
                            write_atomic)

# load_yaml, to_yaml and write_atomic live in .yaml_document; re-exported here.
__all__ = ["TOP_KEYS", "dump_arch", "dump_constraints", "dump_mapping", "dump_workload",
           "load_arch", "load_constraints", "load_mapping", "load_workload", "load_yaml",
           "save_arch", "save_constraints", "save_mapping", "save_workload", "to_yaml",
           "write_atomic"]

# ----------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------

def load_workload(src: Source) -> Workload:
    """The layer under ``layer:`` in a file (path) or a parsed document (dict)."""
    body, where = read_section(src, "layer")
    return load_workload_body(body, where)


def load_arch(src: Source) -> Architecture:
    """The architecture under ``architecture:`` in a file or a parsed document."""
    body, where = read_section(src, "architecture")
    return load_arch_body(body, where)


def load_mapping(src: Source, workload: Workload | None = None,
                 arch: Architecture | None = None, *, check_capacity: bool = True) -> Mapping:
    """The mapping under ``mapping:``. Given the workload and architecture it is also
    checked against them (dimension names, factor products, level order, fanout, keep
    sets and, unless ``check_capacity`` is False, buffer capacities)."""
    body, where = read_section(src, "mapping")
    return load_mapping_body(body, where, workload, arch, check_capacity=check_capacity)


# ----------------------------------------------------------------------------------
# Dumping and saving
# ----------------------------------------------------------------------------------

def dump_workload(w: Workload) -> dict:
    """``{"layer": {...}}``: the builder form when it rebuilds ``w``, else the einsum form."""
    return {"layer": dump_workload_body(w)}


def dump_arch(a: Architecture) -> dict:
    """``{"architecture": {...}}`` with every non-default field."""
    return {"architecture": dump_arch_body(a)}


def dump_mapping(m: Mapping) -> dict:
    """``{"mapping": [...]}``, one entry per level, loops outermost first."""
    return {"mapping": dump_mapping_body(m)}


def save_workload(w: Workload, path: str | os.PathLike) -> None:
    """Write ``w`` as a ``layer:`` file, atomically."""
    save_document(dump_workload(w), path, "layer")


def save_arch(a: Architecture, path: str | os.PathLike) -> None:
    """Write ``a`` as an ``architecture:`` file, atomically."""
    save_document(dump_arch(a), path, "architecture")


def save_mapping(m: Mapping, path: str | os.PathLike) -> None:
    """Write ``m`` as a ``mapping:`` file, atomically."""
    save_document(dump_mapping(m), path, "mapping")
