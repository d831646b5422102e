"""Read Timeloop files: merge their top-level keys and convert each part.

Timeloop's own front end flattens a design into one YAML file
(``parsed-processed-input.yaml``); a mapper run adds ``*.map.yaml`` and Accelergy adds an
energy reference table (``*.ERT.yaml``). :func:`load_timeloop` merges such files the way
Timeloop does (top-level keys combined) and converts them into loopscape objects, so a
reference case can be evaluated by loopscape's own cost model and compared number for
number. Every key that would change what Timeloop computes is either converted or
rejected with a :class:`SpecError` naming the file and key; only keys that Timeloop does
not interpret (Accelergy's estimation attributes, mapper settings) are accepted unread.
See ``docs/timeloop.md`` for the full correspondence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ...errors import SpecError
from ..strict import Where, did_you_mean, parse_file
from .arch import parse_architecture
from .attributes import compound_attributes
from .common import TimeloopSpec, is_empty
from .constraint_entries import constraint_targets
from .ert import parse_ert
from .mapping import parse_mapping
from .problem import parse_problem
from .sparsity import timeloop_sparsity

__all__ = ["load_timeloop", "timeloop_from_data"]

# Top-level keys loopscape reads, and keys that hold nothing the model uses (mapper
# settings, Accelergy's compound-component library and area tables, bookkeeping).
_USED_TOP = ("architecture", "problem", "mapping", "ERT", "architecture_constraints",
             "mapspace_constraints", "sparse_optimizations")
_IGNORED_TOP = ("dumped_by_timeloop_front_end", "compound_components", "components", "mapper",
                "mapspace", "globals", "variables", "model", "ART", "ART_summary",
                "ERT_summary", "version")



def _merge(docs: Sequence[tuple[str, Any]]) -> tuple[dict, dict[str, str]]:
    """Combine top-level keys of several documents; return (merged, key -> source)."""
    merged: dict = {}
    origin: dict[str, str] = {}
    for source, doc in docs:
        if doc is None:
            raise SpecError("the file is empty", source=source,
                            fix="pass Timeloop YAML files (processed input, ERT, map.yaml)")
        if not isinstance(doc, dict):
            raise SpecError(f"expected a map of top-level keys, got {type(doc).__name__}",
                            source=source)
        for key, value in doc.items():
            if not isinstance(key, str):
                raise SpecError(f"top-level keys must be names, got {key!r}", source=source)
            if key not in _USED_TOP and key not in _IGNORED_TOP:
                raise SpecError(
                    f"unknown top-level key {key!r}"
                    f"{did_you_mean(key, _USED_TOP + _IGNORED_TOP)}", source=source, key=key,
                    fix=f"loopscape reads {', '.join(_USED_TOP)} and ignores "
                        f"{', '.join(_IGNORED_TOP)}; remove or rename this key")
            if key in merged:
                if key == "mapping" and is_empty(merged[key]):
                    merged[key], origin[key] = value, source  # a map file fills an empty mapping
                    continue
                if key == "mapping" and is_empty(value):
                    continue
                raise SpecError(
                    f"top-level key {key!r} is given in both {origin[key]} and {source}",
                    source=source, key=key,
                    fix="pass each part (architecture, problem, mapping, ERT) only once")
            merged[key] = value
            origin[key] = source
    return merged, origin


def timeloop_from_data(docs: Sequence[tuple[str, Any]]) -> TimeloopSpec:
    """Build a TimeloopSpec from already-parsed YAML documents, as (source name, data)."""
    merged, origin = _merge(docs)

    def where(key: str) -> Where:
        return Where(origin.get(key, "<timeloop>"), key)

    for key in ("problem", "architecture"):
        if key not in merged:
            raise SpecError(f"no '{key}' in the Timeloop files",
                            source=", ".join(s for s, _ in docs) or None, key=key,
                            fix="pass the processed input (parsed-processed-input.yaml)")
    ert = parse_ert(merged["ERT"], where("ERT")) if "ERT" in merged else None
    workload = parse_problem(merged["problem"], where("problem"))
    arch = parse_architecture(merged["architecture"], where("architecture"), ert,
                              extra_attributes=compound_attributes(
                                  merged.get("compound_components")))
    mapping = None
    if not is_empty(merged.get("mapping")):
        mapping = parse_mapping(merged["mapping"], where("mapping"), workload, arch)
    constraints = None
    if "architecture_constraints" in merged or "mapspace_constraints" in merged:
        targets = []
        for key in ("architecture_constraints", "mapspace_constraints"):
            if key in merged:
                targets += constraint_targets(merged[key], where(key))
        constraints = {"targets": targets}
    sparsity = timeloop_sparsity(merged, origin, workload, arch, ert)
    return TimeloopSpec(workload, arch, mapping, constraints, tuple(s for s, _ in docs),
                        sparsity)


def load_timeloop(paths: Sequence[str | Path]) -> TimeloopSpec:
    """Read Timeloop YAML files (processed input, ERT, optionally a map.yaml) into loopscape
    objects. Top-level keys of all files are combined; a key given twice is an error,
    except that a map file's ``mapping`` replaces an empty ``mapping: []``."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise SpecError("no Timeloop files given",
                        fix="pass parsed-processed-input.yaml and the *.ERT.yaml")
    docs = [(str(p), parse_file(Path(p))) for p in paths]
    return timeloop_from_data(docs)
