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


def _in(rule: tuple[str, ...], dim: str) -> bool:
    """Whether a rank's flattening rule covers ``dim`` ("*" covers every dimension)."""
    return "*" in rule or dim in rule


def fiber_shapes(tensor: Tensor, ranks: tuple[str, ...], flattened: tuple, nests: list[list[Loop]],
                 level: int, child: int, child_info: tuple | None, level_name: str,
                 all_dims: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(fiber shape per rank, sub-tile words per rank), innermost rank first.

    ``level``/``child`` are Timeloop indices (0 innermost; child -1 = compute). Ranks
    take the loops projecting onto the tensor, outermost rank from the outermost loop,
    one non-trivial loop per rank unless the rank flattens several dimensions. A tile
    pre-tiled for a compressed-format parent (``child_info`` = the child's result)
    keeps the child's ranks innermost. ``ranks == ()`` means uncompressed: one rank
    holding every loop. Sub-tile r is the words under one coordinate of rank r."""
    inner_most = child + 1 if child >= 0 else 0
    rel = [[d, f, tensor.size(mold)] for l in range(inner_most, level + 1)
           for d, f, _, mold in nests[l] if d in tensor.dims]
    pre = child_info is not None
    if not pre:
        below = {d: 1 for d in all_dims}
        for l in range(inner_most):
            for d, f, *_ in nests[l]:
                below[d] *= f
        for lp in rel:
            lp[1] *= below[lp[0]]
            below[lp[0]] = 1
    has_md = bool(ranks)
    n = len(ranks) if has_md else 1
    inner = len(child_info[0]) if pre else 0
    if pre and inner > n:
        raise MappingError(f"pretiling for {tensor.name} required but the compression format "
                           f"of {level_name} ({n} ranks) does not align with the level below "
                           f"({inner} ranks)", level=level_name)
    fallback = rel[0][2] if rel else 1
    rank_loops: list[list] = [[] for _ in range(n)]
    rank_ps = [fallback] * n
    idx = len(rel) - 1
    r = n
    while r > inner and idx >= 0:
        while idx >= 0 and rel[idx][1] <= 1:
            idx -= 1
        if idx < 0:
            break
        r -= 1
        rule = flattened[n - 1 - r] if has_md and flattened else None
        if has_md and rule is not None and not _in(rule, rel[idx][0]):
            continue
        rank_loops[r] = [rel[idx]]
        rank_ps[r] = rel[idx][2]
        idx -= 1
        if not has_md or rule is not None:
            while idx >= 0 and (not has_md or _in(rule, rel[idx][0]) or rel[idx][1] <= 1):
                if rel[idx][1] > 1:
                    rank_loops[r].append(rel[idx])
                idx -= 1
    if any(lp[1] > 1 for lp in rel[:idx + 1]):
        raise MappingError(
            f"more compression ranks needed than supported at {level_name} for {tensor.name}: "
            f"its format has {n} rank(s) but the tile is split by more loops (add a rank to "
            f"the format or tile the tensor less deeply)", level=level_name, tensor=tensor.name)
    shapes, ps = [], [1]
    for r in range(n):
        if r < inner:
            shapes.append(child_info[0][r])
            ps.append(child_info[1][r + 1])
            continue
        box = {d: 1 for d in all_dims}
        for d, f, _ in rank_loops[r]:
            box[d] *= f
        shapes.append(tensor.size(box))
        ps.append(rank_ps[r])
    return tuple(shapes), tuple(ps)


def _p_empty(density: Density, sub: int, tile: int, nnz: int) -> float:
    return sum(p for k, p in constrained_occupancy(density, sub, tile, nnz) if k == 0)


def _words_given(ranks_outer_first: tuple[str, ...], shapes: tuple[int, ...], nnz: int,
                 density: Density, tile: int, subs: tuple[int, ...]) -> list[RankWords]:
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
        sub = subs[r]
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
                        dist: tuple[tuple[int, float], ...], density: Density, tile: int,
                        subs: tuple[int, ...]) -> list[RankWords]:
    n = len(shapes)
    md = [0.0] * n
    pl = [0.0] * n
    for k, p in dist:
        for r, w in enumerate(_words_given(ranks_outer_first, shapes, k, density, tile, subs)):
            md[r] += p * w.metadata
            pl[r] += p * w.payload
    return [RankWords(md[r], pl[r]) for r in range(n)]


def max_rank_words(ranks_outer_first: tuple[str, ...], shapes: tuple[int, ...], nnz_max: int,
                   density: Density, tile: int, subs: tuple[int, ...]) -> list[RankWords]:
    return _words_given(ranks_outer_first, shapes, nnz_max, density, tile, subs)
