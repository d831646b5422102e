"""Representation formats: which loops each rank of a compressed tile covers, and the
metadata/payload words per rank (UOP, CP, RLE, B), as Sparseloop assigns them.

Loop nests here are Timeloop's "complete" nests: per storage level, innermost level
first, each level's loops innermost first as (dim, factor, spatial, mold) where mold is
the per-dimension extent of everything at and inside that loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loopscape.spaces.errors import MappingError
from loopscape.spaces.sparsity import Density
from loopscape.spaces.workload import Tensor

from .sparse_density import constrained_occupancy, occupancy

Loop = tuple  # (dim, factor, spatial, mold: dict)


@dataclass(frozen=True)
class RankWords:
    """Expected metadata and payload words of one rank (Timeloop prints (md, payload))."""

    metadata: float
    payload: float


def _proj(tensor: Tensor, dims: dict[str, int]) -> int:
    return tensor.size(dims)


def fiber_shapes(tensor: Tensor, ranks: tuple[str, ...], nests: list[list[Loop]], level: int,
                 child: int, child_fibers: tuple[int, ...] | None, level_name: str,
                 all_dims: tuple[str, ...]) -> tuple[int, ...]:
    """Fiber shape per rank, innermost rank first. ``level``/``child`` are Timeloop
    indices (0 innermost; child -1 = compute); ``child_fibers`` is the child's result
    when the tile is pre-tiled (the child is compressed and holds more than a word)."""
    inner_most = child + 1 if child >= 0 else 0
    rel = [(l, j) for l in range(level, inner_most - 1, -1)
           for j in range(len(nests[l]) - 1, -1, -1) if nests[l][j][0] in tensor.dims]
    rel.reverse()  # innermost first
    loops = [[nests[l][j][0], nests[l][j][1]] for l, j in rel]
    pre = child_fibers is not None
    if not pre:
        below = {d: 1 for d in all_dims}
        for l in range(inner_most):
            for d, f, *_ in nests[l]:
                below[d] *= f
        for lp in loops:
            lp[1] *= below[lp[0]]
            below[lp[0]] = 1
    n = len(ranks)
    inner = len(child_fibers) if pre else 0
    if pre and inner > n:
        raise MappingError(f"pretiling for {tensor.name} required but the compression format "
                           f"of {level_name} ({n} ranks) does not align with the level below "
                           f"({inner} ranks)", level=level_name)
    per_rank: list[list] = [[] for _ in range(n)]
    idx = len(loops) - 1
    r = n
    while r > inner and idx >= 0:
        while idx >= 0 and loops[idx][1] <= 1:
            idx -= 1
        if idx < 0:
            break
        r -= 1
        per_rank[r] = [loops[idx]]
        idx -= 1
    while idx >= 0:
        if loops[idx][1] > 1:
            raise MappingError(
                f"more compression ranks needed than {level_name} has for {tensor.name}: "
                f"its format has {n} rank(s) but the tile is split by more loops",
                level=level_name)
        idx -= 1
    shapes = []
    for r in range(n):
        if r < inner:
            shapes.append(child_fibers[r])
            continue
        box = {d: 1 for d in all_dims}
        for d, f in per_rank[r]:
            box[d] *= f
        shapes.append(_proj(tensor, box))
    return tuple(shapes)


def _p_empty(density: Density, sub: int, tile: int, nnz: int) -> float:
    return sum(p for k, p in constrained_occupancy(density, sub, tile, nnz) if k == 0)


def _words_given(ranks_outer_first: tuple[str, ...], shapes: tuple[int, ...], nnz: int,
                 density: Density, tile: int) -> list[RankWords]:
    """Metadata and payload words per rank (innermost first) of a tile of ``tile`` words
    holding ``nnz`` non-zeros. Every rank has (shapes above it) fibers, of which those
    over a non-empty part exist; a fiber of shape 1 below the top rank costs nothing; the
    innermost rank with words keeps no payload (its payload is the data itself)."""
    n = len(shapes)
    out = [RankWords(0.0, 0.0)] * n
    fibers = 1.0
    cur = tile
    for r in range(n - 1, -1, -1):
        fmt = ranks_outer_first[n - 1 - r]
        f = shapes[r]
        sub = math.prod(shapes[:r])
        if not (f == 1 and r != n - 1):
            nf = fibers * (1.0 - _p_empty(density, cur, tile, nnz))
            occ = f * (1.0 - _p_empty(density, sub, tile, nnz))
            if fmt == "UOP":
                out[r] = RankWords(0.0, nf * (f + 1))
            elif fmt == "B":
                out[r] = RankWords(nf * f, nf * math.ceil(occ - 1e-9))
            elif fmt == "CP":
                c = math.ceil(occ - 1e-9)
                out[r] = RankWords(c * nf, c * nf)
            else:  # RLE
                out[r] = RankWords(occ * nf, occ * nf)
        fibers *= f
        cur = sub
    for r in range(n):
        if out[r].metadata or out[r].payload:
            out[r] = RankWords(out[r].metadata, 0.0)
            break
    return out


def tile_occupancy(density: Density, tile: int, tensor_words: int, parent_compressed: bool
                   ) -> tuple[tuple[int, float], ...]:
    """Occupancy distribution of a stored tile; a tile below a compressed parent is never
    empty (empty tiles are not sent), so the distribution is conditioned on k > 0."""
    dist = occupancy(density, tile, tensor_words)
    p0 = sum(p for k, p in dist if k == 0)
    if parent_compressed and p0 > 0 and p0 < 1:
        return tuple((k, p / (1 - p0)) for k, p in dist if k > 0)
    return dist


def expected_rank_words(ranks_outer_first: tuple[str, ...], shapes: tuple[int, ...],
                        dist: tuple[tuple[int, float], ...], density: Density, tile: int
                        ) -> list[RankWords]:
    n = len(shapes)
    md = [0.0] * n
    pl = [0.0] * n
    for k, p in dist:
        for r, w in enumerate(_words_given(ranks_outer_first, shapes, k, density, tile)):
            md[r] += p * w.metadata
            pl[r] += p * w.payload
    return [RankWords(md[r], pl[r]) for r in range(n)]


def max_rank_words(ranks_outer_first: tuple[str, ...], shapes: tuple[int, ...], nnz_max: int,
                   density: Density, tile: int) -> list[RankWords]:
    return _words_given(ranks_outer_first, shapes, nnz_max, density, tile)
