"""The cheaper path of the constrained certify (docs/optimal.md, "Measured": the pattern
registry, the pending blocks and the sized tiles): rows grouped by numpy as by a dict,
classes found by a packed key as by ``np.unique(axis=0)``, rule leaf_bound's least the
same whatever the registry holds already (one registry per space, shared by the
streams), a pending block's counts by hand, and the certificate of a search unchanged
with every stream sharing that registry."""

from __future__ import annotations

import numpy as np
import pytest

from loopscape.mapper.search import search
from loopscape.mapper.strategies.base import SearchContext
from loopscape.mapper.strategies.optimal import OptimalSearch
from loopscape.mapper.strategies.optimal.leaves import LeafBound
from loopscape.mapper.strategies.optimal.unique import unique_rows
from loopscape.mapper.strategies.optimal.orders import patterns
from loopscape.mapper.strategies.optimal.pending import PendingTilings

from test_optimal_leaves import _sliding_space, tiling_items


def _patterns_by_dict(mask: np.ndarray):
    """The reference: first row of each distinct value in order of appearance, and each
    row's group, with a dict over the rows' bytes."""
    seen: dict[bytes, int] = {}
    first, inv = [], []
    for t in range(len(mask)):
        u = seen.setdefault(mask[t].tobytes(), len(first))
        if u == len(first):
            first.append(t)
        inv.append(u)
    return first, inv


@pytest.mark.parametrize("shape", [(50, 3, 4), (200, 7, 9), (30, 9, 9), (1, 2, 2)])
def test_patterns_group_rows_as_a_dict_does(shape):
    """``patterns`` (one integer per row up to 64 bits, a dict beyond: (30, 9, 9) has
    81) equals a dict over the rows' bytes, groups in order of first appearance."""
    rng = np.random.default_rng(shape[0])
    mask = rng.random(shape) < 0.2
    mask[len(mask) // 2:] = mask[:len(mask) - len(mask) // 2]  # repeated rows
    first, inv = patterns(mask)
    ref_first, ref_inv = _patterns_by_dict(mask)
    assert first.tolist() == ref_first and inv.tolist() == ref_inv
    assert len(ref_first) < len(mask) or len(mask) == 1


@pytest.mark.parametrize("high, cols", [(4, 8), (128, 8), (2**40, 3), (3, 40)])
def test_unique_rows_match_numpy_unique_over_rows(high, cols):
    """The packed key (63 bits at most) orders rows as ``np.unique(axis=0)`` does; wider
    rows ((2**40, 3) and (3, 40): more than 63 bits) fall back to it. Same first
    indices, same groups."""
    rng = np.random.default_rng(cols)
    sig = rng.integers(0, high, (300, cols), dtype=np.int64)
    sig[150:] = sig[:150][::-1]  # repeated rows
    firsts, inv = unique_rows(sig)
    _, ref_first, ref_inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    assert firsts.tolist() == ref_first.tolist()
    assert inv.tolist() == ref_inv.ravel().tolist()
    assert np.array_equal(sig[firsts][inv], sig)


def test_leaf_least_is_the_same_whatever_the_registry_holds():
    """One registry serves every stream of a space: the least over a tiling's leaves is
    the same from a fresh registry per tiling, from one registry filled in the walk's
    order or in reverse, and in batches (``least_of``: arrays) or one by one."""
    w, a, ms, st_, bd, orders = _sliding_space()
    items = tiling_items(w, a, ms, st_, bd, orders, 5)
    B = st_.bypass_size
    alone = np.array([LeafBound(bd, orders.keep_sets, len(w.tensors)).least([it])[0]
                      for it in items])
    assert (alone > 0).all() and len(items) > 20
    shared = LeafBound(bd, orders.keep_sets, len(w.tensors))
    backwards = np.array([shared.least([it])[0] for it in items[::-1]])[::-1]
    assert np.array_equal(backwards, alone)
    assert len(shared.pid) > 3  # several patterns registered
    temporal = np.array([rec[1] for rec, _, _ in items])
    keep_ok = np.zeros((len(items), B), dtype=bool)
    for n, (rec, _, _) in enumerate(items):
        keep_ok[n, rec[4]] = True
    for leaf in (shared, LeafBound(bd, orders.keep_sets, len(w.tensors))):
        got = leaf.least_of(temporal, np.array([rec[10] for rec, _, _ in items]),
                            np.array([rec[7] for rec, _, _ in items]),
                            np.array([rec[8] for rec, _, _ in items]), keep_ok,
                            np.array([b for _, _, b in items]),
                            lambda t: orders.level_tables(temporal[t]))
        assert np.array_equal(got, alone)


def test_a_pending_block_counts_by_hand():
    """A block of three tilings: taken in order, its mappings are loop orders times legal
    keep choices (hand count), rule keep_bound narrows a tiling's keep choices, and a
    record carries the block's row in the search's layout."""
    L, D = 2, 3
    temporal = np.arange(3 * L * D, dtype=np.int64).reshape(3, L, D) + 1
    keep_ok = np.array([[True, False, True], [True, True, True], [False, True, False]])
    blk = PendingTilings(np.array([7, 11, 13]), np.zeros((3, D), dtype=np.int64), keep_ok,
                         np.arange(6.0).reshape(3, 2), np.array([2, 6, 1]), temporal,
                         np.ones((3, 4)), np.ones((3, 1)), np.ones((3, 5)), temporal + 1)
    assert len(blk) == 3
    rows = blk.take(2)
    assert rows.tolist() == [0, 1] and len(blk) == 1
    assert blk.mappings(rows) == 2 * 2 + 6 * 3
    blk.narrow(1, np.array([2]))
    assert blk.mappings(rows) == 2 * 2 + 6 * 1
    rec = blk.record(1, "sx", "sy")
    assert rec[0] == 11 and rec[2:4] == ("sx", "sy") and rec[4].tolist() == [2]
    assert rec[5].tolist() == [2.0, 3.0] and rec[6] == 6
    assert np.array_equal(rec[1], temporal[1]) and np.array_equal(rec[10], temporal[1] + 1)
    assert blk.rest_bounds().tolist() == [[4.0, 5.0]]
    assert blk.take(5).tolist() == [2] and len(blk) == 0


def test_streams_sharing_the_registry_keep_the_certificate():
    """The constrained certify's small cousin: four streams (one registry) and one stream
    certify the same front, and each certificate accounts for every canonical mapping
    of the space exactly once (scored, removed by a rule or illegal), the count the
    mapspace gives (``pruned_size``)."""
    w, a, ms, st_, bd, orders = _sliding_space()
    fronts = []
    for streams in (4, 1):
        r = search(w, a, strategy="optimal", evaluations=10**7, streams=streams, seed=3)
        cert = r.stats.certificate
        assert r.stats.optimal
        assert cert["evaluated"] + sum(cert["pruned"].values()) + \
            sum(cert["illegal"].values()) == ms.pruned_size
        fronts.append(sorted((p.mapspace_id, tuple(p.objectives.values())) for p in r.front))
    assert fronts[0] == fronts[1]


@pytest.mark.parametrize("leaf_bound", [True, False])
def test_a_group_whose_tilings_the_front_removed_meanwhile_leaves_nothing(leaf_bound):
    """Tilings wait in a block while the front improves: when the front has moved below
    every bound (a point at zero energy and cycles), the next group's re-check removes
    them all, the walk ends with nothing scored, and the certificate still counts every
    canonical mapping once (rule tiling_bound, the subtrees and the illegal ones); with
    rule leaf_bound on and off."""
    w, a, ms, st_, bd, orders = _sliding_space()
    strat = OptimalSearch(warm_start=0, leaf_bound=leaf_bound)
    strat.setup(SearchContext(ms, ("energy_pj", "cycles"), (), 0))
    while not strat.pending:
        strat._expand()
    waiting = sum(len(b) for b in strat.pending)
    assert waiting > 0
    strat.add_incumbent(np.zeros((1, 2)))  # below every bound: strictly dominates all
    assert strat._next_tiling(float("inf"), 10**15) is False
    cert = strat.certificate()
    assert cert["evaluated"] == 0 and cert["pruned"]["tiling_bound"] > 0
    assert sum(cert["pruned"].values()) + sum(cert["illegal"].values()) == ms.pruned_size
