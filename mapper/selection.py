"""Choosing one mapping per layer from each layer's Pareto front.

A network runs its layers one after another, so its energy and cycles are the sums of
the chosen points'. Per-layer rules pick each layer's point independently (least EDP,
energy or cycles, ties broken by the other metrics). A latency budget is a network
rule: the least total energy whose total cycles fit the budget, solved exactly over the
fronts (a multiple-choice knapsack whose partial sums are kept as a Pareto set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from loopscape.spaces.errors import SpecError

PER_LAYER = ("edp", "energy_pj", "cycles")
_BUDGET = re.compile(r"^latency<=([0-9][0-9_,]*)$")


@dataclass(frozen=True)
class SelectRule:
    """``kind`` is one of PER_LAYER or ``"latency"`` (then ``budget_cycles`` is set)."""

    kind: str
    budget_cycles: int | None = None

    @property
    def text(self) -> str:
        return f"latency<={self.budget_cycles}" if self.kind == "latency" else self.kind


def parse_select(text: str) -> SelectRule:
    """``edp``, ``energy_pj`` (or ``energy``), ``cycles``, or ``latency<=CYCLES``."""
    t = text.strip().replace(" ", "")
    if t == "energy":
        t = "energy_pj"
    if t in PER_LAYER:
        return SelectRule(t)
    m = _BUDGET.match(t)
    if m:
        budget = int(m.group(1).replace("_", "").replace(",", ""))
        if budget <= 0:
            raise SpecError(f"the latency budget must be positive, got {budget}",
                            key="--select", fix="e.g. --select 'latency<=40000000'")
        return SelectRule("latency", budget)
    raise SpecError(f"unknown selection rule {text!r}", key="--select",
                    fix="use edp, energy_pj, cycles or 'latency<=CYCLES' (a network "
                        "latency budget in cycles)")


def _key(kind: str, metrics: dict) -> tuple:
    e, c = metrics["energy_pj"], metrics["cycles"]
    if kind == "edp":
        return (e * c, e, c)
    if kind == "energy_pj":
        return (e, c)
    return (c, e)


def select_points(fronts: Sequence[Sequence[dict]], rule: SelectRule,
                  counts: Sequence[int] | None = None) -> list[int]:
    """Index of the chosen point in each front (``metrics`` dicts with ``energy_pj`` and
    ``cycles``). ``counts[i]`` is how many network layers share front i (it weights the
    sums for a latency budget)."""
    if any(len(f) == 0 for f in fronts):
        raise SpecError("a layer has an empty front", key="layers",
                        fix="search it with a larger budget")
    if rule.kind in PER_LAYER:
        return [min(range(len(f)), key=lambda k, f=f: _key(rule.kind, f[k])) for f in fronts]
    counts = list(counts) if counts is not None else [1] * len(fronts)
    # Pareto set of partial sums (cycles, energy) -> choices, built layer by layer.
    partial: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, ())]
    for f, n in zip(fronts, counts):
        options = [(n * int(p["cycles"]), n * float(p["energy_pj"]), k) for k, p in enumerate(f)]
        merged = [(c + oc, e + oe, ch + (k,)) for c, e, ch in partial for oc, oe, k in options
                  if c + oc <= rule.budget_cycles]
        if not merged:
            least = sum(n * min(int(p["cycles"]) for p in f) for f, n in zip(fronts, counts))
            raise SpecError(f"no choice of mappings meets the latency budget of "
                            f"{rule.budget_cycles:,} cycles; the fastest points take "
                            f"{least:,} cycles in total", key="--select",
                            fix=f"raise the budget to at least {least:,} cycles, or search "
                                f"longer for faster mappings")
        merged.sort(key=lambda t: (t[0], t[1]))
        partial = []
        best = float("inf")
        for c, e, ch in merged:  # keep points that lower the energy as cycles grow
            if e < best:
                partial.append((c, e, ch))
                best = e
    return list(min(partial, key=lambda t: (t[1], t[0]))[2])
