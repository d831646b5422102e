"""The result of a sparse evaluation (Sparseloop semantics): totals, the compute split
and per-level records, as ``evaluate_sparse`` returns it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SparseEvaluation:
    """Evaluation of a sparse workload; ``to_dict`` keeps the dense keys (reads, fills,
    updates are the actual counts) and adds the sparse classes with explicit names."""

    energy_pj: float
    cycles: int
    compute_cycles: int
    utilization: float
    macs: int
    actual_computes: int
    gated_computes: int
    skipped_computes: int
    compute_energy_pj: float
    levels: dict
    workload: str
    arch: str
    utilized_pes: int = 0

    @property
    def edp(self) -> float:
        return self.energy_pj * 1e-12 * self.cycles

    def to_dict(self) -> dict:
        return {"workload": self.workload, "arch": self.arch, "energy_pj": self.energy_pj,
                "cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "utilization": self.utilization, "macs": self.macs,
                "algorithmic_computes": self.macs, "actual_computes": self.actual_computes,
                "gated_computes": self.gated_computes,
                "skipped_computes": self.skipped_computes,
                "compute_energy_pj": self.compute_energy_pj, "edp_j_cycles": self.edp,
                "utilized_pes": self.utilized_pes,
                "levels": self.levels, "sparse": True}
