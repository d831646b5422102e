"""Read Timeloop inputs: the processed problem, architecture and mapping, plus Accelergy ERTs.

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

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence


from ..arch import Architecture, ComputeLevel, StorageLevel
from ..constraints import Constraints, FactorRule, LevelConstraints
from ..errors import SpecError
from .strict import Where, parse_file
from ..mapping import LevelMapping, Loop, Mapping
from ..workload import Tensor, Workload

__all__ = ["TimeloopSpec", "load_timeloop", "timeloop_constraints", "timeloop_from_data"]


@dataclass(frozen=True)
class TimeloopSpec:
    """What a set of Timeloop files describes, as loopscape objects.

    ``mapping`` is None when the files hold no mapping (a mapper input without its
    ``map.yaml``). ``constraints`` keeps the raw ``architecture_constraints`` and
    ``mapspace_constraints`` targets in one list (``{"targets": [...]}``), or None when
    the files have neither; they are not interpreted yet.
    """

    workload: Workload
    arch: Architecture
    mapping: Mapping | None
    constraints: dict | None
    sources: tuple[str, ...]
    sparsity: object = None  # SparsitySpec from densities / sparse_optimizations, or None


# ----------------------------------------------------------------------------------
# Locations and small value readers
# ----------------------------------------------------------------------------------

def _number(value: Any, at: Where) -> float:
    """A real number; numeric strings such as '1e-3' (which PyYAML leaves as text) too."""
    if isinstance(value, bool):
        raise at.error(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise at.error(f"expected a number, got {value!r}")


def _integer(value: Any, at: Where, *, minimum: int = 0) -> int:
    """A whole number (an integral float such as 2.0 is accepted) of at least ``minimum``."""
    v = _number(value, at)
    if not math.isfinite(v) or v != int(v):
        raise at.error(f"expected a whole number, got {value!r}")
    if int(v) < minimum:
        raise at.error(f"must be at least {minimum}, got {value!r}")
    return int(v)


def _flag(value: Any, at: Where) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise at.error(f"expected true or false, got {value!r}")


def _mapping_node(value: Any, at: Where) -> dict:
    if not isinstance(value, dict):
        raise at.error(f"expected a map, got {type(value).__name__}")
    return value


def _list_node(value: Any, at: Where) -> list:
    if not isinstance(value, list):
        raise at.error(f"expected a list, got {type(value).__name__}")
    return value


def _names(value: Any, at: Where) -> list[str]:
    """A list of names; null means an empty list and a single string a list of one."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = _list_node(value, at)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise at.at(i).error(f"expected a name, got {v!r}")
    return list(items)


# ----------------------------------------------------------------------------------
# YAML reading and merging
# ----------------------------------------------------------------------------------

# Top-level keys loopscape reads, and keys that hold nothing the model uses (mapper
# settings, Accelergy's compound-component library and area tables, bookkeeping).
_USED_TOP = ("architecture", "problem", "mapping", "ERT", "architecture_constraints",
             "mapspace_constraints", "sparse_optimizations")
_IGNORED_TOP = ("dumped_by_timeloop_front_end", "compound_components", "components", "mapper",
                "mapspace", "globals", "variables", "model", "ART", "ART_summary",
                "ERT_summary", "version")


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


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
                    f"unknown top-level key {key!r}", source=source, key=key,
                    fix=f"loopscape reads {', '.join(_USED_TOP)} and ignores "
                        f"{', '.join(_IGNORED_TOP)}; remove or rename this key")
            if key in merged:
                if key == "mapping" and _is_empty(merged[key]):
                    merged[key], origin[key] = value, source  # a map file fills an empty mapping
                    continue
                if key == "mapping" and _is_empty(value):
                    continue
                raise SpecError(
                    f"top-level key {key!r} is given in both {origin[key]} and {source}",
                    source=source, key=key,
                    fix="pass each part (architecture, problem, mapping, ERT) only once")
            merged[key] = value
            origin[key] = source
    return merged, origin


# ----------------------------------------------------------------------------------
# Problem
# ----------------------------------------------------------------------------------

_SHAPE_KEYS = ("name", "dimensions", "data_spaces", "coefficients", "version")
_DATASPACE_KEYS = ("name", "projection", "read_write", "ranks")


def _parse_problem(raw: Any, at: Where) -> Workload:
    problem = _mapping_node(raw, at)
    for key in problem:
        if key not in ("shape", "instance", "version"):
            raise at.at(str(key)).error(f"unknown problem key {key!r}",
                                        fix="a problem has 'shape' and 'instance'")
    if "shape" not in problem:
        raise at.error("the problem has no 'shape'", fix="give the processed problem with "
                       "shape (dimensions, data_spaces) and instance")
    if isinstance(problem["shape"], str):
        raise at.at("shape").error(
            f"named shapes ({problem['shape']!r}) are not supported",
            fix="use the processed input (parsed-processed-input.yaml), which spells the "
                "shape out")
    shape_at = at.at("shape")
    shape = _mapping_node(problem["shape"], shape_at)
    for key in shape:
        if key == "flatten":
            raise shape_at.at("flatten").error("flattened dimensions are not supported",
                                               fix="describe the layer without 'flatten'")
        if key not in _SHAPE_KEYS:
            raise shape_at.at(str(key)).error(f"unknown shape key {key!r}",
                                              fix=f"a shape has {', '.join(_SHAPE_KEYS)}")
    dims_at = shape_at.at("dimensions")
    dims = _names(shape.get("dimensions"), dims_at)
    if not dims:
        raise dims_at.error("the shape has no dimensions")
    if len(set(dims)) != len(dims):
        raise dims_at.error(f"dimension names repeat: {dims}")

    # Coefficients: defaults from the shape, overrides from the instance.
    coeff_default: dict[str, int] = {}
    coeffs_at = shape_at.at("coefficients")
    for i, c in enumerate(_list_node(shape.get("coefficients") or [], coeffs_at)):
        c_at = coeffs_at.at(i)
        c = _mapping_node(c, c_at)
        if not isinstance(c.get("name"), str):
            raise c_at.at("name").error("a coefficient needs a name")
        if "default" not in c:
            raise c_at.at("default").error(f"coefficient {c['name']!r} has no default")
        coeff_default[c["name"]] = _integer(c["default"], c_at.at("default"),
                                            minimum=-(2 ** 62))

    inst_at = at.at("instance")
    if "instance" not in problem:
        raise inst_at.error("the problem has no 'instance'",
                            fix="give the dimension bounds under problem.instance")
    instance = _mapping_node(problem["instance"], inst_at)
    bounds = []
    for d in dims:
        if d not in instance:
            raise inst_at.at(d).error(f"no bound for dimension {d}",
                                      fix=f"give every dimension of {dims} a size")
        bounds.append(_integer(instance[d], inst_at.at(d), minimum=1))
    coeff = dict(coeff_default)
    for name in coeff_default:
        if name in instance:
            coeff[name] = _integer(instance[name], inst_at.at(name), minimum=-(2 ** 62))

    tensors = []
    ds_at = shape_at.at("data_spaces")
    data_spaces = _list_node(shape.get("data_spaces"), ds_at)
    for i, ds in enumerate(data_spaces):
        t_at = ds_at.at(i)
        ds = _mapping_node(ds, t_at)
        for key in ds:
            if key not in _DATASPACE_KEYS:
                raise t_at.at(str(key)).error(f"unknown data-space key {key!r}",
                                              fix=f"a data space has {', '.join(_DATASPACE_KEYS)}")
        name = ds.get("name")
        if not isinstance(name, str) or not name:
            raise t_at.at("name").error("a data space needs a name")
        rw = _flag(ds.get("read_write", False), t_at.at("read_write"))
        axes = _parse_projection(ds.get("projection"), t_at.at("projection"), dims, coeff)
        tensors.append(Tensor(name, axes, rw))

    name = shape.get("name") if isinstance(shape.get("name"), str) else "timeloop"
    params = tuple((k, v) for k, v in coeff.items())
    try:
        return Workload(name, tuple(dims), tuple(bounds), tuple(tensors), "einsum", params)
    except SpecError as e:
        raise e.located(at.source, "problem.shape") from None


def _parse_projection(raw: Any, at: Where, dims: list[str],
                      coeff: dict[str, int]) -> tuple[tuple[tuple[int, str], ...], ...]:
    """Timeloop projections: ``[C, M]`` (one dimension per axis) or a list of axes, each
    a list of terms ``[dim]`` or ``[dim, coefficient_name]``."""
    axes_raw = _list_node(raw, at)
    if not axes_raw:
        raise at.error("the projection is empty")
    axes = []
    for a, axis in enumerate(axes_raw):
        a_at = at.at(a)
        if isinstance(axis, str):  # flat form: one dimension per axis
            axis = [[axis]]
        terms = []
        for t, term in enumerate(_list_node(axis, a_at)):
            term_at = a_at.at(t)
            term = _list_node(term, term_at)
            if len(term) not in (1, 2):
                raise term_at.error(f"a term is [dimension] or [dimension, coefficient], got "
                                    f"{term!r}")
            dim = term[0]
            if dim not in dims:
                raise term_at.error(f"unknown dimension {dim!r}", fix=f"use one of {dims}")
            c = 1
            if len(term) == 2:
                name = term[1]
                if isinstance(name, str) and name in coeff:
                    c = coeff[name]
                elif isinstance(name, int) and not isinstance(name, bool):
                    c = name
                else:
                    raise term_at.error(f"unknown coefficient {name!r}",
                                        fix=f"declare it under problem.shape.coefficients "
                                            f"(known: {sorted(coeff)})")
            terms.append((c, dim))
        if not terms:
            raise a_at.error("a projection axis needs at least one term")
        axes.append(tuple(terms))
    return tuple(axes)


# ----------------------------------------------------------------------------------
# Architecture
# ----------------------------------------------------------------------------------

# Timeloop classifies a component by substrings of its class (model/topology.hpp).
_BUFFER_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
_COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")
_NETWORK_CLASSES = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")
_COMPONENT_KEYS = ("name", "class", "attributes", "required_actions", "enabled", "subclass",
                   "area_share", "actions")

# Attributes that would change Timeloop's counts or energies in ways loopscape does not
# model, with the value that keeps them harmless.
_UNSUPPORTED_ATTRS: dict[str, tuple[Any, str]] = {
    "cluster_size": (1, "clustered buffers"),
    "allow_overbooking": (False, "overbooking (tiles larger than the buffer)"),
    "reduction_supported": (True, "buffers that cannot reduce partial sums"),
    "has_power_gating": (False, "power gating"),
    "power_gated_at": (None, "power gating"),
    "network_fill_latency": (0, "network latency"),
    "network_drain_latency": (0, "network latency"),
    "tile_partition_supported": (False, "runtime tile partitioning"),
    "concordant_compressed_tile_traversal": (False, "concordant compressed traversal"),
    "network_read": (None, "user-defined networks"),
    "network_fill": (None, "user-defined networks"),
    "network_drain": (None, "user-defined networks"),
    "network_update": (None, "user-defined networks"),
    "network_operand": (None, "user-defined networks"),
    "network_result": (None, "user-defined networks"),
    "addr_gen_energy": (None, "address-generation energy"),
}


def _check_supported(attrs: dict, at: Where) -> None:
    for key, (harmless, what) in _UNSUPPORTED_ATTRS.items():
        if key not in attrs:
            continue
        v = attrs[key]
        if v is None or v == harmless:
            continue
        if isinstance(harmless, bool) and isinstance(v, str) and v.lower() == str(harmless).lower():
            continue
        if isinstance(harmless, (int, float)) and not isinstance(harmless, bool) and not \
                isinstance(v, bool):
            try:
                if float(v) == harmless:
                    continue
            except (TypeError, ValueError):
                pass
        shown = "null" if harmless is None else str(harmless).lower() if isinstance(
            harmless, bool) else harmless
        raise at.at(key).error(f"{what} ({key}: {v!r}) is not supported by loopscape",
                               fix=f"remove {key} or set it to {shown}")
    scale = attrs.get("per_dataspace_bandwidth_consumption_scale")
    if not _is_empty(scale):
        s_at = at.at("per_dataspace_bandwidth_consumption_scale")
        for t, v in _mapping_node(scale, s_at).items():
            if _number(v, s_at.at(str(t))) != 1.0:
                raise s_at.at(str(t)).error("per-tensor bandwidth scales are not supported",
                                            fix="remove the scale or set it to 1")


_RANGE_RE = re.compile(r"^(?P<base>.*?)\[(?P<lo>-?\d+)\.\.(?P<hi>-?\d+)\]$")


def _split_name(name: Any, at: Where) -> tuple[str, int]:
    """``GlobalBuffer[1..16]`` -> ("GlobalBuffer", 16); a plain name has one instance."""
    if not isinstance(name, str) or not name.strip():
        raise at.error(f"a component needs a name, got {name!r}")
    m = _RANGE_RE.match(name.strip())
    if not m:
        return name.strip(), 1
    lo, hi = int(m.group("lo")), int(m.group("hi"))
    if hi < lo:
        raise at.error(f"empty instance range in {name!r}", fix="write Name[1..N] with N >= 1")
    return m.group("base"), hi - lo + 1


def _first(attrs: dict, keys: Iterable[str]) -> tuple[str, Any] | None:
    for k in keys:
        if k in attrs and attrs[k] is not None:
            return k, attrs[k]
    return None


def _mesh(attrs: dict, instances: int, at: Where) -> tuple[int, int, int]:
    """(instances, meshX, meshY) completed the way Timeloop does."""
    if attrs.get("instances") is not None:
        instances = _integer(attrs["instances"], at.at("instances"), minimum=1)
    mx = _integer(attrs["meshX"], at.at("meshX"), minimum=1) if attrs.get("meshX") is not None \
        else None
    my = _integer(attrs["meshY"], at.at("meshY"), minimum=1) if attrs.get("meshY") is not None \
        else None
    if mx is None and my is None:
        return instances, instances, 1
    if mx is None:
        assert my is not None
        if instances % my:
            raise at.at("meshY").error(f"meshY={my} does not divide the {instances} instances")
        return instances, instances // my, my
    if my is None:
        if instances % mx:
            raise at.at("meshX").error(f"meshX={mx} does not divide the {instances} instances")
        return instances, mx, instances // mx
    if mx * my != instances:
        raise at.error(f"meshX * meshY = {mx * my} but the component has {instances} instances",
                       fix="make the name's [1..N] range (or instances) equal meshX * meshY")
    return instances, mx, my


def _components(arch: dict, at: Where) -> tuple[str, list[tuple[dict, Where, int]]]:
    """Walk ``subtree``/``local`` from the root inwards: (root name, [(component, where,
    multiplier of enclosing subtrees)]), outermost first."""
    if "nodes" in arch:
        raise at.at("nodes").error(
            "the v0.4 'nodes' architecture format is not read directly",
            fix="pass the processed input that Timeloop writes (parsed-processed-input.yaml)")
    for key in arch:
        if key not in ("version", "subtree", "local", "name", "attributes"):
            raise at.at(str(key)).error(f"unknown architecture key {key!r}",
                                        fix="expected subtree/local (Timeloop's tree format)")
    out: list[tuple[dict, Where, int]] = []
    node, node_at, mult, root = arch, at, 1, ""
    while True:
        if "local" in node:
            l_at = node_at.at("local")
            for i, comp in enumerate(_list_node(node["local"], l_at)):
                out.append((_mapping_node(comp, l_at.at(i)), l_at.at(i), mult))
        if "subtree" not in node:
            break
        s_at = node_at.at("subtree")
        subtrees = _list_node(node["subtree"], s_at)
        if len(subtrees) != 1:
            raise s_at.error(f"Timeloop reads exactly one subtree per level, got {len(subtrees)}")
        node_at = s_at.at(0)
        node = _mapping_node(subtrees[0], node_at)
        for key in node:
            if key not in ("name", "attributes", "local", "subtree"):
                raise node_at.at(str(key)).error(f"unknown subtree key {key!r}")
        base, count = _split_name(node.get("name"), node_at.at("name"))
        root = root or base
        mult *= count
    if not out:
        raise at.error("the architecture has no components",
                       fix="list storage levels and a compute unit under subtree[0].local")
    return root or "timeloop", out


def _storage_energy(actions: dict[str, float]) -> tuple[float, float, float, float]:
    """(read, fill, update, leak) pJ per vector access from one ERT entry. The action
    names tried, in order, follow Timeloop's storage-operation table; a missing
    read/fill/update falls back to the entry's largest energy, a missing leak to 0."""
    top = max(actions.values(), default=0.0)

    def pick(names: Sequence[str], fallback: float) -> float:
        for n in names:
            if n in actions:
                return actions[n]
        return fallback

    read = pick(("random_read", "read"), top)
    fill = pick(("random_fill", "random_write", "fill", "write"), top)
    update = pick(("random_update", "random_write", "update", "write"), top)
    leak = pick(("leak",), 0.0)
    return read, fill, update, leak


def _compute_energy(actions: dict[str, float]) -> float:
    """pJ per MAC: Timeloop's random_compute action names in order, else the largest."""
    for n in ("mac_random", "mult_random", "mac", "mult", "compute"):
        if n in actions:
            return actions[n]
    return max(actions.values(), default=0.0)


def _parse_architecture(raw: Any, at: Where, ert: dict[str, dict[str, float]] | None) -> Architecture:
    arch = _mapping_node(raw, at)
    root, comps = _components(arch, at)
    levels: list[StorageLevel] = []
    compute: ComputeLevel | None = None
    for comp, c_at, mult in comps:
        for key in comp:
            if key not in _COMPONENT_KEYS:
                raise c_at.at(str(key)).error(f"unknown component key {key!r}",
                                              fix=f"a component has {', '.join(_COMPONENT_KEYS)}")
        base, count = _split_name(comp.get("name"), c_at.at("name"))
        if comp.get("enabled") is not None and not _flag(comp["enabled"], c_at.at("enabled")):
            raise c_at.at("enabled").error("disabled components are not supported",
                                           fix="remove the component from the architecture")
        cls = comp.get("class")
        if not isinstance(cls, str) or not cls:
            raise c_at.at("class").error(f"component {base!r} has no class",
                                         fix="give it a class such as SRAM, DRAM, regfile, "
                                             "dummy_storage or intmac")
        attrs = _mapping_node(comp.get("attributes") or {}, c_at.at("attributes"))
        a_at = c_at.at("attributes")
        if compute is not None:
            raise c_at.error(f"component {base!r} comes after the compute unit "
                             f"{compute.name!r}",
                             fix="list storage levels outermost first and the compute unit last")
        if any(s in cls for s in _BUFFER_CLASSES):
            levels.append(_storage_level(base, count * mult, cls, attrs, a_at, ert))
        elif any(s in cls for s in _COMPUTE_CLASSES):
            _check_supported(attrs, a_at)
            inst, mx, my = _mesh(attrs, count * mult, a_at)
            energy = 0.0
            if ert is not None and base in ert:
                energy = _compute_energy(ert[base])
            elif attrs.get("energy") is not None:
                energy = _number(attrs["energy"], a_at.at("energy"))
            compute = ComputeLevel(base, inst, mx, my, energy)
        elif any(s in cls for s in _NETWORK_CLASSES):
            raise c_at.at("class").error(f"network components ({cls}) are not supported",
                                         fix="remove the network; loopscape models no network "
                                             "energy or link transfers")
        else:
            raise c_at.at("class").error(
                f"unknown component class {cls!r}",
                fix=f"a storage class contains one of {', '.join(_BUFFER_CLASSES)}; a compute "
                    f"class one of {', '.join(_COMPUTE_CLASSES)}")
    if compute is None:
        raise at.error("the architecture has no compute unit",
                       fix="add a component of class intmac (or mac/compute) last")
    try:
        return Architecture(root, tuple(levels), compute)
    except SpecError as e:
        raise e.located(at.source, at.key) from None


def _storage_level(name: str, instances: int, cls: str, attrs: dict, at: Where,
                   ert: dict[str, dict[str, float]] | None) -> StorageLevel:
    """One buffer; sizes, block size and bandwidths follow Timeloop's BufferLevel specs."""
    _check_supported(attrs, at)
    dummy = cls == "dummy_storage"
    inst, mx, my = _mesh(attrs, instances, at)
    wb_item = _first(attrs, ("word_bits", "word_width", "datawidth"))
    word_bits = _integer(wb_item[1], at.at(wb_item[0]), minimum=1) if wb_item else 16
    bs_item = _first(attrs, ("block_size", "n_words"))
    block = _integer(bs_item[1], at.at(bs_item[0]), minimum=1) if bs_item else None
    w_item = _first(attrs, ("width", "memory_width", "data_storage_width"))
    if w_item:
        width = _integer(w_item[1], at.at(w_item[0]), minimum=1)
        per = word_bits * (block or 1)
        if width % per:
            raise at.at(w_item[0]).error(
                f"width {width} is not a multiple of datawidth x block_size = {per}",
                fix="make width = datawidth x block_size")
        if block is None:
            block = width // word_bits
        elif width != per:
            raise at.at(w_item[0]).error(
                f"width {width} != datawidth x block_size = {per}: clustered buffers are not "
                f"supported", fix="make width = datawidth x block_size")
    block = block or 1
    capacity: int | None = None
    if attrs.get("entries") is not None:
        capacity = _integer(attrs["entries"], at.at("entries"))
    else:
        d_item = _first(attrs, ("depth", "memory_depth", "data_storage_depth"))
        if d_item:
            capacity = _integer(d_item[1], at.at(d_item[0])) * block
        elif attrs.get("sizeKB") is not None:
            capacity = _integer(attrs["sizeKB"], at.at("sizeKB")) * 1024 * 8 // word_bits
    bw: dict[str, float | None] = {"read": None, "write": None, "shared": None}
    if attrs.get("bandwidth") is not None:  # deprecated in Timeloop: split evenly
        b = _number(attrs["bandwidth"], at.at("bandwidth"))
        bw["read"] = bw["write"] = b / 2
    for kind in ("read", "write", "shared"):
        key = f"{kind}_bandwidth"
        if attrs.get(key) is not None:
            bw[kind] = _number(attrs[key], at.at(key))
    mb = _number(attrs["multiple_buffering"], at.at("multiple_buffering")) \
        if attrs.get("multiple_buffering") is not None else 1.0
    mu = _number(attrs["min_utilization"], at.at("min_utilization")) \
        if attrs.get("min_utilization") is not None else 0.0
    is_dram = "DRAM" in cls or attrs.get("technology") == "DRAM"
    tech = "DRAM" if is_dram else (attrs.get("technology") if isinstance(
        attrs.get("technology"), str) else "")
    read = fill = update = leak = 0.0
    if attrs.get("vector_access_energy") is not None:  # a user's energy overrides the ERT
        read = fill = update = _number(attrs["vector_access_energy"],
                                       at.at("vector_access_energy"))
    elif ert is not None and name in ert:
        read, fill, update, leak = _storage_energy(ert[name])
    return StorageLevel(
        name=name, instances=inst, mesh_x=mx, mesh_y=my, capacity_words=capacity,
        word_bits=word_bits, block_size=block, read_energy_pj=read, fill_energy_pj=fill,
        update_energy_pj=update, leak_energy_pj=leak, read_bandwidth=bw["read"],
        write_bandwidth=bw["write"], shared_bandwidth=bw["shared"], keeps=None, dummy=dummy,
        multiple_buffering=mb, min_utilization=mu, technology=tech)


# ----------------------------------------------------------------------------------
# ERT
# ----------------------------------------------------------------------------------

def _parse_ert(raw: Any, at: Where) -> dict[str, dict[str, float]]:
    """Component name (range and path stripped) -> action -> pJ. An action listed with
    several argument sets costs the largest of their energies, as in Timeloop."""
    ert = _mapping_node(raw, at)
    t_at = at.at("tables")
    if "tables" not in ert:
        raise t_at.error("the ERT has no 'tables'")
    tables = ert["tables"]
    entries: list[tuple[str, Any, Where]] = []
    if isinstance(tables, dict):  # ERT v0.2: name -> action -> entry or list of entries
        for tname, actions in tables.items():
            a_at = t_at.at(str(tname))
            acts = []
            for aname, entry in _mapping_node(actions, a_at).items():
                for e in (entry if isinstance(entry, list) else [entry]):
                    acts.append((aname, e))
            entries.append((str(tname), acts, a_at))
    else:
        for i, table in enumerate(_list_node(tables, t_at)):
            i_at = t_at.at(i)
            table = _mapping_node(table, i_at)
            if not isinstance(table.get("name"), str):
                raise i_at.at("name").error("an ERT table needs a name")
            acts = []
            for j, a in enumerate(_list_node(table.get("actions") or [], i_at.at("actions"))):
                a = _mapping_node(a, i_at.at("actions").at(j))
                if not isinstance(a.get("name"), str):
                    raise i_at.at("actions").at(j).at("name").error("an ERT action needs a name")
                acts.append((a["name"], a))
            entries.append((table["name"], acts, i_at))
    out: dict[str, dict[str, float]] = {}
    for tname, acts, e_at in entries:
        base = tname
        m = _RANGE_RE.match(base)
        if m:
            base = m.group("base")
        base = base.rsplit(".", 1)[-1]
        energies: dict[str, float] = {}
        for j, (aname, entry) in enumerate(acts):
            if isinstance(entry, dict):
                if "energy" not in entry:
                    continue
                e = _number(entry["energy"], e_at.at("actions").at(j).at("energy"))
            else:
                e = _number(entry, e_at.at(str(aname)))
            energies[aname] = max(e, energies.get(aname, 0.0))
        if base.lower() == "wire":
            if any(v for v in energies.values()):
                raise e_at.error("wire (network transfer) energy is not supported",
                                 fix="remove the wire entry or set its energy to 0")
            continue
        out[base] = energies
    return out


# ----------------------------------------------------------------------------------
# Mapping
# ----------------------------------------------------------------------------------

_FACTOR_RE = re.compile(r"([A-Za-z]+)\s*=*\s*([0-9]+)(?:,([0-9]+))?")
_DIRECTIVE_KEYS = {
    "temporal": ("target", "type", "factors", "permutation"),
    "spatial": ("target", "type", "factors", "permutation", "split"),
    "bypass": ("target", "type", "keep", "bypass"),
}
_UNSUPPORTED_DIRECTIVE_KEYS = ("no_link_transfer", "no_reuse", "no_temporal_reuse",
                               "rmw_first_update", "no_coalesce")


def _parse_factors(raw: Any, at: Where, workload: Workload) -> dict[str, int]:
    """Factors in any of Timeloop's spellings: "R=1,P=16", "R=1 P=16", "C1 M8", a list of
    such strings, or a map. A dimension left out has factor 1; 0 means the whole bound."""
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
            if m.group(3) is not None and m.group(3) != m.group(2):
                raise at.error(f"residual factor {m.group(0)!r}: imperfect factorization is "
                               f"not supported", fix="give each dimension one exact factor")
            pairs.append((m.group(1), int(m.group(2)), at))
    out: dict[str, int] = {}
    for dim, value, v_at in pairs:
        if dim not in workload.dims:
            raise v_at.error(f"unknown dimension {dim!r} in factors",
                             fix=f"use dimensions of the problem: {list(workload.dims)}")
        if dim in out:
            raise v_at.error(f"dimension {dim} is given two factors")
        f = _integer(value, v_at)
        out[dim] = f if f > 0 else workload.bound(dim)
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


def _parse_mapping(raw: Any, at: Where, workload: Workload, arch: Architecture) -> Mapping:
    entries = _list_node(raw, at)
    names = list(arch.level_names)
    n = len(names)
    temporal: dict[int, list[Loop]] = {}
    spatial: dict[int, tuple[list[Loop], list[Loop]]] = {}
    keep = [set() if lvl.dummy else set(workload.tensor_names) for lvl in arch.levels]
    factor_product = {d: 1 for d in workload.dims}
    for i, e in enumerate(entries):
        e_at = at.at(i)
        e = _mapping_node(e, e_at)
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
                if _is_empty(e[key]):
                    continue
                raise e_at.at(key).error(f"{key} is not supported by loopscape",
                                         fix=f"remove {key}")
            if key not in _DIRECTIVE_KEYS[kind]:
                raise e_at.at(str(key)).error(
                    f"unknown key {key!r} in a {e['type']} entry",
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
            k_list = _names(e.get("keep"), e_at.at("keep"))
            b_list = _names(e.get("bypass"), e_at.at("bypass"))
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
        for d, f in factors.items():
            factor_product[d] *= f
        if kind == "temporal":
            inner_first = [Loop(d, factors[d]) for d in perm if factors.get(d, 1) > 1]
            temporal[lvl] = inner_first[::-1]
            continue
        fx, fy = arch.fanout(lvl)
        if fx * fy == 1 and any(f > 1 for f in factors.values()):
            raise e_at.at("target").error(
                f"{names[lvl]} has no spatial fanout (the next level has as many instances)",
                fix="put spatial factors on a level whose child has more instances")
        split = len(workload.dims)
        if e.get("split") is not None:
            split = _integer(e["split"], e_at.at("split"))
        xs = [Loop(d, factors[d]) for d in perm[:split] if factors.get(d, 1) > 1]
        ys = [Loop(d, factors[d]) for d in perm[split:] if factors.get(d, 1) > 1]
        spatial[lvl] = (xs[::-1], ys[::-1])
    for d in workload.dims:
        if factor_product[d] != workload.bound(d):
            raise at.error(f"factors of {d} multiply to {factor_product[d]} but the problem's "
                           f"{d} is {workload.bound(d)}",
                           fix="imperfect factorization is not supported: make the factors of "
                               "every dimension multiply to its bound")
    levels = []
    for i in range(n):
        xs, ys = spatial.get(i, ([], []))
        levels.append(LevelMapping(
            target=names[i], temporal=tuple(temporal.get(i, [])), spatial_x=tuple(xs),
            spatial_y=tuple(ys), keep=tuple(t for t in workload.tensor_names if t in keep[i])))
    return Mapping(tuple(levels))


# ----------------------------------------------------------------------------------
# Constraints and the entry points
# ----------------------------------------------------------------------------------

def _constraint_targets(raw: Any, at: Where) -> list:
    if _is_empty(raw):
        return []
    if isinstance(raw, dict):
        for key in raw:
            if key not in ("targets", "version"):
                raise at.at(str(key)).error(f"unknown constraints key {key!r}",
                                            fix="constraints are a list under 'targets'")
        return list(_list_node(raw.get("targets") or [], at.at("targets")))
    return list(_list_node(raw, at))


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
    ert = _parse_ert(merged["ERT"], where("ERT")) if "ERT" in merged else None
    workload = _parse_problem(merged["problem"], where("problem"))
    arch = _parse_architecture(merged["architecture"], where("architecture"), ert)
    mapping = None
    if not _is_empty(merged.get("mapping")):
        mapping = _parse_mapping(merged["mapping"], where("mapping"), workload, arch)
    constraints = None
    if "architecture_constraints" in merged or "mapspace_constraints" in merged:
        targets = []
        for key in ("architecture_constraints", "mapspace_constraints"):
            if key in merged:
                targets += _constraint_targets(merged[key], where(key))
        constraints = {"targets": targets}
    from .timeloop_sparsity import timeloop_sparsity
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


# ----------------------------------------------------------------------------------
# Constraints: architecture_constraints / mapspace_constraints -> Constraints
# ----------------------------------------------------------------------------------

_CONSTRAINT_TYPES = {"temporal": "temporal", "spatial": "spatial", "bypass": "bypass",
                     "bypassing": "bypass", "datatype": "bypass", "dataspace": "bypass",
                     "utilization": "utilization", "parallelism": "utilization"}
_CONSTRAINT_KEYS = {
    "temporal": ("factors", "permutation", "default_max_factor", "default_min_factor"),
    "spatial": ("factors", "permutation", "split", "default_max_factor", "default_min_factor"),
    "bypass": ("keep", "bypass"),
    "utilization": ("min",),
}
_CONSTRAINT_COMMON = ("target", "name", "type", "attributes")
# Keys Timeloop reads that change what it computes in ways loopscape does not model;
# accepted only when empty.
_CONSTRAINT_UNSUPPORTED = {
    "no_link_transfer": "link transfers", "no_reuse": "reuse switches",
    "no_multicast_no_reduction": "multicast switches", "no_temporal_reuse": "reuse switches",
    "rmw_first_update": "read-modify-write switches", "no_coalesce": "coalescing switches",
    "remainders": "imperfect factorization (remainders)",
}
_CFACTOR_RE = re.compile(r"([A-Za-z]+)\s*(<=|>=|=*)\s*([0-9]+)")
_BOUND_NAMES = {"exact": "exact factor", "min": "minimum", "max": "maximum"}


class _Entry:
    """One flat constraint: its keys (``attributes`` merged in) and where each sits."""

    def __init__(self, data: dict, at: Where, locs: dict[str, Where]):
        self.data = data
        self.at = at
        self.locs = locs

    def where(self, key: str) -> Where:
        return self.locs.get(key, self.at.at(key))

    def label(self) -> str:
        return self.at.key or "<constraint>"


def _flat_entries(targets: list, at: Where) -> list[_Entry]:
    """Timeloop's three spellings of one constraint: flat (``target``, ``type``,
    ``factors``...), with an ``attributes`` map, or a target with a ``constraints`` list."""
    out: list[_Entry] = []
    for i, raw in enumerate(targets):
        t_at = at.at(i)
        raw = _mapping_node(raw, t_at)
        if "constraints" in raw:
            for key in raw:
                if key not in ("target", "name", "constraints"):
                    raise t_at.at(str(key)).error(
                        f"unknown key {key!r} next to a 'constraints' list",
                        fix="put type, factors, ... in the items of 'constraints'")
            c_at = t_at.at("constraints")
            for j, sub in enumerate(_list_node(raw["constraints"], c_at)):
                s_at = c_at.at(j)
                sub = _mapping_node(sub, s_at)
                for key in ("target", "name"):
                    if key in sub:
                        raise s_at.at(key).error(f"{key!r} inside a 'constraints' list",
                                                 fix="the target is given once, above the list")
                data = {k: raw[k] for k in ("target", "name") if k in raw}
                data.update(sub)
                locs = {k: t_at.at(k) for k in ("target", "name") if k in raw}
                out.append(_merge_attributes(data, s_at, locs))
        else:
            out.append(_merge_attributes(dict(raw), t_at, {}))
    return out


def _merge_attributes(data: dict, at: Where, locs: dict[str, Where]) -> _Entry:
    if "attributes" in data:
        a_at = at.at("attributes")
        raw = data.pop("attributes")
        attrs = {} if raw is None else _mapping_node(raw, a_at)
        for k, v in attrs.items():
            if k in data:
                raise a_at.at(str(k)).error(f"{k!r} is given both in the entry and in its "
                                            f"attributes", fix="give it once")
            data[k] = v
            locs[k] = a_at.at(str(k))
    return _Entry(data, at, locs)


def _constraint_level(e: _Entry, arch: Architecture) -> int:
    """Our level index (outermost first) of an entry's ``target`` (or ``name``): a level
    name or a Timeloop storage level id (0 = innermost)."""
    names = list(arch.level_names)
    n = len(names)
    keys = [k for k in ("target", "name") if k in e.data]
    if not keys:
        raise e.at.error("the constraint has no target", fix=f"add target: one of {names}")
    if len(keys) == 2 and e.data["target"] != e.data["name"]:
        raise e.where("name").error("'target' and 'name' name different levels",
                                    fix="give only target")
    target = e.data[keys[0]]
    t_at = e.where(keys[0])
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < n:
            raise t_at.error(f"storage level id {target} out of range 0..{n - 1} "
                             f"(0 is the innermost level)", fix=f"or use a name: {names}")
        return n - 1 - target
    if isinstance(target, str) and target in names:
        return names.index(target)
    raise t_at.error(f"unknown target {target!r}",
                     fix=f"use one of the storage levels {names} (outermost first)")


def _constraint_factors(raw: Any, at: Where, workload: Workload
                        ) -> list[tuple[str, str, int, str]]:
    """Timeloop's factor terms: ``D=k`` / ``Dk`` (exact; 0 = the whole bound),
    ``D<=k`` (maximum), ``D>=k`` (minimum), separated by spaces or commas; text after
    ``#`` is a comment. Returns (dim, "exact"|"max"|"min", value, term text)."""
    if raw is None:
        return []
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        text = " ".join(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise at.error(f"expected factors such as 'C=1 M<=8 P>=2', got {raw!r}")
    text = text.split("#", 1)[0]
    leftover = _CFACTOR_RE.sub(" ", text)
    if leftover.strip(" ,\t\n"):
        raise at.error(f"cannot read factors {raw!r} (left over: {leftover.strip()!r})",
                       fix="write terms such as 'C=1', 'C1', 'M<=8', 'P>=2'")
    out: list[tuple[str, str, int, str]] = []
    for m in _CFACTOR_RE.finditer(text):
        dim, op, value = m.group(1), m.group(2), int(m.group(3))
        kind = {"<=": "max", ">=": "min"}.get(op, "exact")
        if dim not in workload.dims:
            raise at.error(f"unknown dimension {dim!r} in factors {raw!r}",
                           fix=f"use dimensions of the problem: {list(workload.dims)}")
        if any(d == dim and k == kind for d, k, _, _ in out):
            raise at.error(f"{dim} is given two {_BOUND_NAMES[kind]}s in {raw!r}",
                           fix="give each once")
        if kind != "exact" and value <= 0:
            raise at.error(f"{m.group(0)!r}: a {_BOUND_NAMES[kind]} factor must be positive",
                           fix="use an integer >= 1")
        if kind == "exact" and value > workload.bound(dim):
            raise at.error(f"{m.group(0)!r} exceeds the problem's {dim} = "
                           f"{workload.bound(dim)} (Timeloop ignores such a factor with a "
                           f"warning)", fix=f"remove it, or write {dim}=0 for the whole bound")
        out.append((dim, kind, value, m.group(0)))
    return out


def _constraint_permutation(raw: Any, at: Where, workload: Workload
                            ) -> tuple[list[str], list[str]]:
    """(prefix, suffix), both innermost first: the dimensions before ``_`` are the
    innermost loops, those after it the outermost loops; the rest may go in any order."""
    if raw is None:
        return [], []
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        tokens = list(raw)
    elif isinstance(raw, str):
        tokens = [ch for ch in raw.split("#", 1)[0] if not ch.isspace()]
    else:
        raise at.error(f"expected a permutation string such as 'RPK' or 'RS_PQ', got {raw!r}")
    prefix: list[str] = []
    suffix: list[str] = []
    part = prefix
    for tok in tokens:
        if tok == "_":
            part = suffix
            continue
        if tok not in workload.dims:
            raise at.error(f"unknown dimension {tok!r} in permutation {raw!r}",
                           fix=f"use dimensions of the problem: {list(workload.dims)}")
        if tok in prefix or tok in suffix:
            raise at.error(f"{tok} appears twice in permutation {raw!r}", fix="list it once")
        part.append(tok)
    return prefix, suffix


def _split_axes(prefix: list[str], suffix: list[str], split: int, dims: Sequence[str],
                two_d: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Dimensions allowed on X and on Y for a spatial ``split``. Timeloop orders the
    level's loops as prefix + (unspecified dimensions, any order) + suffix, innermost
    first, and puts positions below ``split`` on X. Unspecified dimensions straddling the
    split may land on either axis. Without a permutation a 1-D level uses the problem's
    dimension order (Timeloop's canonical permutation)."""
    if not prefix and not suffix and not two_d:
        prefix = list(dims)
    infix = [d for d in dims if d not in prefix and d not in suffix]
    n = len(dims)
    on_x: set[str] = {d for k, d in enumerate(prefix) if k < split}
    on_y: set[str] = {d for k, d in enumerate(prefix) if k >= split}
    lo, hi = len(prefix), len(prefix) + len(infix)  # infix positions lo..hi-1
    if hi <= split:
        on_x |= set(infix)
    elif lo >= split:
        on_y |= set(infix)
    else:
        on_x |= set(infix)
        on_y |= set(infix)
    for k, d in enumerate(suffix):
        (on_x if n - len(suffix) + k < split else on_y).add(d)
    return tuple(d for d in dims if d in on_x), tuple(d for d in dims if d in on_y)


def _targets_of(spec_or_targets: Any, source: str) -> list[tuple[list, Where]]:
    if isinstance(spec_or_targets, TimeloopSpec):
        raw = spec_or_targets.constraints
        if raw is None:
            return []
        return [(_constraint_targets(raw, Where(source)), Where(source, "targets"))]
    if isinstance(spec_or_targets, list):
        return [(spec_or_targets, Where(source, "targets"))]
    if isinstance(spec_or_targets, dict):
        keys = ("architecture_constraints", "mapspace_constraints")
        if any(k in spec_or_targets for k in keys):
            out = []
            for k in keys:
                if k in spec_or_targets:
                    out.append((_constraint_targets(spec_or_targets[k], Where(source, k)),
                                Where(source, f"{k}.targets")))
            return out
        return [(_constraint_targets(spec_or_targets, Where(source)), Where(source, "targets"))]
    raise SpecError(f"expected a TimeloopSpec, a Timeloop document, {{'targets': [...]}} or a "
                    f"list of constraints, got {type(spec_or_targets).__name__}", source=source)


def timeloop_constraints(spec_or_targets: Any, workload: Workload, arch: Architecture, *,
                         source: str | None = None) -> Constraints:
    """Convert Timeloop's ``architecture_constraints`` and ``mapspace_constraints`` into
    loopscape :class:`Constraints` for ``workload`` on ``arch``.

    ``spec_or_targets`` is a :class:`TimeloopSpec` (its ``constraints``), a Timeloop
    document (a dict with ``architecture_constraints``/``mapspace_constraints``: errors
    then name those keys), ``{"targets": [...]}`` or the list of targets.

    Semantics, as read from Timeloop's source (src/mapping/constraints.cpp, ``Parse*``;
    src/mapspaces/uber.cpp and subspaces.cpp for how the mapper applies them):

    * ``type``: temporal, spatial, bypass (also bypassing, datatype, dataspace),
      utilization (also parallelism). ``target`` (or ``name``) is a storage level name
      or id, 0 being the innermost level.
    * ``factors``: ``D=k`` or ``Dk`` fixes a factor, ``D=0`` means the whole bound,
      ``D<=k`` / ``D>=k`` bound it. A fixed factor above the bound, which Timeloop
      ignores with a warning, is an error here. A spatial factor is the level's whole
      spatial factor of that dimension (X times Y).
    * ``default_max_factor`` / ``default_min_factor`` (in a temporal or spatial entry):
      the bound for every dimension that entry gives no ``<=`` (``>=``) term, at that
      level and of that kind. They become per-dimension rules, not the global defaults.
    * ``permutation`` is innermost first. The dimensions before an optional ``_`` are
      pinned innermost in that order, those after it outermost; the others are free
      (a partial string constrains only the innermost loops). They become ``inner`` and
      ``outer`` in loopscape's outermost-first order (``"RS_PQ"``: inner [S, R], outer
      [Q, P]); dimensions the same level fixes to a temporal factor of 1 are dropped as
      they are exempt anyway. A spatial permutation only decides the X/Y split.
    * ``split`` (spatial): positions below it in the level's loop order go on X, the
      rest on Y; ``split`` >= the number of dimensions puts all on X, 0 all on Y. They
      become ``spatial_x``/``spatial_y``; without ``split`` Timeloop searches it, so
      both stay unrestricted.
    * ``keep``/``bypass``: tensors kept or bypassed at the level.
    * ``utilization`` with ``min``: the minimum product of spatial fanout utilizations,
      allowed only on the innermost storage level; it becomes ``min_pe_utilization``.

    Re-specifying a factor, bound, permutation, split, keep or utilization for one level
    (e.g. in both ``architecture_constraints`` and ``mapspace_constraints``) is an error,
    as in Timeloop; so are spatial entries on levels without fanout. The result is not
    validated against the layer here: :func:`validate_constraints` does that.
    """
    if source is None:
        sources = getattr(spec_or_targets, "sources", ())
        source = ", ".join(sources) if sources else "<timeloop>"
    names = list(arch.level_names)
    n = len(names)
    tensor_names = list(workload.tensor_names)
    # Per (level, kind, dim, bound kind) -> (value, where); kind "temporal"/"spatial".
    factors: dict[tuple[int, str, str, str], tuple[int, str]] = {}
    perms: dict[tuple[int, str], tuple[list[str], list[str], str]] = {}
    splits: dict[int, tuple[int, str]] = {}
    keeps: dict[tuple[int, str], tuple[str, str]] = {}
    utilization: tuple[float, str] | None = None
    for targets, at in _targets_of(spec_or_targets, source):
        for e in _flat_entries(targets, at):
            raw_type = e.data.get("type")
            if raw_type is None:
                raise e.at.error("the constraint has no type",
                                 fix="add type: temporal, spatial, bypass or utilization")
            if raw_type == "max_overbooked_proportion":
                raise e.where("type").error("overbooking constraints are not supported",
                                            fix="remove this entry (loopscape never overbooks)")
            if raw_type not in _CONSTRAINT_TYPES:
                raise e.where("type").error(
                    f"unknown constraint type {raw_type!r}",
                    fix=f"use one of {', '.join(_CONSTRAINT_TYPES)}")
            kind = _CONSTRAINT_TYPES[raw_type]
            allowed = _CONSTRAINT_COMMON + _CONSTRAINT_KEYS[kind]
            for key in e.data:
                if key in _CONSTRAINT_UNSUPPORTED and key not in allowed:
                    if _is_empty(e.data[key]):
                        continue
                    raise e.where(key).error(
                        f"{key} ({_CONSTRAINT_UNSUPPORTED[key]}) is not supported by "
                        f"loopscape", fix=f"remove {key}")
                if key not in allowed:
                    raise e.where(str(key)).error(
                        f"unknown key {key!r} in a {raw_type} constraint",
                        fix=f"a {raw_type} constraint has {', '.join(allowed)}")
            lvl = _constraint_level(e, arch)
            here = f"{e.label()} (target {names[lvl]})"
            if kind == "utilization":
                if lvl != n - 1:
                    raise e.where("target").error(
                        f"a utilization constraint must target the innermost storage level "
                        f"({names[-1]}), as in Timeloop; got {names[lvl]}",
                        fix=f"target: {names[-1]}")
                if "min" not in e.data:
                    raise e.at.error("a utilization constraint needs 'min'",
                                     fix="add min: a fraction between 0 and 1")
                u = _number(e.data["min"], e.where("min"))
                if not 0 <= u <= 1:
                    raise e.where("min").error(f"must be between 0 and 1, got {u:g}")
                if utilization is not None:
                    raise e.at.error(f"a second utilization constraint (the first is "
                                     f"{utilization[1]})", fix="keep one")
                utilization = (u, here)
                continue
            if kind == "bypass":
                for verdict in ("keep", "bypass"):
                    for t in _names(e.data.get(verdict), e.where(verdict)):
                        if t not in tensor_names:
                            raise e.where(verdict).error(f"unknown data space {t!r}",
                                                         fix=f"use {tensor_names}")
                        prior = keeps.get((lvl, t))
                        if prior is not None:
                            raise e.where(verdict).error(
                                f"{t} is given a keep/bypass setting at {names[lvl]} twice "
                                f"({prior[0]} in {prior[1]}, {verdict} here); Timeloop rejects "
                                f"this too", fix="give each data space one setting per level")
                        keeps[(lvl, t)] = (verdict, here)
                continue
            # temporal / spatial
            if kind == "spatial" and arch.fanout(lvl) == (1, 1):
                raise e.where("type").error(
                    f"{names[lvl]} has no spatial fanout (the level below it has as many "
                    f"instances), so it takes no spatial constraint (Timeloop rejects it too)",
                    fix="remove this entry or target a level that fans out")
            terms = _constraint_factors(e.data.get("factors"), e.where("factors"), workload)
            given = {(d, k) for d, k, _, _ in terms}
            for key, bound_kind in (("default_max_factor", "max"),
                                    ("default_min_factor", "min")):
                if e.data.get(key) is None:
                    continue
                v = _integer(e.data[key], e.where(key), minimum=1)
                terms += [(d, bound_kind, v, f"{key}: {v}") for d in workload.dims
                          if (d, bound_kind) not in given]
            for d, bound_kind, v, text in terms:
                slot = (lvl, kind, d, bound_kind)
                if slot in factors:
                    raise e.where("factors").error(
                        f"a second {kind} {_BOUND_NAMES[bound_kind]} for {d} at {names[lvl]} "
                        f"({text!r}; the first is "
                        f"{factors[slot][1]}); Timeloop rejects this too",
                        fix="give each dimension one value per level")
                factors[slot] = (v, f"{text!r} in {here}")
            prefix, suffix = _constraint_permutation(e.data.get("permutation"),
                                                     e.where("permutation"), workload)
            if prefix or suffix:
                if (lvl, kind) in perms:
                    raise e.where("permutation").error(
                        f"a second {kind} permutation for {names[lvl]} (the first is in "
                        f"{perms[(lvl, kind)][2]}); Timeloop rejects this too",
                        fix="give one permutation per level")
                perms[(lvl, kind)] = (prefix, suffix, here)
            if kind == "spatial" and e.data.get("split") is not None:
                if lvl in splits:
                    raise e.where("split").error(
                        f"a second split for {names[lvl]} (the first is in {splits[lvl][1]})",
                        fix="give one split per level")
                splits[lvl] = (_integer(e.data["split"], e.where("split")), here)
    return _build_constraints(workload, arch, factors, perms, splits, keeps,
                              utilization[0] if utilization else 0.0, source)


def _build_constraints(workload: Workload, arch: Architecture,
                       factors: dict[tuple[int, str, str, str], tuple[int, str]],
                       perms: dict[tuple[int, str], tuple[list[str], list[str], str]],
                       splits: dict[int, tuple[int, str]],
                       keeps: dict[tuple[int, str], tuple[str, str]],
                       utilization: float, source: str) -> Constraints:
    levels = []
    for i, lvl in enumerate(arch.levels):
        rules: dict[str, list[tuple[str, FactorRule]]] = {"temporal": [], "spatial": []}
        for kind in ("temporal", "spatial"):
            for d in workload.dims:
                got = {b: factors[(i, kind, d, b)][0] for b in ("exact", "min", "max")
                       if (i, kind, d, b) in factors}
                if not got:
                    continue
                exact = got.get("exact")
                rules[kind].append((d, FactorRule(
                    exact=exact if exact else None, min=got.get("min"), max=got.get("max"),
                    whole=exact == 0)))
        temporal = dict(rules["temporal"])

        def unit(d: str) -> bool:
            r = temporal.get(d)
            return r is not None and (r.exact == 1 or (r.whole and workload.bound(d) == 1))

        prefix, suffix, _ = perms.get((i, "temporal"), ([], [], ""))
        inner = tuple(d for d in reversed(prefix) if not unit(d))
        outer = tuple(d for d in reversed(suffix) if not unit(d))
        sx = sy = None
        if i in splits:
            fx, fy = arch.fanout(i)
            sprefix, ssuffix, _ = perms.get((i, "spatial"), ([], [], ""))
            sx, sy = _split_axes(sprefix, ssuffix, splits[i][0], workload.dims,
                                 fx > 1 and fy > 1)
        keep = tuple(t for t in workload.tensor_names if keeps.get((i, t), ("",))[0] == "keep")
        bypass = tuple(t for t in workload.tensor_names
                       if keeps.get((i, t), ("",))[0] == "bypass")
        lc = LevelConstraints(target=lvl.name, temporal=tuple(rules["temporal"]),
                              spatial=tuple(rules["spatial"]), spatial_x=sx, spatial_y=sy,
                              outer=outer, inner=inner, keep=keep, bypass=bypass)
        if lc != LevelConstraints(target=lvl.name):
            levels.append(lc)
    return Constraints(tuple(levels), min_pe_utilization=utilization, source=source)
