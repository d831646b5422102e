"""Bounds as objective vectors, and the strict dominance test that prunes with them."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def objective_bounds(objectives: Sequence[str], signs: np.ndarray, utilization_scale: float,
                     energy: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Lower bounds [N, k] of every objective in the internal orientation (all minimized,
    a maximized objective negated) from lower bounds of energy_pj and cycles.
    ``utilization_scale`` is MACs / MAC units (utilization = scale / cycles)."""
    out = np.zeros((len(energy), len(objectives)))
    for j, o in enumerate(objectives):
        if o == "energy_pj":
            out[:, j] = energy
        elif o == "cycles":
            out[:, j] = cycles
        elif o == "edp":
            out[:, j] = energy * 1e-12 * cycles * (1 - 1e-9)
        elif o == "utilization":
            out[:, j] = -utilization_scale / cycles
        else:  # objectives without a proven bound: no pruning power (still exact)
            out[:, j] = -np.inf if signs[j] < 0 else 0.0
    return out


def strictly_dominated(incumbent: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Rows of ``lb`` [N, k] that some incumbent point [M, k] is no worse than in every
    objective and better than in one: no mapping of those sets can enter the front, not
    even as a tie (all minimized)."""
    if len(incumbent) == 0 or len(lb) == 0:
        return np.zeros(len(lb), dtype=bool)
    inc = incumbent[None, :, :]
    x = lb[:, None, :]
    return ((inc <= x).all(axis=2) & (inc < x).any(axis=2)).any(axis=1)
