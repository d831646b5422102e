"""Merge the certificates of the workers of one search into ``optimal``, ``gap`` and the
counts (docs/optimal.md)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def gap_objective(objectives: Sequence[str]) -> str:
    """The scalar the gap is stated for: EDP when energy and cycles are both objectives,
    else the first objective."""
    if "energy_pj" in objectives and "cycles" in objectives:
        return "edp"
    return objectives[0]


def merge(certs: list[dict], objectives: Sequence[str], front: np.ndarray,
          maximize: Sequence[str] = ()) -> tuple[bool, float | None, dict]:
    """(optimal, gap, certificate) from the workers' certificates and the merged front
    (``front`` [n, k] in the user's orientation)."""
    objectives = list(objectives)
    complete = all(c["complete"] for c in certs)
    lowest: dict[tuple, int] = {}
    for c in certs:
        for key, mid in c.get("lowest_ids", []):
            key = tuple(key)
            lowest[key] = min(mid, lowest.get(key, mid))
    out = {"lowest_ids": lowest, "evaluated": sum(c["evaluated"] for c in certs),
           "probes": sum(c.get("probes", 0) for c in certs),
           "pruned": {}, "illegal": {}, "rules": certs[0]["rules"]}
    for key in ("pruned", "illegal"):
        for c in certs:
            for r, n in c[key].items():
                out[key][r] = out[key].get(r, 0) + n
    name = gap_objective(objectives)
    out["gap_objective"] = name
    best = None
    if len(front):
        if name == "edp" and "edp" not in objectives:
            e, cy = front[:, objectives.index("energy_pj")], front[:, objectives.index("cycles")]
            best = float((e * 1e-12 * cy).min())
        else:
            col = front[:, objectives.index(name)]
            best = float(col.max() if name in maximize else col.min())
    out["best"] = best
    if complete:
        out["lower_bound"] = best
        return True, 0.0, out
    lows = [c["unexplored_lower_bound"][name] for c in certs
            if c["unexplored_lower_bound"] is not None]
    if best is None:
        out["lower_bound"] = min(lows) if lows else None
        return False, None, out
    if name in maximize:  # an upper bound: the gap is best's shortfall from it
        bound = max([best] + lows)
        out["lower_bound"] = bound
        return False, (bound / best - 1.0) if best > 0 else math.inf, out
    bound = min([best] + lows)
    out["lower_bound"] = bound
    return False, (best / bound - 1.0) if bound > 0 else math.inf, out


def describe_certificate(optimal: bool, gap: float | None, cert: dict | None) -> str:
    """One line for the CLI: what was proven."""
    cert = cert or {}
    name = cert.get("gap_objective", "objective")
    removed = sum((cert.get("pruned") or {}).values())
    illegal = sum((cert.get("illegal") or {}).values())
    counts = (f"{cert.get('evaluated', 0):,} evaluated, {removed:,} removed by bounds "
              f"({', '.join(f'{k} {v:,}' for k, v in (cert.get('pruned') or {}).items())}), "
              f"{illegal:,} illegal")
    if optimal:
        return f"optimal: the front is exact (min {name} {cert.get('best'):.6g}); {counts}"
    if gap is None:
        return f"not optimal: stopped before any mapping was scored; {counts}"
    if gap == 0:  # the minimum is proven; some part of the front was not searched
        return (f"not certified: min {name} {cert.get('best'):.6g} is optimal (it reaches the "
                f"proven lower bound), but the search stopped before proving the whole front "
                f"exact; {counts}")
    return (f"not optimal: min {name} {cert.get('best'):.6g} is within {100 * gap:.3g} % of "
            f"optimal (proven lower bound {cert.get('lower_bound'):.6g}); {counts}")


def mapping_of(space, mid: int):
    """The mapping of id ``mid`` with its unit temporal loops left out (as decoded)."""
    from loopscape.spaces.mapping import LevelMapping, Mapping
    m = space.mapping(mid)
    return Mapping(tuple(LevelMapping(lm.target, tuple(l for l in lm.temporal if l.factor > 1),
                                      lm.spatial_x, lm.spatial_y, lm.keep) for lm in m.levels))
