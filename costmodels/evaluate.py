"""Scalar evaluator: energy, cycles and utilization of one mapping (the reference model).

Energy per level and tensor is charged per vector access: ``ceil(scalar accesses /
block words)`` times the action energy, per utilized instance (per utilized cluster on a
level whose instances share arrays, Timeloop's ``cluster_size``); leakage is
``leak x cycles`` per utilized instance; compute energy is ``MACs x MAC energy``.
Cycles are the compute cycles (temporal iterations per PE) stretched by the worst
bandwidth shortfall of any level. Results are plain dataclasses with ``to_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from loopscape.spaces.arch import Architecture, StorageLevel
from loopscape.spaces.mapping import Mapping, check_mapping
from loopscape.spaces.workload import Workload

from .bounds import LowerBounds, lower_bounds
from .nest import analyze
from .options import ModelOptions, model_options


@dataclass(frozen=True)
class TensorStats:
    """One tensor at one level. Access counts are per instance (Timeloop's convention)."""

    tile_words: int
    partition_words: int
    reads: int
    fills: int
    updates: int
    energy_pj: float  # all utilized instances
    # Words received over inter-PE links per parent instance; None: links not modelled
    # in this evaluation. Their energy (all parent instances): the words times the fanout
    # parent's ``link_energy_pj`` (0 when the architecture gives none).
    link_transfers: int | None = None
    link_energy_pj: float = 0.0

    def to_dict(self) -> dict:
        d = {"tile_words": self.tile_words, "partition_words": self.partition_words,
             "reads": self.reads, "fills": self.fills, "updates": self.updates,
             "energy_pj": self.energy_pj}
        if self.link_transfers is not None:
            d["link_transfers"] = self.link_transfers
            d["link_energy_pj"] = self.link_energy_pj
        return d


@dataclass(frozen=True)
class LevelStats:
    name: str
    utilized_instances: int
    tensors: dict[str, TensorStats]
    access_energy_pj: float
    leak_energy_pj: float
    read_words_per_cycle: float  # demanded per instance, before throttling
    write_words_per_cycle: float
    slowdown: float  # 1.0 = bandwidth suffices
    cycles: int
    cluster_size: int = 1  # instances sharing one array (Timeloop's cluster_size)
    utilized_clusters: int = 0  # arrays accessed (== utilized_instances unless clustered)
    link_energy_pj: float = 0.0  # words its instances took over links, priced

    @property
    def energy_pj(self) -> float:
        return self.access_energy_pj + self.leak_energy_pj + self.link_energy_pj

    def to_dict(self) -> dict:
        d: dict = {t: s.to_dict() for t, s in self.tensors.items()}
        d["energy_pj"] = self.energy_pj
        d["access_energy_pj"] = self.access_energy_pj
        d["leak_energy_pj"] = self.leak_energy_pj
        d["utilized_instances"] = self.utilized_instances
        d["cycles"] = self.cycles
        d["slowdown"] = self.slowdown
        if self.link_energy_pj:
            d["link_energy_pj"] = self.link_energy_pj
        if self.cluster_size != 1:
            d["cluster_size"] = self.cluster_size
            d["utilized_clusters"] = self.utilized_clusters
        return d


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one mapping."""

    workload: str
    arch: str
    energy_pj: float
    cycles: int
    compute_cycles: int
    utilization: float
    macs: int
    utilized_pes: int
    compute_energy_pj: float
    levels: tuple[LevelStats, ...]
    bounds: LowerBounds
    schedule: str = field(default="timeloop")
    options: ModelOptions = field(default_factory=ModelOptions)

    @property
    def edp(self) -> float:
        """Energy-delay product in J x cycles."""
        return self.energy_pj * 1e-12 * self.cycles

    @property
    def energy_per_mac_fj(self) -> float:
        return self.energy_pj * 1000.0 / self.macs

    def level(self, name: str) -> LevelStats:
        for l in self.levels:
            if l.name == name:
                return l
        raise KeyError(name)

    @property
    def outermost_words(self) -> int:
        """Scalar words moved at the outermost level (reads + fills + updates)."""
        l = self.levels[0]
        return l.utilized_instances * sum(s.reads + s.fills + s.updates
                                          for s in l.tensors.values())

    def to_dict(self) -> dict:
        return {
            "workload": self.workload,
            "arch": self.arch,
            "energy_pj": self.energy_pj,
            "cycles": self.cycles,
            "compute_cycles": self.compute_cycles,
            "utilization": self.utilization,
            "macs": self.macs,
            "utilized_pes": self.utilized_pes,
            "compute_energy_pj": self.compute_energy_pj,
            "edp_j_cycles": self.edp,
            "levels": {l.name: l.to_dict() for l in self.levels},
            "lower_bounds": self.bounds.to_dict(),
            "gap": {
                "cycles_ratio": self.cycles / self.bounds.cycles,
                "outermost_words_ratio": self.outermost_words / self.bounds.outermost_words,
                "energy_ratio": self.energy_pj / self.bounds.energy_pj
                if self.bounds.energy_pj else None,
            },
            "schedule": self.schedule,
            **self.options.to_dict(),
        }



def bandwidth_slowdown(lvl: StorageLevel, read_words_per_cycle: float,
                       write_words_per_cycle: float) -> float:
    """The factor (<= 1) by which a level's bandwidths slow it down when it must read and
    write (fill + update) these many words per compute cycle (docs/semantics.md)."""
    rd, wr = read_words_per_cycle, write_words_per_cycle
    slow = 1.0
    if lvl.read_bandwidth is not None and lvl.read_bandwidth < rd:
        slow = min(slow, lvl.read_bandwidth / rd)
    if lvl.write_bandwidth is not None and lvl.write_bandwidth < wr:
        slow = min(slow, lvl.write_bandwidth / wr)
    if lvl.shared_bandwidth is not None and lvl.shared_bandwidth < rd + wr:
        slow = min(slow, lvl.shared_bandwidth / (rd + wr))
    return slow

def link_energy(arch: Architecture, utilized: Sequence[int], child: int, words: int) -> float:
    """Energy of ``words`` taken over links (per parent instance) by the children of the
    fanout above level ``child``, over all utilized parent instances (Timeloop: link
    transfers x (energy per hop + 2 x router energy) x the network's instances)."""
    if not words or child == 0:
        return 0.0
    return words * arch.levels[child - 1].link_energy_pj * utilized[child - 1]


def evaluate(workload: Workload, arch: Architecture, mapping: Mapping, *,
             check: bool = True, schedule: str = "timeloop",
             options: ModelOptions | None = None) -> Evaluation:
    """Energy, cycles and per-level traffic of ``mapping``.

    ``check`` first verifies legality (raises MappingError naming level, tensor and
    limit); pass False to evaluate a mapping that overflows a buffer on purpose.
    ``options`` selects the Timeloop semantics and link transfers (``ModelOptions``).
    """
    options = model_options(options)
    if check:
        check_mapping(workload, arch, mapping)
    nest = analyze(workload, arch, mapping, schedule, options)
    cc = nest.compute_cycles

    # Bandwidth: words per cycle each instance must move, summed over tensors in
    # workload order (the order matters for bit-exact agreement with Timeloop).
    slowdowns = []
    demand = []
    for i, lvl in enumerate(arch.levels):
        rd = 0.0
        wr = 0.0
        for t in workload.tensor_names:
            s = nest.traffic[i].get(t)
            if s is None:
                continue
            rd += float(s.reads) / cc
            wr += float(s.fills + s.updates) / cc
        slow = bandwidth_slowdown(lvl, rd, wr)
        slowdowns.append(slow)
        demand.append((rd, wr))
    level_cycles = [int(math.ceil(cc / s)) for s in slowdowns]
    cycles = max([cc] + level_cycles)

    levels = []
    for i, lvl in enumerate(arch.levels):
        inst = nest.utilized_instances[i]
        tensors = {}
        access = link_e = 0.0
        for t in workload.tensor_names:
            s = nest.traffic[i].get(t)
            if s is None:
                continue
            bw = lvl.block_words(t)
            per_instance = (math.ceil(s.reads / bw) * lvl.read_energy_pj
                            + math.ceil(s.fills / bw) * lvl.fill_energy_pj
                            + math.ceil(s.updates / bw) * lvl.update_energy_pj)
            # A clustered level's ERT energy is per access of the shared array: charged
            # once per utilized cluster (docs/timeloop.md, "Clustered buffers").
            e = per_instance * lvl.utilized_clusters(inst)
            access += e
            le = link_energy(arch, nest.utilized_instances, i, s.link_transfers)
            link_e += le
            tensors[t] = TensorStats(s.tile_words, s.partition_words, s.reads, s.fills,
                                     s.updates, e,
                                     s.link_transfers if options.link_transfers else None, le)
        leak = lvl.leak_energy_pj * cycles * inst
        levels.append(LevelStats(lvl.name, inst, tensors, access, leak, demand[i][0],
                                 demand[i][1], slowdowns[i], level_cycles[i],
                                 lvl.cluster_size, lvl.utilized_clusters(inst), link_e))
    compute_energy = nest.macs * arch.compute.energy_pj
    energy = compute_energy + sum(l.energy_pj for l in levels)
    utilization = nest.macs / (arch.compute.instances * cycles)
    return Evaluation(workload.name, arch.name, energy, cycles, cc, utilization, nest.macs,
                      nest.utilized_pes, compute_energy, tuple(levels),
                      lower_bounds(workload, arch), schedule, options)
