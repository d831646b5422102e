"""Shared checks of the optimal strategy's bounds (docs/optimal.md): the admissibility of
every bound a search uses, on one mapping of a mapspace, against the model's score."""

from __future__ import annotations

import numpy as np

from loopscape.costmodels.evaluate import Evaluation
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.structure import SpaceStructure
from loopscape.spaces.mapspace import Mapspace


def assert_admissible(ms: Mapspace, bd: Bounder, st_: SpaceStructure, mid: int,
                      ev: Evaluation) -> None:
    """Every bound of mapping ``mid`` is at most its scored energy and cycles ``ev``: the
    subtree bound at every prefix depth (layer order), the tiling bound (B6 extents with
    B7), the bound of the mapping's own keep choice (keep_bound) and B7 with its own
    outermost order (order_bound's probes)."""
    m = ms.mapping(int(mid))
    rows = st_.tiling_rows(mid)
    D, L = len(rows), len(ms.arch.levels)
    for depth in range(D + 1):
        pos, neg = bd.relaxed(depth)
        for di in range(depth):
            pos = pos * bd.dims[di].pos[rows[di]]
            neg = neg * bd.dims[di].neg[rows[di]]
        ext = np.ones((1, L, D), dtype=np.int64)
        tem = np.ones_like(ext)
        for di in range(depth):
            ext[0, :, di] = bd.dims[di].ext[rows[di]]
            tem[0, :, di] = bd.dims[di].temporal[rows[di]]
        e, c = bd.bound(pos[None], neg[None], ce=bd.tiling_extents(tem, ext))
        assert e[0] <= ev.energy_pj and c[0] <= ev.cycles, (mid, depth, e[0], ev.energy_pj)
    ext = np.stack([bd.dims[di].ext[r] for di, r in enumerate(rows)], axis=1)[None]
    temporal = np.stack([bd.dims[di].temporal[r] for di, r in enumerate(rows)], axis=1)[None]
    ce = bd.tiling_extents(temporal, ext)
    assert (ce >= bd.compound_extents(ext)).all()
    e, c = bd.bound(pos[None], neg[None], ce=ce)
    assert e[0] <= ev.energy_pj and c[0] <= ev.cycles, (mid, "tiling", e[0], ev.energy_pj)
    keep = np.array([[t in lm.keep for t in ms.workload.tensor_names] for lm in m.levels])
    e, _ = bd.bound(pos[None], neg[None], keep[None], ce=ce)
    assert e[0] <= ev.energy_pj, (mid, "keep", e[0], ev.energy_pj)
    outer = [l.dim for l in m.levels[0].temporal]
    order0 = np.array([[outer.index(d) if d in outer else len(outer) + i
                        for i, d in enumerate(ms.workload.dims)]])
    ce0 = bd.tiling_extents(temporal, ext, order0=order0)
    assert (ce0 >= ce).all()
    e, _ = bd.bound(pos[None], neg[None], keep[None], ce=ce0)
    assert e[0] <= ev.energy_pj, (mid, "order0", e[0], ev.energy_pj)


def link_words(ev: Evaluation) -> int:
    """Words moved over links in a scored mapping (all levels and tensors)."""
    return sum(s.link_transfers or 0 for lvl in ev.levels for s in lvl.tensors.values())


def subtree_prefix(bd: Bounder, rows: list[int], depth: int):
    """The subtree fixing the first ``depth`` dimensions (layer order) to ``rows``:
    column products, spatial products per mesh axis, B7 extents and the fixed rows."""
    L = bd.L
    pos, neg = np.ones(bd.n_pos), np.ones(bd.n_neg)
    spx, spy = np.ones(L, dtype=np.int64), np.ones(L, dtype=np.int64)
    fixed = {di: rows[di] for di in range(depth)}
    for di, r in fixed.items():
        f = bd.dims[di]
        pos, neg = pos * f.pos[r], neg * f.neg[r]
        spx, spy = spx * f.sx[r], spy * f.sy[r]
    tem, ext = bd.partial_tiling(fixed, 1)
    return pos, neg, spx, spy, bd.tiling_extents(tem, ext), fixed
