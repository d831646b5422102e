"""Capacity with compression for the mapspace: an architecture whose capacity check
(words x bits per kept tensor, summed, against the level's bits) accepts exactly the
tiles that fit when compressed tensors are counted at their non-zeros.

A tensor stored in a compressed format at a level occupies at most
``ceil(density x tile words)`` words there (fixed-structured densities; hypergeometric
and banded tiles are counted dense, their largest occupancy can be the whole tile).
Bits are scaled by a factor ``K`` (as large as the 1024-bit word limit of docs/limits.md
allows: ``K = 1024 // (widest tensor bits at the level)``) and ``density x bits x K`` is
rounded up, and the level gives up one word per compressed tensor to cover the ceiling of
the occupancy, so every mapping the scaled check accepts also passes the exact check of
``evaluate_sparse`` (the rounding only makes the check stricter, by less than 1/K of a
word per tensor word).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .arch import Architecture, StorageLevel
from .sparsity import SparsitySpec
from .workload import Workload

MAX_SCALE = 1024  # the word_bits limit (spaces/limits.py)


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
        scale = max(1, MAX_SCALE // max(lvl.bits(t) for t in workload.tensor_names))
        bits = tuple((t, math.ceil(lvl.bits(t) * scale * _ratio(sparsity, lvl.name, t)))
                     for t in workload.tensor_names)
        levels.append(replace(lvl, capacity_words=max(0, cap_bits), word_bits=scale,
                              tensor_bits=tuple((t, max(1, b)) for t, b in bits),
                              multiple_buffering=1.0))
    return replace(arch, levels=tuple(levels))
