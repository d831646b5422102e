"""Integer factors and permutation ranks: the one place the mapspace, constraints, search
and Eyexam get the divisors and prime factors of a loop bound, and the lexicographic
ranks of loop orders, from."""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import permutations
from typing import Sequence

import numpy as np


def divisors(n: int) -> list[int]:
    """The positive divisors of ``n`` (n >= 1), ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@lru_cache(maxsize=4096)
def _primes(n: int) -> tuple[int, ...]:
    out, y, p = [], n, 2
    while p * p <= y:
        while y % p == 0:
            out.append(p)
            y //= p
        p += 1
    if y > 1:
        out.append(y)
    return tuple(out)


def prime_factors(n: int) -> list[int]:
    """The prime factors of ``n`` (n >= 1) with multiplicity, ascending ([] for 1)."""
    return list(_primes(int(n)))


def rank_permutation(items: Sequence, order: Sequence) -> int:
    """Lexicographic rank of ``order`` among the orders of ``items`` (the Lehmer code
    read as a factorial-base number; ``items`` order is rank 0)."""
    pool = list(items)
    r = 0
    for x in order:
        idx = pool.index(x)
        r += idx * math.factorial(len(pool) - 1)
        pool.pop(idx)
    return r


def unrank_permutation(items: Sequence, r: int) -> tuple:
    """The order of ``items`` with lexicographic rank ``r`` (inverse of
    ``rank_permutation``)."""
    pool = list(items)
    out = []
    for k in range(len(pool), 0, -1):
        idx, r = divmod(r, math.factorial(k - 1))
        out.append(pool.pop(idx))
    return tuple(out)


def lehmer_rank(seq: Sequence[int]) -> int:
    """Lexicographic rank of a permutation of ``range(len(seq))``."""
    return rank_permutation(range(len(seq)), seq)


def lehmer_ranks(perm: np.ndarray) -> np.ndarray:
    """``lehmer_rank`` of every row of ``perm`` [n, m] (permutations of range(m)), as
    Python ints in an object array (ranks reach m! - 1)."""
    n, m = perm.shape
    code = np.zeros(n, dtype=object)
    for k in range(m):
        smaller = np.zeros(n, dtype=np.int64)
        for k2 in range(k + 1, m):
            smaller += perm[:, k2] < perm[:, k]
        code = code + smaller.astype(object) * math.factorial(m - 1 - k)
    return code


@lru_cache(maxsize=16)
def _perm_rows(k: int) -> np.ndarray:
    got = np.array(list(permutations(range(k))), dtype=np.int64).reshape(-1, k)
    got.flags.writeable = False
    return got


def permutation_table(k: int) -> np.ndarray:
    """All permutations of ``range(k)`` as rows [k!, k], row r of rank r (read-only)."""
    return _perm_rows(k)
