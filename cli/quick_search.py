"""The quick search ``eyexam`` runs when no mapping is given (dense or sparse)."""

from __future__ import annotations

from loopscape.mapper.units import format_energy
from loopscape.spaces.mapping import Mapping


def searched_mapping(workload, arch, constraints, budget: int, seed: int, options=None,
                     sparsity=None) -> tuple[Mapping, str]:
    """The lowest-cycles mapping (ties: lowest energy) of a seeded local search (with the
    sparse model when ``sparsity`` is given), and a sentence saying so."""
    from loopscape.mapper import search
    result = search(workload, arch, constraints, strategy="local",
                    objectives="cycles,energy_pj", evaluations=budget, seed=seed,
                    options=options, sparsity=sparsity)
    best = min(result.front, key=lambda p: (p.objectives["cycles"], p.objectives["energy_pj"]))
    ev = best.evaluation
    note = (f"no mapping given: using the lowest-cycles mapping (ties: lowest energy) of a "
            f"local search ({result.stats.evaluated:,} legal mappings, seed {seed}): "
            f"{ev['cycles']:,} cycles, {format_energy(ev['energy_pj'])}, {ev['utilized_pes']:,} PEs"
            + (f", mapspace id {best.mapspace_id}" if best.mapspace_id is not None else ""))
    return best.mapping, note
