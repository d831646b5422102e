"""Capacity with compression for the mapspace: an architecture whose capacity check
(words x bits per kept tensor, summed, against the level's bits) accepts exactly the
tiles that fit when compressed tensors are counted at their non-zeros.

A tensor stored in a compressed format at a level occupies at most
``ceil(density x tile words)`` words there (fixed-structured densities; hypergeometric
and banded tiles are counted dense, their largest occupancy can be the whole tile).
Bits are scaled by ``SCALE`` so that ``density x bits`` is an integer to 1/SCALE, and the
level gives up one word per compressed tensor to cover the ceiling, so every mapping the
scaled check accepts also passes the exact check of ``evaluate_sparse``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .arch import Architecture, StorageLevel
from .sparsity import SparsitySpec
from .workload import Workload

SCALE = 1 << 12


def _ratio(spec: SparsitySpec, level: str, tensor: str) -> float:
    if not spec.ranks(level, tensor):
        return 1.0
    d = spec.density(tensor)
    return d.density if d.distribution == "fixed_structured" else 1.0


def capacity_arch(arch: Architecture, workload: Workload,
                  sparsity: SparsitySpec | None) -> Architecture:
    """``arch`` with capacities and bits rescaled for compressed occupancy (the same
    architecture when nothing is compressed). Use it for the mapspace only: its bits
    are not the real word widths."""
    if sparsity is None:
        return arch
    levels: list[StorageLevel] = []
    for lvl in arch.levels:
        comp = [t for t in workload.tensor_names if _ratio(sparsity, lvl.name, t) < 1.0]
        if lvl.capacity_words is None or not comp:
            levels.append(lvl)
            continue
        cap_bits = (lvl.effective_capacity_bits or 0) - sum(lvl.bits(t) for t in comp)
        bits = tuple((t, math.ceil(lvl.bits(t) * SCALE * _ratio(sparsity, lvl.name, t)))
                     for t in workload.tensor_names)
        levels.append(replace(lvl, capacity_words=max(0, cap_bits), word_bits=SCALE,
                              tensor_bits=tuple((t, max(1, b)) for t, b in bits),
                              multiple_buffering=1.0))
    return replace(arch, levels=tuple(levels))
