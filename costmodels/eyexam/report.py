"""The Eyexam report as data: the seven steps, each with its bound on MACs per cycle,
its cause and its method, and the summary of where the PE array loses most
(docs/eyexam.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

STEP_NAMES = ("layer size and shape", "dataflow", "number of PEs", "array dimensions",
              "storage capacity", "average bandwidth", "instantaneous bandwidth")


@dataclass(frozen=True)
class EyexamStep:
    """One Eyexam step: its upper bound on MACs per cycle, what limits it, how computed."""

    step: int
    name: str
    bound_macs_per_cycle: float
    cause: str
    method: str

    def to_dict(self) -> dict:
        return {"step": self.step, "name": self.name,
                "bound_macs_per_cycle": float(self.bound_macs_per_cycle),
                "cause": self.cause, "method": self.method}


@dataclass(frozen=True)
class EyexamReport:
    """The seven steps of one mapping of ``workload`` on ``arch`` (``pes`` MAC units)."""

    workload: str
    arch: str
    macs: int
    pes: int
    steps: tuple[EyexamStep, ...]

    @property
    def bounds(self) -> tuple[float, ...]:
        """The seven bounds in MACs per cycle, step 1 first."""
        return tuple(s.bound_macs_per_cycle for s in self.steps)

    def step(self, k: int) -> EyexamStep:
        """Step ``k`` (1..7)."""
        return self.steps[k - 1]

    def to_dict(self) -> dict:
        return {"steps": [s.to_dict() for s in self.steps], "macs": self.macs,
                "pes": self.pes}

    def summary(self) -> dict:
        """Where the PE array loses most: each bound is capped at the PE count (parallel
        work beyond the array is no loss), and the step with the largest ratio of the
        previous capped bound to its own is reported (the earliest on ties), with its
        cause and the final bound against the PE count. When every PE is busy every
        cycle, ``step`` is None and ``loss_ratio`` 1."""
        capped = [min(s.bound_macs_per_cycle, self.pes) for s in self.steps]
        worst, ratio = None, 1.0
        for s, prev, cur in zip(self.steps[1:], capped, capped[1:]):
            r = prev / cur if cur > 0 else math.inf
            if r > ratio * (1 + 1e-12):
                worst, ratio = s.step, r
        final = self.steps[-1].bound_macs_per_cycle
        if worst is None:
            name, cause = "none", "every PE is busy every cycle"
        else:
            name, cause = self.step(worst).name, self.step(worst).cause
        return {"step": worst, "name": name, "cause": cause, "loss_ratio": ratio,
                "final_macs_per_cycle": final, "pes": self.pes,
                "final_utilization": final / self.pes}


__all__ = ["EyexamReport", "EyexamStep", "STEP_NAMES"]
