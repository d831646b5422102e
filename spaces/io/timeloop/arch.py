"""Timeloop's architecture (``subtree``/``local`` tree) -> a loopscape Architecture."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from ...arch import Architecture, ComputeLevel, StorageLevel
from ...errors import SpecError
from ..strict import (Where, did_you_mean, expect_bool, expect_int, expect_list, expect_map,
                      expect_number)
from .attributes import check_supported, known_attributes
from .cluster import block_and_cluster
from .common import RANGE_RE
from .ert import compute_energy, storage_energy
from .network import link_energy_pj, wire_energy_pj

__all__ = ["parse_architecture"]

# Timeloop classifies a component by substrings of its class (model/topology.hpp).
_BUFFER_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
_COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")
_NETWORK_CLASSES = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")
_ARCH_KEYS = ("version", "subtree", "local", "name", "attributes")
_SUBTREE_KEYS = ("name", "attributes", "local", "subtree")
_COMPONENT_KEYS = ("name", "class", "attributes", "required_actions", "enabled", "subclass",
                   "area_share", "actions")


def _split_name(name: Any, at: Where) -> tuple[str, int]:
    """``GlobalBuffer[1..16]`` -> ("GlobalBuffer", 16); a plain name has one instance."""
    if not isinstance(name, str) or not name.strip():
        raise at.error(f"a component needs a name, got {name!r}")
    m = RANGE_RE.match(name.strip())
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
        instances = expect_int(attrs["instances"], at.at("instances"), minimum=1, lenient=True)
    mx = my = None
    if attrs.get("meshX") is not None:
        mx = expect_int(attrs["meshX"], at.at("meshX"), minimum=1, lenient=True)
    if attrs.get("meshY") is not None:
        my = expect_int(attrs["meshY"], at.at("meshY"), minimum=1, lenient=True)
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


def _components(arch: dict, at: Where, extra: frozenset[str]
                ) -> tuple[str, list[tuple[dict, Where, int]]]:
    """Walk ``subtree``/``local`` from the root inwards: (root name, [(component, where,
    multiplier of enclosing subtrees)]), outermost first."""
    if "nodes" in arch:
        raise at.at("nodes").error(
            "the v0.4 'nodes' architecture format is not read directly",
            fix="pass the processed input that Timeloop writes (parsed-processed-input.yaml)")
    for key in arch:
        if key not in _ARCH_KEYS:
            raise at.at(str(key)).error(f"unknown architecture key {key!r}"
                                        f"{did_you_mean(key, _ARCH_KEYS)}",
                                        fix="expected subtree/local (Timeloop's tree format)")
    out: list[tuple[dict, Where, int]] = []
    node, node_at, mult, root = arch, at, 1, ""
    while True:
        if node.get("attributes") is not None:  # inherited by the components below
            n_at = node_at.at("attributes")
            known_attributes(expect_map(node["attributes"], n_at), n_at, extra)
        if "local" in node:
            l_at = node_at.at("local")
            for i, comp in enumerate(expect_list(node["local"], l_at)):
                out.append((expect_map(comp, l_at.at(i)), l_at.at(i), mult))
        if "subtree" not in node:
            break
        s_at = node_at.at("subtree")
        subtrees = expect_list(node["subtree"], s_at)
        if len(subtrees) != 1:
            raise s_at.error(f"Timeloop reads exactly one subtree per level, got {len(subtrees)}")
        node_at = s_at.at(0)
        node = expect_map(subtrees[0], node_at)
        for key in node:
            if key not in _SUBTREE_KEYS:
                raise node_at.at(str(key)).error(
                    f"unknown subtree key {key!r}{did_you_mean(key, _SUBTREE_KEYS)}",
                    fix=f"a subtree has {', '.join(_SUBTREE_KEYS)}")
        base, count = _split_name(node.get("name"), node_at.at("name"))
        root = root or base
        mult *= count
    if not out:
        raise at.error("the architecture has no components",
                       fix="list storage levels and a compute unit under subtree[0].local")
    return root or "timeloop", out



def _priced_links(levels: list[StorageLevel], compute: ComputeLevel,
                  where: dict[str, Where]) -> list[StorageLevel]:
    """Levels whose link energy needs a hop length (a priced wire, no tile_width): an
    error where the level fans out, else no links and 0."""
    out = []
    for i, l in enumerate(levels):
        if l.link_energy_pj != l.link_energy_pj:  # NaN: unknown hop length
            below = levels[i + 1].instances if i + 1 < len(levels) else compute.instances
            if below > l.instances:
                raise where[l.name].at("tile_width").error(
                    f"the ERT's wire energy prices {l.name}'s link transfers per mm, and "
                    f"the hop length needs the tile width, which Timeloop takes from its "
                    f"area model", fix=f"give {l.name} a tile_width (um) or an "
                    f"energy_per_hop (pJ) attribute")
            l = dataclasses.replace(l, link_energy_pj=0.0)
        out.append(l)
    return out


def parse_architecture(raw: Any, at: Where, ert: dict[str, dict[str, float]] | None, *,
                       extra_attributes: Iterable[str] = ()) -> Architecture:
    """The architecture under ``architecture:``; ``ert`` gives the energies. Component and
    subtree attributes must be known ones (:mod:`.attributes`) or named in
    ``extra_attributes`` (the document's compound-component classes)."""
    extra = frozenset(extra_attributes)
    arch = expect_map(raw, at)
    root, comps = _components(arch, at, extra)
    levels: list[StorageLevel] = []
    level_at: dict[str, Where] = {}
    compute: ComputeLevel | None = None
    for comp, c_at, mult in comps:
        for key in comp:
            if key not in _COMPONENT_KEYS:
                raise c_at.at(str(key)).error(f"unknown component key {key!r}"
                                              f"{did_you_mean(key, _COMPONENT_KEYS)}",
                                              fix=f"a component has {', '.join(_COMPONENT_KEYS)}")
        base, count = _split_name(comp.get("name"), c_at.at("name"))
        if comp.get("enabled") is not None and not expect_bool(
                comp["enabled"], c_at.at("enabled"), lenient=True):
            raise c_at.at("enabled").error("disabled components are not supported",
                                           fix="remove the component from the architecture")
        cls = comp.get("class")
        if not isinstance(cls, str) or not cls:
            raise c_at.at("class").error(f"component {base!r} has no class",
                                         fix="give it a class such as SRAM, DRAM, regfile, "
                                             "dummy_storage or intmac")
        a_at = c_at.at("attributes")
        attrs = known_attributes(expect_map(comp.get("attributes") or {}, a_at), a_at, extra)
        if compute is not None:
            raise c_at.error(f"component {base!r} comes after the compute unit "
                             f"{compute.name!r}",
                             fix="list storage levels outermost first and the compute unit last")
        if any(s in cls for s in _BUFFER_CLASSES):
            levels.append(_storage_level(base, count * mult, cls, attrs, a_at, ert))
            level_at[base] = a_at
        elif any(s in cls for s in _COMPUTE_CLASSES):
            check_supported(attrs, a_at)
            inst, mx, my = _mesh(attrs, count * mult, a_at)
            energy = 0.0
            if ert is not None and base in ert:
                energy = compute_energy(ert[base])
            elif attrs.get("energy") is not None:
                energy = expect_number(attrs["energy"], a_at.at("energy"), lenient=True)
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
    levels = _priced_links(levels, compute, level_at)
    try:
        return Architecture(root, tuple(levels), compute)
    except SpecError as e:
        raise e.located(at.source, at.key) from None


def _storage_level(name: str, instances: int, cls: str, attrs: dict, at: Where,
                   ert: dict[str, dict[str, float]] | None) -> StorageLevel:
    """One buffer; sizes, block size and bandwidths follow Timeloop's BufferLevel specs."""
    check_supported(attrs, at)
    dummy = cls == "dummy_storage"
    inst, mx, my = _mesh(attrs, instances, at)
    wb_item = _first(attrs, ("word_bits", "word_width", "datawidth"))
    word_bits = (expect_int(wb_item[1], at.at(wb_item[0]), minimum=1, lenient=True)
                 if wb_item else 16)
    bs_item = _first(attrs, ("block_size", "n_words"))
    block = expect_int(bs_item[1], at.at(bs_item[0]), minimum=1, lenient=True) if bs_item else None
    w_item = _first(attrs, ("width", "memory_width", "data_storage_width"))
    block, cluster = block_and_cluster(attrs, at, word_bits, block, w_item)
    capacity: int | None = None
    if attrs.get("entries") is not None:
        capacity = expect_int(attrs["entries"], at.at("entries"), minimum=0, lenient=True)
    else:
        d_item = _first(attrs, ("depth", "memory_depth", "data_storage_depth"))
        if d_item:
            capacity = expect_int(d_item[1], at.at(d_item[0]), minimum=0, lenient=True) * block
        elif attrs.get("sizeKB") is not None:
            kb = expect_int(attrs["sizeKB"], at.at("sizeKB"), minimum=0, lenient=True)
            capacity = kb * 1024 * 8 // word_bits
    if dummy:  # it stores nothing: the size Timeloop requires of it is not a capacity
        capacity = None
    bw: dict[str, float | None] = {"read": None, "write": None, "shared": None}
    if attrs.get("bandwidth") is not None:  # deprecated in Timeloop: split evenly
        b = expect_number(attrs["bandwidth"], at.at("bandwidth"), lenient=True)
        bw["read"] = bw["write"] = b / 2
    for kind in ("read", "write", "shared"):
        key = f"{kind}_bandwidth"
        if attrs.get(key) is not None:
            bw[kind] = expect_number(attrs[key], at.at(key), lenient=True)
    mb = expect_number(attrs["multiple_buffering"], at.at("multiple_buffering"), lenient=True) \
        if attrs.get("multiple_buffering") is not None else 1.0
    mu = expect_number(attrs["min_utilization"], at.at("min_utilization"), lenient=True) \
        if attrs.get("min_utilization") is not None else 0.0
    is_dram = "DRAM" in cls or attrs.get("technology") == "DRAM"
    tech = "DRAM" if is_dram else (attrs.get("technology") if isinstance(
        attrs.get("technology"), str) else "")
    read = fill = update = leak = 0.0
    if attrs.get("vector_access_energy") is not None:  # a user's energy overrides the ERT
        read = fill = update = expect_number(attrs["vector_access_energy"],
                                       at.at("vector_access_energy"), lenient=True)
    elif ert is not None and name in ert:
        read, fill, update, leak = storage_energy(ert[name])
    link = link_energy_pj(attrs, at, word_bits, wire_energy_pj(ert))
    if link is None:  # checked where the level fans out (parse_architecture)
        link = float("nan")
    return StorageLevel(
        name=name, instances=inst, mesh_x=mx, mesh_y=my, capacity_words=capacity,
        word_bits=word_bits, block_size=block, read_energy_pj=read, fill_energy_pj=fill,
        update_energy_pj=update, leak_energy_pj=leak, read_bandwidth=bw["read"],
        write_bandwidth=bw["write"], shared_bandwidth=bw["shared"], keeps=None, dummy=dummy,
        multiple_buffering=mb, min_utilization=mu, technology=tech, cluster_size=cluster,
        link_energy_pj=link)
