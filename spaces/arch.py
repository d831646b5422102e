"""Architectures: storage levels outermost (DRAM) first, then the compute units.

Energies are per vector access (one access moves ``block_size`` words), leakage is per
cycle per utilized instance, bandwidths are words per cycle per instance. Precision is
per tensor: a level stores ``word_bits`` by default and ``tensor_bits`` may override it,
so capacity is checked in bits and an 8-bit weight uses a level differently from a
24-bit partial sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import SpecError
from .limits import check_finite, check_limit


@dataclass(frozen=True)
class StorageLevel:
    """One storage level (all its instances share the spec)."""

    name: str
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    capacity_words: int | None = None  # None: unbounded (DRAM)
    word_bits: int = 8
    tensor_bits: tuple[tuple[str, int], ...] = ()
    block_size: int = 1  # words of word_bits per vector access
    read_energy_pj: float = 0.0
    fill_energy_pj: float = 0.0
    update_energy_pj: float = 0.0
    leak_energy_pj: float = 0.0  # per cycle per utilized instance
    read_bandwidth: float | None = None  # words/cycle/instance; None: unlimited
    write_bandwidth: float | None = None
    shared_bandwidth: float | None = None
    keeps: tuple[str, ...] | None = None  # tensors this level may hold; None: any
    dummy: bool = False  # holds no data; carries fanout and loops only (Timeloop dummy_storage)
    multiple_buffering: float = 1.0
    min_utilization: float = 0.0
    technology: str = ""
    # Instances that share one physical array (Timeloop's cluster_size): an access
    # energy is per access of the shared array, charged once per utilized cluster.
    cluster_size: int = 1
    # Energy of one word that a child of this level's fanout takes from a mesh neighbour
    # over a link (Timeloop: energy_per_hop + 2 x router_energy of the level's network).
    link_energy_pj: float = 0.0

    def bits(self, tensor: str) -> int:
        """Bits per word of ``tensor`` at this level."""
        for t, b in self.tensor_bits:
            if t == tensor:
                return b
        return self.word_bits

    def block_words(self, tensor: str) -> int:
        """Words of ``tensor`` moved by one vector access."""
        return max(1, (self.block_size * self.word_bits) // self.bits(tensor))

    @property
    def capacity_bits(self) -> int | None:
        if self.capacity_words is None:
            return None
        return self.capacity_words * self.word_bits

    @property
    def effective_capacity_bits(self) -> int | None:
        """Capacity available to one tile set after multiple buffering."""
        if self.capacity_words is None:
            return None
        return int(math.floor(self.capacity_words / self.multiple_buffering)) * self.word_bits

    def utilized_clusters(self, utilized_instances):
        """Clusters whose array is accessed when ``utilized_instances`` instances are busy
        (an int or a numpy array): Timeloop assumes busy instances spread over all
        clusters, so min(utilized instances, instances / cluster_size)."""
        if self.cluster_size == 1:
            return utilized_instances
        clusters = self.instances // self.cluster_size
        if isinstance(utilized_instances, int):
            return min(utilized_instances, clusters)
        import numpy as np
        return np.minimum(utilized_instances, clusters)

    def may_keep(self, tensor: str) -> bool:
        if self.dummy:
            return False
        return self.keeps is None or tensor in self.keeps


@dataclass(frozen=True)
class ComputeLevel:
    """The array of MAC units under the innermost storage level."""

    name: str = "MAC"
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    energy_pj: float = 0.0  # per MAC (compute leakage is not modelled, as in Timeloop)


@dataclass(frozen=True)
class Architecture:
    """Storage levels outermost first, then compute. The spatial fanout of level i is the
    ratio of the mesh extents of level i+1 (or compute) to those of level i."""

    name: str
    levels: tuple[StorageLevel, ...]
    compute: ComputeLevel
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        validate_architecture(self)

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(l.name for l in self.levels)

    def index(self, name: str) -> int:
        for i, l in enumerate(self.levels):
            if l.name == name:
                return i
        raise KeyError(name)

    def _child_mesh(self, i: int) -> tuple[int, int]:
        if i + 1 < len(self.levels):
            c = self.levels[i + 1]
        else:
            c = self.compute
        return c.mesh_x, c.mesh_y

    def fanout(self, i: int) -> tuple[int, int]:
        """(X, Y) spatial fanout from each instance of level i to the next level down."""
        cx, cy = self._child_mesh(i)
        lvl = self.levels[i]
        return cx // lvl.mesh_x, cy // lvl.mesh_y

    @property
    def num_pes(self) -> int:
        return self.compute.instances


def validate_architecture(a: Architecture) -> None:
    """Raise SpecError for an inconsistent architecture."""
    if not a.levels:
        raise SpecError("an architecture needs at least one storage level", key="levels")
    names = [l.name for l in a.levels] + [a.compute.name]
    if len(set(names)) != len(names):
        raise SpecError(f"level names repeat: {names}", key="levels")
    chain = list(a.levels) + [a.compute]
    for i, l in enumerate(chain):
        key = f"levels.{l.name}" if i < len(a.levels) else f"compute.{l.name}"
        for attr in ("instances", "mesh_x", "mesh_y"):
            v = getattr(l, attr)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise SpecError(f"{attr} must be a positive integer, got {v!r}", key=key)
            check_limit(v, "instances", key=f"{key}.{attr}")
        if l.mesh_x * l.mesh_y != l.instances:
            raise SpecError(f"mesh_x * mesh_y = {l.mesh_x * l.mesh_y} but instances = "
                            f"{l.instances}", key=key, fix="make instances = mesh_x * mesh_y")
        if i > 0:
            p = chain[i - 1]
            if l.mesh_x % p.mesh_x or l.mesh_y % p.mesh_y:
                raise SpecError(
                    f"mesh {l.mesh_x}x{l.mesh_y} is not a multiple of the mesh "
                    f"{p.mesh_x}x{p.mesh_y} of the level above ({p.name})", key=key,
                    fix="each level's mesh extents must divide those of the level below it")
        if isinstance(l, StorageLevel):
            if l.capacity_words is not None and (not isinstance(l.capacity_words, int)
                                                 or l.capacity_words < 0):
                raise SpecError(f"capacity_words must be a non-negative integer, got "
                                f"{l.capacity_words!r}", key=key)
            if l.capacity_words is not None:
                check_limit(l.capacity_words, "capacity_words", key=f"{key}.capacity_words")
            if l.capacity_words is None and i > 0 and not l.dummy:
                pass  # unbounded inner levels are allowed (ideal buffers)
            for attr in ("word_bits", "block_size", "cluster_size"):
                v = getattr(l, attr)
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise SpecError(f"{attr} must be a positive integer, got {v!r}", key=key)
                if attr != "cluster_size":  # bounded by instances, which it divides
                    check_limit(v, attr, key=f"{key}.{attr}")
            if l.instances % l.cluster_size:
                raise SpecError(f"instances {l.instances} are not a multiple of cluster_size "
                                f"{l.cluster_size}", key=key,
                                fix="make cluster_size divide the instance count")
            if i == 0 and l.cluster_size != 1:
                raise SpecError(f"the outermost level cannot be clustered (cluster_size "
                                f"{l.cluster_size})", key=key, fix="use cluster_size 1")
            for t, b in l.tensor_bits:
                if isinstance(b, bool) or not isinstance(b, int) or b <= 0:
                    raise SpecError(f"bits of {t} must be a positive integer, got {b!r}",
                                    key=f"{key}.tensor_bits")
                check_limit(b, "word_bits", key=f"{key}.tensor_bits.{t}")
            for attr in ("read_energy_pj", "fill_energy_pj", "update_energy_pj",
                         "leak_energy_pj", "link_energy_pj"):
                v = getattr(l, attr)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise SpecError(f"{attr} must be a non-negative number, got {v!r}", key=key)
                check_finite(v, key=f"{key}.{attr}", what=attr)
            for attr in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
                v = getattr(l, attr)
                if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                                      or v <= 0):
                    raise SpecError(f"{attr} must be a positive number, got {v!r}", key=key,
                                    fix="omit it for unlimited bandwidth")
                if v is not None:
                    check_finite(v, key=f"{key}.{attr}", what=attr)
                    check_limit(v, "min_bandwidth", key=f"{key}.{attr}")
                    check_limit(v, "max_bandwidth", key=f"{key}.{attr}")
            check_finite(l.multiple_buffering, key=f"{key}.multiple_buffering",
                         what="multiple_buffering")
            check_finite(l.min_utilization, key=f"{key}.min_utilization", what="min_utilization")
            if l.multiple_buffering < 1:
                raise SpecError(f"multiple_buffering must be >= 1, got {l.multiple_buffering}",
                                key=key)
            if not 0 <= l.min_utilization <= 1:
                raise SpecError(f"min_utilization must be in [0, 1], got {l.min_utilization}",
                                key=key)
        else:
            e = a.compute.energy_pj
            if isinstance(e, bool) or not isinstance(e, (int, float)) or not e >= 0:
                raise SpecError(f"energy_pj must be a non-negative number, got {e!r}", key=key)
            check_finite(e, key=f"{key}.energy_pj", what="energy_pj")
