"""Write Timeloop inputs: a mapping, a problem, an architecture and an energy table.

The inverse of :mod:`.reader`: each function returns a plain dict (one top-level key,
like a Timeloop YAML file) that :func:`load_timeloop` reads back into the same
workload, architecture and mapping, so the exported files evaluate to the same numbers.
The shapes follow what Timeloop's front end writes (``parsed-processed-input.yaml``,
``*.map.yaml``, Accelergy's ``*.ERT.yaml``): a ``subtree``/``local`` architecture with
``Name[1..N]`` instance ranges and ``meshX``/``meshY``, a problem whose projections name
their coefficients, mapping entries with ``factors`` for every dimension and
``permutation`` strings innermost first. What Timeloop's files cannot say raises a
SpecError naming it (docs/timeloop.md#exporting-to-timeloop).
"""

from __future__ import annotations

import re

from ...arch import Architecture, StorageLevel
from ...errors import SpecError
from ...mapping import Loop, Mapping, mapping_problems
from ...workload import Workload

__all__ = ["dump_timeloop_arch", "dump_timeloop_ert", "dump_timeloop_mapping",
           "dump_timeloop_problem", "dump_timeloop_spec"]

VERSION = "0.4"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Timeloop's conv2D shape names the coefficients of the sliding-window axes so.
_CONV_COEFFICIENTS = {"P": "Wstride", "R": "Wdilation", "Q": "Hstride", "S": "Hdilation"}


# ----------------------------------------------------------------------------------
# Checks: what Timeloop's files cannot express
# ----------------------------------------------------------------------------------

def _check_dims(workload: Workload) -> None:
    for d in workload.dims:
        if not (len(d) == 1 and d.isascii() and d.isalpha()):
            raise SpecError(
                f"dimension {d!r} cannot be written for Timeloop: Timeloop names dimensions "
                f"by one letter (it reads permutation strings one character at a time)",
                key=f"layer.{d}",
                fix="rename the layer's dimensions to single letters (an einsum layer may "
                    "use any names)")


def _check_name(name: str, key: str) -> None:
    if not _NAME_RE.match(name):
        raise SpecError(
            f"name {name!r} cannot be written for Timeloop: component names carry instance "
            f"ranges (Name[1..N]) and ERT paths (top.Name), so they may hold only letters, "
            f"digits, '_' and '-'", key=key, fix="rename it")


def _check_arch(arch: Architecture) -> None:
    _check_name(arch.name, "architecture.name")
    for lvl in arch.levels:
        _check_name(lvl.name, f"architecture.levels.{lvl.name}")
        if lvl.tensor_bits:
            raise SpecError(
                f"per-tensor precision (tensor_bits {dict(lvl.tensor_bits)}) cannot be written "
                f"for Timeloop, whose buffers have one datawidth for every data space",
                key=f"architecture.levels.{lvl.name}.tensor_bits",
                fix="remove tensor_bits (use one word_bits for the level) before exporting")
    _check_name(arch.compute.name, "architecture.compute.name")


def _check_mapping(mapping: Mapping, workload: Workload, arch: Architecture) -> None:
    problems = mapping_problems(workload, arch, mapping, check_capacity=False)
    if problems:
        level, _, message = problems[0]
        raise SpecError(message, key=f"mapping.{level}" if level else "mapping",
                        fix="export a mapping of this layer on this architecture")


# ----------------------------------------------------------------------------------
# Mapping
# ----------------------------------------------------------------------------------

def _factors(workload: Workload, loops: tuple[Loop, ...]) -> str:
    """Every dimension's factor in problem order, e.g. ``"N=1 C=4 M=1 P=4,3 ..."`` (a loop
    with a residual is written ``end,residual``)."""
    f = {d: "1" for d in workload.dims}
    for loop in loops:  # at most one loop per dimension and entry (legality)
        f[loop.dim] = f"{loop.factor},{loop.residual}" if loop.imperfect else str(loop.factor)
    return " ".join(f"{d}={f[d]}" for d in workload.dims)


def _permutation(workload: Workload, inner_first: list[str]) -> str:
    """A full permutation, innermost first: the given loops, then the unit dimensions in
    problem order (where they sit does not matter: a factor-1 loop moves nothing)."""
    order = list(dict.fromkeys(inner_first))
    return "".join(order + [d for d in workload.dims if d not in order])


def dump_timeloop_mapping(mapping: Mapping, workload: Workload, arch: Architecture) -> dict:
    """``{"mapping": [...]}`` in Timeloop's map.yaml form: per level, outermost first, a
    ``temporal`` entry, a ``spatial`` entry where the level fans out (X loops first in
    the permutation, ``split`` = their number) and a ``datatype`` entry with ``keep`` and
    ``bypass`` lists. Factors name every dimension; permutations are innermost first."""
    _check_dims(workload)
    _check_mapping(mapping, workload, arch)
    entries: list[dict] = []
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        entries.append({"target": lvl.name, "type": "temporal",
                        "factors": _factors(workload, lm.temporal),
                        "permutation": _permutation(
                            workload, [l.dim for l in reversed(lm.temporal) if l.factor > 1])})
        fx, fy = arch.fanout(i)
        if fx * fy > 1:
            xs = [l.dim for l in reversed(lm.spatial_x) if l.factor > 1]
            ys = [l.dim for l in reversed(lm.spatial_y) if l.factor > 1]
            entries.append({"target": lvl.name, "type": "spatial",
                            "factors": _factors(workload, lm.spatial),
                            "permutation": _permutation(workload, xs + ys), "split": len(xs)})
        entries.append({"target": lvl.name, "type": "datatype",
                        "keep": [t for t in workload.tensor_names if t in lm.keep],
                        "bypass": [t for t in workload.tensor_names if t not in lm.keep]})
    return {"mapping": entries}


# ----------------------------------------------------------------------------------
# Problem
# ----------------------------------------------------------------------------------

def _coefficients(workload: Workload) -> tuple[dict[str, int], dict[tuple[int, int, int], str]]:
    """Named coefficients (name -> value, declaration order) and the name used by each
    term (tensor, axis, term index). A layer's ``params`` that are integers are declared
    as they are (a Timeloop import records its coefficients there); sliding-window terms
    of P, R, Q, S use Timeloop's conv2D names (Wstride, Wdilation, Hstride, Hdilation)
    when the value agrees; any other coefficient but 1 gets a name of its own."""
    dims = set(workload.dims)
    params = {n: v for n, v in workload.params
              if isinstance(v, int) and not isinstance(v, bool) and n not in dims}
    conv = workload.kind in ("conv2d", "grouped_conv2d", "depthwise")
    declared: dict[str, int] = {} if conv else dict(params)
    names: dict[tuple[int, int, int], str] = {}
    for ti, tensor in enumerate(workload.tensors):
        for ai, axis in enumerate(tensor.axes):
            for ki, (c, d) in enumerate(axis):
                hint = _CONV_COEFFICIENTS.get(d)
                name = None
                if len(axis) > 1 and hint is not None and hint not in dims \
                        and declared.get(hint, params.get(hint, c)) == c \
                        and (conv or hint in params):
                    name = hint
                elif c != 1:
                    name = next((n for n, v in declared.items() if v == c), None)
                    if name is None:
                        base = name = f"{d}_coefficient"
                        k = 2
                        while name in declared or name in dims:
                            name, k = f"{base}_{k}", k + 1
                if name is not None:
                    declared.setdefault(name, c)
                    names[(ti, ai, ki)] = name
    # The layer's own parameter order first (a conv2d's Wstride, Hstride, ...).
    ordered = {n: declared[n] for n in params if n in declared}
    ordered.update(declared)
    return ordered, names


def dump_timeloop_problem(workload: Workload) -> dict:
    """``{"problem": {...}}``: the shape (dimensions, named coefficients, data spaces with
    their projections) and the instance (bounds and coefficient values)."""
    _check_dims(workload)
    declared, names = _coefficients(workload)
    data_spaces = []
    for ti, tensor in enumerate(workload.tensors):
        projection = []
        for ai, axis in enumerate(tensor.axes):
            terms = []
            for ki, (c, d) in enumerate(axis):
                name = names.get((ti, ai, ki))
                terms.append([d, name] if name is not None else [d])
            projection.append(terms)
        data_spaces.append({"name": tensor.name, "projection": projection,
                            "read_write": tensor.read_write})
    shape: dict = {"name": workload.name, "dimensions": list(workload.dims)}
    if declared:
        shape["coefficients"] = [{"name": n, "default": v} for n, v in declared.items()]
    shape["data_spaces"] = data_spaces
    instance = dict(workload.shape)
    instance.update(declared)
    return {"problem": {"version": VERSION, "shape": shape, "instance": instance}}


# ----------------------------------------------------------------------------------
# Architecture and ERT
# ----------------------------------------------------------------------------------

def _is_dram(i: int, lvl: StorageLevel) -> bool:
    """Class DRAM for a DRAM-technology level and for an unbounded outermost level."""
    return not lvl.dummy and (lvl.technology == "DRAM" or (i == 0 and lvl.capacity_words is None))


def _ranged(name: str, instances: int) -> str:
    return f"{name}[1..{instances}]"


def _storage_component(i: int, lvl: StorageLevel) -> dict:
    attrs: dict = {"datawidth": lvl.word_bits, "block_size": lvl.block_size,
                   "width": lvl.word_bits * lvl.block_size * lvl.cluster_size}
    if lvl.cluster_size != 1:
        attrs["cluster_size"] = lvl.cluster_size
    if lvl.dummy:  # stores nothing, but timeloop-model requires every buffer to have a size
        attrs["depth"] = 1
    elif lvl.capacity_words is not None:
        if lvl.capacity_words % lvl.block_size == 0:
            attrs["depth"] = lvl.capacity_words // lvl.block_size
        else:
            attrs["entries"] = lvl.capacity_words
    for kind in ("read", "write", "shared"):
        bw = getattr(lvl, f"{kind}_bandwidth")
        if bw is not None:
            attrs[f"{kind}_bandwidth"] = bw
    attrs["multiple_buffering"] = lvl.multiple_buffering
    attrs["min_utilization"] = lvl.min_utilization
    if lvl.dummy:
        cls = "dummy_storage"
    elif _is_dram(i, lvl):
        cls = "DRAM"
        if lvl.technology and lvl.technology != "DRAM":
            attrs["type"] = lvl.technology  # Accelergy's DRAM type (LPDDR4, HBM2, ...)
    else:
        cls = "SRAM"
    if lvl.technology and cls != "DRAM":
        attrs["technology"] = lvl.technology
    attrs["meshX"] = lvl.mesh_x
    attrs["meshY"] = lvl.mesh_y
    if lvl.link_energy_pj:  # Timeloop prices a link transfer at energy_per_hop (no routers)
        attrs["energy_per_hop"] = lvl.link_energy_pj
    return {"name": _ranged(lvl.name, lvl.instances), "class": cls, "attributes": attrs}


def dump_timeloop_arch(arch: Architecture, workload: Workload | None = None) -> dict:
    """``{"architecture": {...}}`` in the processed (v0.4 ``subtree``/``local``) form, one
    component per storage level outermost first, then the MACs (class ``intmac``). A
    level's ``keeps`` (the tensors it may hold) has no place in a Timeloop architecture;
    it becomes an ``architecture_constraints`` bypass entry, as Timeloop designs state
    it (read back with ``timeloop_constraints``), bypassing the workload's other tensors
    (without a workload: the other tensors that any level's ``keeps`` names)."""
    _check_arch(arch)
    local = [_storage_component(i, lvl) for i, lvl in enumerate(arch.levels)]
    c = arch.compute
    local.append({"name": _ranged(c.name, c.instances), "class": "intmac",
                  "attributes": {"meshX": c.mesh_x, "meshY": c.mesh_y}})
    doc: dict = {"architecture": {"version": VERSION,
                                  "subtree": [{"name": arch.name, "local": local}]}}
    tensors = list(workload.tensor_names) if workload is not None else _kept_names(arch)
    targets = []
    for lvl in arch.levels:
        if lvl.keeps is not None and not lvl.dummy:
            bypass = [t for t in tensors if t not in lvl.keeps]
            targets.append({"target": lvl.name, "type": "bypass", "bypass": bypass})
    if targets:
        doc["architecture_constraints"] = {"targets": targets}
    return doc


def _kept_names(arch: Architecture) -> list[str]:
    """Tensors named by any level's ``keeps`` (the architecture knows no others)."""
    names: list[str] = []
    for other in arch.levels:
        for t in other.keeps or ():
            if t not in names:
                names.append(t)
    return names


def dump_timeloop_ert(arch: Architecture) -> dict:
    """``{"ERT": {...}}``: Accelergy's energy reference table with, per storage level,
    ``read``, ``write`` (loopscape's fill), ``update`` and ``leak`` in pJ per vector
    access (leak per cycle per instance), and ``compute`` for the MACs. Dummy levels
    without energies get no table (Timeloop's ERTs have none either)."""
    _check_arch(arch)
    tables = []
    for lvl in arch.levels:
        energies = (("read", lvl.read_energy_pj), ("write", lvl.fill_energy_pj),
                    ("update", lvl.update_energy_pj), ("leak", lvl.leak_energy_pj))
        if lvl.dummy and not any(e for _, e in energies):
            continue
        tables.append({"name": f"{arch.name}.{_ranged(lvl.name, lvl.instances)}",
                       "actions": [{"name": n, "arguments": {}, "energy": float(e)}
                                   for n, e in energies]})
    c = arch.compute
    tables.append({"name": f"{arch.name}.{_ranged(c.name, c.instances)}",
                   "actions": [{"name": "compute", "arguments": {},
                                "energy": float(c.energy_pj)}]})
    return {"ERT": {"version": VERSION, "tables": tables}}


def dump_timeloop_spec(workload: Workload, arch: Architecture,
                       mapping: Mapping | None = None) -> dict:
    """All of it in one document: ``architecture`` (and ``architecture_constraints`` when
    a level restricts what it keeps), ``problem``, ``ERT`` and, given a mapping,
    ``mapping``. ``load_timeloop`` reads it (whole or split into files by top-level key)
    back into an equal workload, architecture and mapping."""
    doc = dict(dump_timeloop_arch(arch, workload))
    doc.update(dump_timeloop_problem(workload))
    doc.update(dump_timeloop_ert(arch))
    if mapping is not None:
        doc.update(dump_timeloop_mapping(mapping, workload, arch))
    return doc
