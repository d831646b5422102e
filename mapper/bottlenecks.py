"""Where a swept network's time goes: cycles and energy grouped by the Eyexam step that
binds each layer's chosen mapping (docs/sweep.md, "Bottlenecks").

Each layer entry of a sweep summary carries ``eyexam``, the step where its mapping
loses most (``EyexamReport.summary()``). ``bottlenecks(entries)`` adds the layers' cycles
and energy per such step, so a decode phase shows its cycles bound by the bandwidth
steps (6 and 7) and a prefill phase where its compute-bound cycles lose PEs.
"""

from __future__ import annotations

from typing import Iterable, Mapping

__all__ = ["BANDWIDTH_STEPS", "bottlenecks"]

BANDWIDTH_STEPS = (6, 7)  # average and instantaneous bandwidth


def bottlenecks(entries: Iterable[Mapping]) -> dict:
    """Cycles, energy and layer count per binding Eyexam step over sweep layer entries
    (each with ``cycles``, ``energy_pj`` and ``eyexam``), most cycles first, plus the
    share of all cycles spent in layers bound by bandwidth (steps 6 and 7). Layers without
    an Eyexam (sparse layers: its steps are dense bounds) are grouped as step None."""
    groups: dict = {}
    total_cycles = 0
    for e in entries:
        exam = e.get("eyexam")
        step, name = (exam["step"], exam["name"]) if exam else (None, "no Eyexam (sparse)")
        g = groups.setdefault(step, {"step": step, "name": name, "layers": 0, "cycles": 0,
                                     "energy_pj": 0.0})
        g["layers"] += 1
        g["cycles"] += e["cycles"]
        g["energy_pj"] += e["energy_pj"]
        total_cycles += e["cycles"]
    steps = sorted(groups.values(), key=lambda g: (-g["cycles"], g["step"] or 0))
    for g in steps:
        g["cycles_share"] = g["cycles"] / total_cycles if total_cycles else 0.0
    bandwidth = sum(g["cycles"] for g in steps if g["step"] in BANDWIDTH_STEPS)
    return {"by_step": steps,
            "bandwidth_cycles_share": bandwidth / total_cycles if total_cycles else 0.0}
