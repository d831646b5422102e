"""Rule leaf_bound of the optimal strategy (docs/optimal.md): B7 with every level's loop
order known, plus the exact outermost terms of rule order_bound's probe, is below the
model's energy of every mapping; it removes leaves, and the front still equals brute
force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import SEMANTICS, ModelOptions
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal.bounds import SAFETY, Bounder
from loopscape.mapper.strategies.optimal.leaves import LeafBound, leaf_indices
from loopscape.mapper.strategies.optimal.orders import OrderTables
from loopscape.mapper.strategies.optimal.probes import OrderProbe
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces import einsum
from loopscape.spaces.mapspace import Mapspace

from test_optimal import _ex05, check_exact, small_spaces


def _record(bd: Bounder, orders: OrderTables, st_, mid: int):
    """The search's record of the tiling of mapping ``mid``, its order tables, and the
    mapping's leaf index within the tiling (combo-major, keep-minor)."""
    P, B = st_.permutation_size, st_.bypass_size
    fi, rest = divmod(mid, P * B)
    lp, by = divmod(rest, B)
    rows = []
    for s in reversed(st_.dim_sizes):
        rows.append(fi % s)
        fi //= s
    rows.reverse()
    f = [bd.dims[di] for di in range(len(rows))]
    stack = lambda a: np.stack([getattr(x, a)[r] for x, r in zip(f, rows)], axis=1)  # noqa
    temporal, sx, sy, ext = stack("temporal"), stack("sx"), stack("sy"), stack("ext")
    pos = np.prod([x.pos[r] for x, r in zip(f, rows)], axis=0)
    neg = np.prod([x.neg[r] for x, r in zip(f, rows)], axis=0) if bd.n_neg else np.ones(0)
    keeps = np.nonzero(orders.legal_keeps(ext[None])[0])[0]
    ce = bd.tiling_extents(temporal[None], ext[None])[0]
    rec = (0, temporal, sx, sy, keeps, None, 1, pos, neg, ce, ext)
    tables = orders.level_tables(temporal)
    combo = 0
    for i, pc in enumerate(st_.perm_count):  # each level's Lehmer rank -> its table row
        lp_i = (lp // int(np.prod(st_.perm_count[i + 1:], dtype=np.int64))) % pc
        combo = combo * len(tables[i][0]) + int(np.searchsorted(tables[i][0], lp_i))
    return rec, tables, combo * len(keeps) + int(np.searchsorted(keeps, by))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from(SEMANTICS), st.booleans())
def test_leaf_bound_is_admissible(ms, seed, semantics, links):
    """On drawn canonical legal mappings: the leaf bound of the mapping's own leaf, with
    the exact terms of the probe of its outermost order and keep choice (the real
    OrderProbe), and without them, is at most the model's energy; B7 with every order
    given is at least B7 with the outermost order alone."""
    model = ModelOptions(semantics=semantics, link_transfers=links)
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, links=links)
    orders = OrderTables(ms.workload, ms.arch, st_)
    probe = OrderProbe(ms.workload, ms.arch, bd, orders, ("energy_pj", "cycles"), model)
    leaf = LeafBound(bd, orders.keep_sets, len(ms.workload.tensors))
    T = len(ms.workload.tensors)
    rng = np.random.default_rng(seed)
    drawn = []  # (record, tables, own leaf, model energy)
    for mid in rng.integers(0, ms.size, 40).tolist():
        m = ms.mapping(mid)
        if not ms.is_legal(m) or not ms.is_canonical(mid):
            continue
        rec, tables, j = _record(bd, orders, st_, mid)
        drawn.append((rec, tables, j, evaluate(ms.workload, ms.arch, m, options=model).energy_pj))
    if not drawn:
        return
    # every leaf of every drawn tiling, in one group (as the search bounds them)
    _, exacts, _ = probe([(rec, tables) for rec, tables, _, _ in drawn])
    for with_probe in (False, True):
        items = []
        for (rec, tables, _, _), ex in zip(drawn, exacts):
            nk, n0 = len(rec[4]), len(tables[0][0])
            if ex is None or not with_probe:
                ex = (np.zeros((n0, nk)), np.zeros((nk, T), dtype=bool))
            leaves = np.arange(int(np.prod([len(t[0]) for t in tables])) * nk)
            items.append((rec, tables, leaves, probe.base_energy(rec)) + ex)
        for (_, _, j, energy), e in zip(drawn, leaf(items)):
            assert e[j] <= energy, (with_probe, e[j], energy)
    # the least over a tiling's leaves (rule leaf_bound on whole tilings)
    least = leaf.least([(rec, tables, probe.base_energy(rec)) for rec, tables, _, _ in drawn])
    for (_, _, _, energy), e in zip(drawn, least):
        assert e <= energy
    # alone, a leaf's bound is the same as in the group
    rec, tables, j, _ = drawn[0]
    nk, n0 = len(rec[4]), len(tables[0][0])
    free = (np.zeros((n0, nk)), np.zeros((nk, T), dtype=bool))
    (alone,) = leaf([(rec, tables, np.array([j]), probe.base_energy(rec)) + free])
    leaves = np.arange(int(np.prod([len(t[0]) for t in tables])) * nk)
    (grouped,) = leaf([(rec, tables, leaves, probe.base_energy(rec)) + free])
    assert alone[0] == pytest.approx(grouped[j], rel=1e-12)


def test_leaf_indices_are_every_deeper_order_of_the_kept_pairs():
    mask = np.array([[True, False], [False, True], [False, False]])  # 3 orders, 2 keeps
    # combo = order x 4 + deeper, leaf = combo x 2 + keep
    want = sorted([(0 * 4 + d) * 2 + 0 for d in range(4)] + [(1 * 4 + d) * 2 + 1 for d in range(4)])
    assert leaf_indices(mask, 4).tolist() == want


@pytest.mark.parametrize("equation, sizes", [
    ("Z[m,n] += A[m,k] * B[k,n]", {"m": 1, "n": 4, "k": 4}),
    ("Outputs[m,p] += Weights[m,c,r] * Inputs[c,r+p]", {"m": 1, "c": 1, "r": 4, "p": 4}),
])
def test_leaf_bound_removes_leaves_and_the_front_stays_exact(equation, sizes):
    """ex05's three-level architecture, unconstrained: the global buffer's order decides
    the register file's refetches, which B7 with every order given sees per leaf."""
    _, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    w = einsum(equation, sizes, name="small")
    ms = Mapspace(w, a)
    res = check_exact(ms, None, ("energy_pj", "cycles"), block=4, warm_start=0)
    assert res.stats.certificate["pruned"]["leaf_bound"] > 0
    off = search(w, a, strategy="optimal", seconds=600,
                 strategy_options={"block": 4, "warm_start": 0, "leaf_bound": False},
                 options=ModelOptions(link_transfers=False))
    assert off.stats.certificate["pruned"]["leaf_bound"] == 0
    assert off.stats.evaluated > res.stats.evaluated


def _sliding_space():
    """A small sliding-window layer on ex05's architecture, with its mapspace, structure,
    bounder and order tables."""
    _, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    w = einsum("Outputs[m,p] += Weights[m,c,r] * Inputs[c,r+p]",
               {"m": 2, "c": 2, "r": 3, "p": 4}, name="small")
    ms = Mapspace(w, a)
    st_ = structure(ms)
    bd = Bounder(w, a, st_)
    orders = OrderTables(w, a, st_)
    return w, a, ms, st_, bd, orders


def tiling_items(w, a, ms, st_, bd, orders, step: int) -> list:
    """(record, order tables, MAC and leakage energy) of every ``step``-th tiling of the
    space with a legal keep choice."""
    probe = OrderProbe(w, a, bd, orders, ("energy_pj", "cycles"))
    P, B = st_.permutation_size, st_.bypass_size
    items = []
    for fi in range(0, ms.size // (P * B), step):
        rec, tables, _ = _record(bd, orders, st_, fi * P * B)
        if len(rec[4]):
            items.append((rec, tables, probe.base_energy(rec)))
    return items


def test_leaves_with_equal_signatures_have_equal_b7_factors():
    """RunBound.signature is all B7 reads of the orders, and each column reads one
    level's (levels_read): on drawn tilings of a sliding window layer, the leaves (all
    orders of all levels) that share a signature share their B7 factors, and so do those
    that share that level's order in the column; the leaves differ on some tiling."""
    w, a, ms, st_, bd, orders = _sliding_space()
    P, B = st_.permutation_size, st_.bypass_size
    rng = np.random.default_rng(0)
    differ = False
    for fi in rng.integers(0, ms.size // (P * B), 40).tolist():
        rec, tables, _ = _record(bd, orders, st_, fi * P * B)
        n = int(np.prod([len(t[0]) for t in tables]))
        rank = np.empty((n, len(tables), len(w.dims)), dtype=np.int64)
        rem = np.arange(n)
        for i in range(len(tables) - 1, -1, -1):
            rem, j = np.divmod(rem, len(tables[i][0]))
            rank[:, i] = tables[i][1][j]
        tem = np.repeat(rec[1][None], n, axis=0)
        ext = np.repeat(rec[10][None], n, axis=0)
        f = bd.runs.factors(tem, ext, ranks=rank)
        sig = bd.runs.signature(tem, rank)
        _, inv = np.unique(sig, axis=0, return_inverse=True)
        for u in np.unique(inv):
            same = f[inv.ravel() == u]
            assert (same == same[0]).all()
        differ |= len(np.unique(f, axis=0)) > 1
        # each column reads one level's order (levels_read): leaves with the same order
        # there have the same factor in that column
        reads = bd.runs.levels_read(rec[1][None])[0]
        for col, j in enumerate(reads.tolist()):
            lv = rank[:, max(j, 0)] if j >= 0 else np.zeros((n, 1), dtype=np.int64)
            _, inv = np.unique(lv, axis=0, return_inverse=True)
            for u in np.unique(inv):
                same = f[inv.ravel() == u, col]
                assert (same == same[0]).all()
    assert differ


def test_least_is_the_least_class_row_and_skips_oversized_tilings(monkeypatch):
    """LeafBound.least, which enumerates only each level's undominated classes (and no
    wide one), gives the least of every class row's energy (all rows enumerated, the
    per-leaf pass's kernel); a tiling with more undominated rows than ``CHUNK`` gets no
    bound (0); the dominated classes are skipped (tilings with more rows than ``CHUNK``
    in all still get their bound), and some classes are wide."""
    import loopscape.mapper.strategies.optimal.leaves as leaves_mod
    w, a, ms, st_, bd, orders = _sliding_space()
    items = tiling_items(w, a, ms, st_, bd, orders, 7)
    leaf = LeafBound(bd, orders.keep_sets, len(w.tensors))
    whole = leaf.least(items)
    assert (whole > 0).all()
    prep = leaf._prepare([it[:2] for it in items])
    tops = np.zeros((int(prep["nk"].sum()), len(w.tensors)), dtype=bool)
    energy, eoff = leaf._class_energy(prep, tops)
    base = np.array([it[2] for it in items])
    # the same least up to rounding (a wide class's factors are at least another's in
    # exact arithmetic; the bound keeps a 1e-9 slack, SAFETY)
    assert whole == pytest.approx((base + np.minimum.reduceat(energy, eoff)) * SAFETY,
                                  rel=1e-12)
    assert any(w.any() for w in prep["wide_of"])
    rows = leaf.class_rows([it[:2] for it in items])
    monkeypatch.setattr(leaves_mod, "CHUNK", int(rows.max()) - 1)
    got = leaf.least(items)
    big = rows > rows.max() - 1
    assert big.any() and np.array_equal(got, whole)  # the largest lose dominated classes
    monkeypatch.setattr(leaves_mod, "CHUNK", 0)
    assert (leaf.least(items) == 0).all()
