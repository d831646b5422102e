"""The ``architecture:`` section of loopscape's YAML format.

Levels are listed outermost first; ``mesh: [x, y]`` gives a level's instances and the
ratio of consecutive meshes its spatial fanout. Energies are pJ per vector access
(``block_size`` words), leakage pJ per cycle per instance, bandwidths words per cycle
per instance. Defaults, all documented in docs/formats.md: unbounded capacity, 8-bit
words, block size 1, mesh [1, 1], no leakage, unlimited bandwidth, any tensor kept.
"""

from __future__ import annotations

from typing import Any

from ..arch import Architecture, ComputeLevel, StorageLevel
from ..errors import SpecError
from .strict import (Where, describe, expect_bool, expect_int, expect_list, expect_map,
                     expect_names, expect_number, expect_pair, expect_str)

ARCH_KEYS = ("name", "description", "levels", "compute")
LEVEL_KEYS = ("name", "capacity_words", "word_bits", "tensor_bits", "block_size", "energy_pj",
              "bandwidth", "mesh", "instances", "keeps", "dummy", "multiple_buffering",
              "cluster_size", "min_utilization", "technology")
ENERGY_KEYS = ("read", "fill", "update", "leak", "link")
BANDWIDTH_KEYS = ("read", "write", "shared")
COMPUTE_KEYS = ("name", "mesh", "instances", "energy_pj")

_TIMELOOP_HINT = ("this looks like a Timeloop architecture; import it with "
                  "loopscape.spaces.io.load_timeloop (CLI: --from-timeloop)")


def load_arch_body(body: Any, where: Where) -> Architecture:
    """Build an Architecture from the map under ``architecture:``."""
    if isinstance(body, dict) and ("subtree" in body or "nodes" in body or "version" in body):
        bad = next(k for k in ("version", "subtree", "nodes") if k in body)
        raise where.at(bad).error(f"unknown key {bad!r}", fix=_TIMELOOP_HINT)
    expect_map(body, where, allowed=ARCH_KEYS, required=("name", "levels", "compute"))
    name = expect_str(body["name"], where.at("name"))
    description = ""
    if body.get("description") is not None:
        description = expect_str(body["description"], where.at("description"), nonempty=False)
    lw = where.at("levels")
    raw_levels = expect_list(body["levels"], lw, what="a list of storage levels")
    if not raw_levels:
        raise lw.error("an architecture needs at least one storage level",
                       fix="list the levels outermost (DRAM) first")
    levels = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_levels):
        lvl = _load_level(raw, lw.at(i), lw)
        if lvl.name in seen:
            raise lw.at(lvl.name).error(f"level name {lvl.name!r} is used twice",
                                        fix="give every level a distinct name")
        seen.add(lvl.name)
        levels.append(lvl)
    compute = _load_compute(body["compute"], where.at("compute"))
    if compute.name in seen:
        raise where.at("compute").at("name").error(
            f"compute name {compute.name!r} is also a storage level's name",
            fix="give the compute level a distinct name")
    try:
        return Architecture(name, tuple(levels), compute, description)
    except SpecError as e:
        raise SpecError(e.message, source=where.source,
                        key=f"{where.key}.{e.key}" if e.key else where.key,
                        fix=e.fix or "see docs/formats.md (architectures)") from None


def _mesh(raw: dict, where: Where) -> tuple[int, int]:
    x, y = (1, 1)
    if "mesh" in raw:
        x, y = expect_pair(raw["mesh"], where.at("mesh"), what="[x, y]")
        for i, v in enumerate((x, y)):
            expect_int(v, where.at("mesh").at(i), limit="instances")
        expect_int(x * y, where.at("mesh"), limit="instances")
    if "instances" in raw:
        n = expect_int(raw["instances"], where.at("instances"), limit="instances")
        if n != x * y:
            raise where.at("instances").error(
                f"instances = {n} but mesh {x}x{y} has {x * y}",
                fix="set mesh: [x, y] with x * y = instances (or drop instances)")
    return x, y


def _load_level(raw: Any, where: Where, levels_where: Where) -> StorageLevel:
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"].strip():
        where = levels_where.at(raw["name"])
    dummy = False
    if isinstance(raw, dict) and "dummy" in raw:
        dummy = expect_bool(raw["dummy"], where.at("dummy"))
    required = ("name",) if dummy else ("name", "energy_pj")
    expect_map(raw, where, allowed=LEVEL_KEYS, required=required, what="a map (one level)")
    name = expect_str(raw["name"], where.at("name"))
    x, y = _mesh(raw, where)
    cap = raw.get("capacity_words")
    if cap is not None:
        cap = expect_int(cap, where.at("capacity_words"), limit="capacity_words")
    word_bits = expect_int(raw.get("word_bits", 8), where.at("word_bits"), limit="word_bits")
    block = expect_int(raw.get("block_size", 1), where.at("block_size"), limit="block_size")
    tensor_bits: tuple[tuple[str, int], ...] = ()
    if raw.get("tensor_bits") is not None:
        tw = where.at("tensor_bits")
        tb = raw["tensor_bits"]
        if not isinstance(tb, dict):
            raise tw.error(f"expected a map of tensor name to bits, got {describe(tb)}",
                           fix="write e.g. tensor_bits: {Outputs: 16}")
        tensor_bits = tuple((expect_str(t, tw), expect_int(b, tw.at(str(t)), limit="word_bits"))
                            for t, b in tb.items())
    energies = {k: 0.0 for k in ENERGY_KEYS}
    if raw.get("energy_pj") is not None or not dummy:
        ew = where.at("energy_pj")
        if isinstance(raw.get("energy_pj"), dict) and "write" in raw["energy_pj"]:
            raise ew.at("write").error("unknown key 'write'",
                                       fix="Timeloop's write energy is called fill here "
                                           "(allowed keys: read, fill, update, leak, link)")
        e = expect_map(raw.get("energy_pj"), ew, allowed=ENERGY_KEYS,
                       required=("read", "fill", "update"),
                       what="a map of per-access energies (read, fill, update, leak, link)")
        for k, v in e.items():
            energies[k] = expect_number(v, ew.at(k))
    bandwidth: dict[str, float | None] = {k: None for k in BANDWIDTH_KEYS}
    if raw.get("bandwidth") is not None:
        bw = where.at("bandwidth")
        for k, v in expect_map(raw["bandwidth"], bw, allowed=BANDWIDTH_KEYS,
                               what="a map of bandwidths (read, write, shared)").items():
            bandwidth[k] = None if v is None else expect_number(v, bw.at(k), positive=True)
    keeps = None
    if raw.get("keeps") is not None:
        keeps = expect_names(raw["keeps"], where.at("keeps"), what="tensor")
    mb = expect_number(raw.get("multiple_buffering", 1), where.at("multiple_buffering"),
                       minimum=1)
    mu = expect_number(raw.get("min_utilization", 0), where.at("min_utilization"), maximum=1)
    cluster = expect_int(raw.get("cluster_size", 1), where.at("cluster_size"))
    tech = ""
    if raw.get("technology") is not None:
        tech = expect_str(raw["technology"], where.at("technology"), nonempty=False)
    return StorageLevel(
        name=name, instances=x * y, mesh_x=x, mesh_y=y, capacity_words=cap,
        word_bits=word_bits, tensor_bits=tensor_bits, block_size=block,
        read_energy_pj=energies["read"], fill_energy_pj=energies["fill"],
        update_energy_pj=energies["update"], leak_energy_pj=energies["leak"],
        link_energy_pj=energies["link"], read_bandwidth=bandwidth["read"], write_bandwidth=bandwidth["write"],
        shared_bandwidth=bandwidth["shared"], keeps=keeps, dummy=dummy,
        multiple_buffering=mb, min_utilization=mu, technology=tech, cluster_size=cluster)


def _load_compute(raw: Any, where: Where) -> ComputeLevel:
    expect_map(raw, where, allowed=COMPUTE_KEYS, required=("name", "energy_pj"),
               what="a map (the compute units)")
    name = expect_str(raw["name"], where.at("name"))
    x, y = _mesh(raw, where)
    energy = raw["energy_pj"]
    if isinstance(energy, dict):
        raise where.at("energy_pj").error(f"expected a number, got {describe(energy)}",
                                          fix="give the energy of one MAC in pJ, e.g. 0.2")
    energy = expect_number(energy, where.at("energy_pj"))
    return ComputeLevel(name, x * y, x, y, energy)


# ----------------------------------------------------------------------------------
# Dumping
# ----------------------------------------------------------------------------------

def dump_arch_body(a: Architecture) -> dict:
    """The map to write under ``architecture:``; writes every non-default field."""
    body: dict = {"name": a.name}
    if a.description:
        body["description"] = a.description
    body["levels"] = [_dump_level(l) for l in a.levels]
    c = a.compute
    body["compute"] = {"name": c.name, "mesh": [c.mesh_x, c.mesh_y], "energy_pj": c.energy_pj}
    return body


def _dump_level(l: StorageLevel) -> dict:
    d: dict = {"name": l.name}
    if l.dummy:
        d["dummy"] = True
    if not l.dummy or l.capacity_words is not None:
        d["capacity_words"] = l.capacity_words
    if not l.dummy or l.word_bits != 8:
        d["word_bits"] = l.word_bits
    if l.tensor_bits:
        d["tensor_bits"] = dict(l.tensor_bits)
    if not l.dummy or l.block_size != 1:
        d["block_size"] = l.block_size
    energies = {"read": l.read_energy_pj, "fill": l.fill_energy_pj,
                "update": l.update_energy_pj, "leak": l.leak_energy_pj}
    if l.link_energy_pj:
        energies["link"] = l.link_energy_pj
    if not l.dummy or any(energies.values()):
        d["energy_pj"] = energies
    bw = {k: v for k, v in (("read", l.read_bandwidth), ("write", l.write_bandwidth),
                            ("shared", l.shared_bandwidth)) if v is not None}
    if bw:
        d["bandwidth"] = bw
    d["mesh"] = [l.mesh_x, l.mesh_y]
    if l.keeps is not None:
        d["keeps"] = list(l.keeps)
    if l.multiple_buffering != 1:
        d["multiple_buffering"] = l.multiple_buffering
    if l.min_utilization:
        d["min_utilization"] = l.min_utilization
    if l.cluster_size != 1:
        d["cluster_size"] = l.cluster_size
    if l.technology:
        d["technology"] = l.technology
    return d
