"""Distinct rows of an integer array, fast: rows whose columns' ranges fit 63 bits
together are packed into one integer each, so numpy sorts one column instead of
comparing rows (``np.unique(axis=0)`` is ~10x slower on 1e5 rows). Used where the
optimal mapper groups tilings, rooms or loop patterns by a row of small integers.
"""

from __future__ import annotations

import math

import numpy as np


def unique_rows(sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(sig, axis=0)``'s first index of each distinct row and each row's
    index among them (rows in lexicographic order), for an integer ``sig`` [N, C].
    Each column is shifted to start at 0 and the rows are read as numbers in the mixed
    radix of the columns' ranges (column 0 most significant, so the order is the same);
    when the ranges' product does not fit 63 bits, ``np.unique(axis=0)`` does it."""
    sig = np.asarray(sig, dtype=np.int64)
    if not len(sig):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = sig.min(axis=0), sig.max(axis=0)
    radix = [int(h) - int(m) + 1 for m, h in zip(lo.tolist(), hi.tolist())]
    if math.prod(radix) >= 2 ** 63:
        _, firsts, inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
        return firsts, inv.ravel().astype(np.int64)
    key = np.zeros(len(sig), dtype=np.int64)
    for col, r in enumerate(radix):
        if r > 1:  # a constant column adds nothing to the key
            key = key * r + (sig[:, col] - lo[col])
    _, firsts, inv = np.unique(key, return_index=True, return_inverse=True)
    return firsts, inv.ravel().astype(np.int64)
