"""Sparsity specs (Sparseloop semantics): tensor densities, per-level representation
formats, gating/skipping of storage accesses and of computes, and the energies of the
sparse actions (metadata accesses, gated and skipped accesses).

A spec is pure data; ``validate_sparsity`` checks it against a workload and an
architecture and raises SpecError naming the key and the fix. The model that uses it
is ``loopscape.costmodels.sparse_eval``; docs/sparsity.md states the semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .arch import Architecture
from .errors import SpecError
from .workload import Workload

DISTRIBUTIONS = ("fixed_structured", "hypergeometric", "banded")
RANK_FORMATS = ("UOP", "CP", "RLE", "B")
OPTIMIZATIONS = ("gating", "skipping")


@dataclass(frozen=True)
class Density:
    """How the non-zeros of one tensor are spread. ``density`` is the fraction of
    non-zeros; ``band_width`` is used by ``banded`` only (which ignores ``density``)."""

    distribution: str = "fixed_structured"
    density: float = 1.0
    band_width: int = 0


@dataclass(frozen=True)
class TensorFormat:
    """Representation of ``tensor`` at storage ``level``: one format per rank, outermost
    rank first (e.g. ("UOP", "CP") is CSR)."""

    level: str
    tensor: str
    ranks: tuple[str, ...]
    # per rank (outermost first): dimensions flattened into that rank, or None
    flattened: tuple[tuple[str, ...] | None, ...] = ()


@dataclass(frozen=True)
class ActionOptimization:
    """At ``level``, accesses to ``target`` are gated (no energy, still take bandwidth)
    or skipped (no energy, no time) when every ``condition_on`` tile is all zeros."""

    level: str
    kind: str  # gating | skipping
    target: str
    condition_on: tuple[str, ...]


@dataclass(frozen=True)
class SparseLevelCosts:
    """Energies of one level's sparse actions in pJ per vector access, and its metadata
    word width. Missing gated/skipped energies cost 0 (Timeloop's ERT convention)."""

    metadata_read_pj: float = 0.0
    metadata_fill_pj: float = 0.0
    metadata_update_pj: float = 0.0
    gated_read_pj: float = 0.0
    gated_fill_pj: float = 0.0
    gated_update_pj: float = 0.0
    skipped_read_pj: float = 0.0
    skipped_fill_pj: float = 0.0
    skipped_update_pj: float = 0.0
    gated_metadata_read_pj: float = 0.0
    skipped_metadata_read_pj: float = 0.0
    metadata_word_bits: int | None = None  # None: the level's word bits
    metadata_storage_width_bits: int = 0  # bits per metadata vector access; 0: free
    decompression_pj: float = 0.0  # per word decompressed into an uncompressed tile
    compression_pj: float = 0.0  # per word compressed on its way to a compressed parent


@dataclass(frozen=True)
class SparsitySpec:
    densities: tuple[tuple[str, Density], ...] = ()
    formats: tuple[TensorFormat, ...] = ()
    actions: tuple[ActionOptimization, ...] = ()
    compute_optimization: str | None = None  # gating | skipping at the MACs
    level_costs: tuple[tuple[str, SparseLevelCosts], ...] = ()
    compute_gated_pj: float | None = None  # None: priced like a compute
    compute_skipped_pj: float | None = None
    # per network layer: densities that replace ``densities`` for that layer (sweeps)
    layer_densities: tuple[tuple[str, tuple[tuple[str, Density], ...]], ...] = ()
    source: str = field(default="", compare=False)

    def for_layer(self, name: str) -> "SparsitySpec":
        """The spec of one network layer: its own densities where it has any."""
        for layer, dens in self.layer_densities:
            if layer == name:
                merged = dict(self.densities)
                merged.update(dict(dens))
                return replace(self, densities=tuple(merged.items()), layer_densities=())
        return replace(self, layer_densities=())

    def key(self) -> str:
        """A short stable digest (results of different specs must not be mixed)."""
        import hashlib
        return hashlib.sha256(repr(replace(self, source="")).encode()).hexdigest()[:10]

    def density(self, tensor: str) -> Density:
        for t, d in self.densities:
            if t == tensor:
                return d
        return Density()

    def ranks(self, level: str, tensor: str) -> tuple[str, ...]:
        for f in self.formats:
            if f.level == level and f.tensor == tensor:
                return f.ranks
        return ()

    def flattening(self, level: str, tensor: str) -> tuple:
        for f in self.formats:
            if f.level == level and f.tensor == tensor:
                return f.flattened
        return ()

    def costs(self, level: str) -> SparseLevelCosts:
        for l, c in self.level_costs:
            if l == level:
                return c
        return SparseLevelCosts()

    @property
    def is_dense(self) -> bool:
        """True when nothing here changes a count or an energy."""
        return not self.formats and not self.actions and self.compute_optimization is None

    def with_densities(self, overrides: dict[str, float]) -> "SparsitySpec":
        """A copy with the densities of some tensors replaced (fixed_structured unless the
        tensor already has a model)."""
        dens = dict(self.densities)
        for t, v in overrides.items():
            old = dens.get(t, Density())
            dens[t] = replace(old, density=float(v))
        return replace(self, densities=tuple(dens.items()))


def parse_density_overrides(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``("Weights=0.3", ...)`` -> {"Weights": 0.3}; SpecError on a malformed item."""
    out: dict[str, float] = {}
    for it in items:
        name, sep, value = it.partition("=")
        try:
            v = float(value)
        except ValueError:
            v = -1.0
        if not sep or not name.strip() or not 0.0 <= v <= 1.0:
            raise SpecError(f"--density {it!r} is not TENSOR=VALUE with 0 <= VALUE <= 1",
                            key="--density", fix="e.g. --density Weights=0.3")
        out[name.strip()] = v
    return out


def validate_sparsity(spec: SparsitySpec, workload: Workload, arch: Architecture) -> None:
    """SpecError for names that do not exist, densities outside [0, 1], unknown formats
    or optimizations, and combinations Sparseloop rejects."""
    src = spec.source or None
    tensors = set(workload.tensor_names)
    levels = set(arch.level_names)

    def bad_tensor(t: str, key: str) -> None:
        if t not in tensors:
            raise SpecError(f"unknown tensor {t!r}", source=src, key=key,
                            fix=f"use one of {', '.join(workload.tensor_names)}")

    def bad_level(l: str, key: str) -> None:
        if l not in levels:
            raise SpecError(f"unknown storage level {l!r}", source=src, key=key,
                            fix=f"use one of {', '.join(arch.level_names)}")

    for t, d in spec.densities:
        key = f"densities.{t}"
        bad_tensor(t, key)
        if d.distribution not in DISTRIBUTIONS:
            raise SpecError(f"unknown distribution {d.distribution!r}", source=src, key=key,
                            fix=f"use one of {', '.join(DISTRIBUTIONS)}")
        if not 0.0 <= d.density <= 1.0:
            raise SpecError(f"density must be in [0, 1], got {d.density}", source=src, key=key)
        if d.distribution == "banded":
            tensor = workload.tensor(t)
            if len(tensor.axes) != 2:
                raise SpecError("banded densities need a 2-D tensor", source=src, key=key,
                                fix="use fixed_structured or hypergeometric")
            if d.band_width < 0:
                raise SpecError("band_width must be >= 0", source=src, key=key)
    seen = set()
    for f in spec.formats:
        key = f"formats.{f.level}.{f.tensor}"
        bad_level(f.level, key)
        bad_tensor(f.tensor, key)
        if (f.level, f.tensor) in seen:
            raise SpecError("format given twice", source=src, key=key)
        seen.add((f.level, f.tensor))
        for r in f.ranks:
            if r not in RANK_FORMATS:
                raise SpecError(f"unknown rank format {r!r}", source=src, key=key,
                                fix=f"use {', '.join(RANK_FORMATS)} (outermost rank first)")
        if not f.ranks:
            raise SpecError("a format needs at least one rank", source=src, key=key)
    for a in spec.actions:
        key = f"actions.{a.level}.{a.target}"
        if a.level not in levels:
            bad_level(a.level, key)
        bad_tensor(a.target, key)
        if a.kind not in OPTIMIZATIONS:
            raise SpecError(f"unknown optimization {a.kind!r}", source=src, key=key,
                            fix="use gating or skipping")
        if not a.condition_on:
            raise SpecError("condition_on is empty", source=src, key=key,
                            fix="name the tensor(s) whose zeros gate or skip the target")
        for c in a.condition_on:
            bad_tensor(c, f"{key}.condition_on")
            if c == a.target:
                raise SpecError(f"{a.target} is conditioned on itself", source=src, key=key,
                                fix="condition on another tensor")
    if spec.compute_optimization not in (None, *OPTIMIZATIONS):
        raise SpecError(f"unknown compute optimization {spec.compute_optimization!r}",
                        source=src, key="compute_optimization", fix="use gating or skipping")
    for l, _ in spec.level_costs:
        bad_level(l, f"levels.{l}")
