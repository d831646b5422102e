"""Density models of sparse tensors (Sparseloop semantics): the probability that a tile
of a given shape holds k non-zeros, for fixed-structured, hypergeometric and banded
tensors. Pure functions; ``tensor_words`` is the size of the whole tensor."""

from __future__ import annotations

import math
from functools import lru_cache

from loopscape.spaces.sparsity import Density


def _fixed(tile: int, density: float) -> tuple[tuple[int, float], ...]:
    exact = tile * density
    lo = math.floor(exact)
    frac = exact - lo
    if frac == 0:
        return ((lo, 1.0),)
    return ((lo, 1.0 - frac), (lo + 1, frac))


@lru_cache(maxsize=4096)
def _hyper(tile: int, nnz: int, total: int) -> tuple[tuple[int, float], ...]:
    tile = min(tile, total)
    den = math.comb(total, tile)
    out = []
    for k in range(max(0, tile - (total - nnz)), min(tile, nnz) + 1):
        p = math.comb(nnz, k) * math.comb(total - nnz, tile - k) / den
        if p > 0:
            out.append((k, p))
    return tuple(out)


def nonzeros(d: Density, tensor_words: int, side: int | None = None) -> int:
    """Non-zeros of the whole tensor. Banded (square side x side): the diagonal plus
    ``band_width`` diagonals on each side; the others: ceil(density x words)."""
    if d.distribution == "banded":
        n = side if side is not None else int(round(math.sqrt(tensor_words)))
        return n + 2 * sum(max(0, n - i) for i in range(1, d.band_width + 1))
    return int(math.ceil(d.density * tensor_words - 1e-9))


def occupancy(d: Density, tile: int, tensor_words: int) -> tuple[tuple[int, float], ...]:
    """(k, probability) for every possible number of non-zeros k in a tile of ``tile``
    words."""
    if tile <= 0:
        return ((0, 1.0),)
    if d.distribution == "fixed_structured":
        return _fixed(tile, d.density)
    if d.distribution == "banded":
        return _fixed(tile, nonzeros(d, tensor_words) / tensor_words)
    return _hyper(tile, nonzeros(d, tensor_words), tensor_words)


def constrained_occupancy(d: Density, sub: int, tile: int, tile_nnz: int
                          ) -> tuple[tuple[int, float], ...]:
    """Occupancy of a ``sub``-word part of a ``tile``-word tile known to hold
    ``tile_nnz`` non-zeros."""
    if d.distribution == "hypergeometric":
        return _hyper(sub, tile_nnz, tile)
    return _fixed(sub, tile_nnz / tile if tile else 0.0)


def prob_empty(d: Density, tile: int, tensor_words: int) -> float:
    for k, p in occupancy(d, tile, tensor_words):
        if k == 0:
            return p
    return 0.0


def expected_occupancy(d: Density, tile: int, tensor_words: int) -> float:
    return sum(k * p for k, p in occupancy(d, tile, tensor_words))


def max_occupancy(d: Density, tile: int, tensor_words: int) -> int:
    return max(k for k, _ in occupancy(d, tile, tensor_words))
