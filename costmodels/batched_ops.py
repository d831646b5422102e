"""The small pieces the batched evaluator is built from: its result type, per-row
quantities that stay Python ints while they are constant over the rows (``Vec``) and
their arithmetic, and the cached loop-order and tile-origin tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from typing import Union

import numpy as np

Vec = Union[int, np.ndarray]  # a per-row quantity, or a Python int when it is constant


@dataclass(frozen=True)
class BatchResult:
    """Arrays over the N rows. Access counts are per instance, [N, L, T]."""

    energy_pj: np.ndarray  # [N]
    cycles: np.ndarray  # [N] int
    compute_cycles: np.ndarray  # [N] int
    utilization: np.ndarray  # [N]
    utilized_pes: np.ndarray  # [N] int
    tile_words: np.ndarray  # [N, L, T]
    partition_words: np.ndarray
    reads: np.ndarray
    fills: np.ndarray
    updates: np.ndarray
    kept: np.ndarray  # [N, L, T] bool
    level_energy_pj: np.ndarray  # [N, L] including leakage
    tensor_energy_pj: np.ndarray  # [N, L, T] all utilized instances
    leak_energy_pj: np.ndarray  # [N, L]
    utilized_instances: np.ndarray  # [N, L]

    @property
    def edp(self) -> np.ndarray:
        return self.energy_pj * 1e-12 * self.cycles


def is_const(x: Vec) -> bool:
    """True for a Python int (a quantity constant over the rows)."""
    return type(x) is int


def vmul(a: Vec, b: Vec) -> Vec:
    """a x b, skipping the array operation when one side is the constant 1."""
    if is_const(a):
        if a == 1:
            return b
        if is_const(b):
            return a * b
    if is_const(b) and b == 1:
        return a
    return a * b


def vadd(a: Vec, b: Vec) -> Vec:
    """a + b, skipping the array operation when one side is the constant 0."""
    if is_const(a) and a == 0:
        return b
    if is_const(b) and b == 0:
        return a
    return a + b


def vkey(x: Vec) -> tuple:
    """A hashable identity of a per-row quantity (its value if constant, else its array)."""
    return ("c", x) if is_const(x) else ("v", id(x))


@lru_cache(maxsize=None)
def order_table(m: int) -> np.ndarray:
    """[m, m!]: for the permutation with Lehmer code k (positions of loops 0..m-1 in
    nest order, ranked lexicographically), column k lists the loop at each position."""
    tab = np.empty((m, math.factorial(m)), dtype=np.intp)
    for k, sigma in enumerate(permutations(range(m))):
        for x, p in enumerate(sigma):
            tab[p, k] = x
    return tab


@lru_cache(maxsize=4096)
def count_origins(loops: tuple[tuple[int, tuple[int, ...]], ...]) -> int:
    """Distinct tile origins visited by nested loops given as (factor, stride vector)."""
    origins = {tuple(0 for _ in loops[0][1])}
    for f, st in loops:
        origins = {tuple(o + i * x for o, x in zip(orig, st)) for orig in origins
                   for i in range(f)}
    return len(origins)
