"""Lower bounds that no mapping of a layer on an architecture can beat.

* cycles: every MAC on some PE, all PEs busy every cycle: ``ceil(MACs / PEs)``;
* outermost words: every tensor crosses the outermost level at least once
  (inputs and weights read once, outputs written once);
* energy: MAC energy plus those compulsory outermost accesses at full vector width.
They let a result say how far it is from the ideal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loopscape.spaces.arch import Architecture
from loopscape.spaces.workload import Workload


@dataclass(frozen=True)
class LowerBounds:
    cycles: int
    outermost_words: int
    energy_pj: float

    def to_dict(self) -> dict:
        return {"cycles": self.cycles, "outermost_words": self.outermost_words,
                "energy_pj": self.energy_pj}


def lower_bounds(workload: Workload, arch: Architecture) -> LowerBounds:
    """Compute-bound cycles, compulsory outermost-level words and the energy they cost."""
    cycles = math.ceil(workload.macs / arch.compute.instances)
    top = arch.levels[0]
    words = 0
    energy = workload.macs * arch.compute.energy_pj
    for t in workload.tensors:
        w = workload.tensor_words(t.name)
        words += w
        per_access = top.update_energy_pj if t.read_write else top.read_energy_pj
        energy += math.ceil(w / top.block_words(t.name)) * per_access
    return LowerBounds(cycles, words, energy)
