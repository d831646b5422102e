"""Rules J (spatial room), K (capacity of the keepers) and P (spatial profiles) of the
optimal strategy's subtree bound (docs/optimal.md, "Joint bounds of a subtree"): each
checked for admissibility against the model on drawn mappings at every prefix depth
(both semantics, links on and off, spaces where the scratchpads' capacity and the
fanouts bind), the front against brute force with the subtree code exercised at every
depth, and a hand count where the rules raise the bound to the true optimum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimal import _ex05_small, check_exact, small_spaces
from test_optimal_links_floor import LINKS, mini_eyeriss, row_stationary

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import SEMANTICS, ModelOptions
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.capacity import CapacityRelax
from loopscape.mapper.strategies.optimal.joint import JointFloor
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import conv2d, einsum


def _prefix(bd: Bounder, rows: list[int], depth: int):
    """The assigned part of the subtree fixing the first ``depth`` dimensions (layer
    order) to ``rows``: column products, spatial products per axis, extents (1 for the
    unassigned dimensions) and temporal factors."""
    L, D = bd.L, len(bd.dims)
    pos, neg = np.ones(bd.n_pos), np.ones(bd.n_neg)
    spx, spy = np.ones(L, dtype=np.int64), np.ones(L, dtype=np.int64)
    ext = np.ones((1, L, D), dtype=np.int64)
    tem = np.ones((1, L, D), dtype=np.int64)
    for di in range(depth):
        f, r = bd.dims[di], rows[di]
        pos, neg = pos * f.pos[r], neg * f.neg[r]
        spx, spy = spx * f.sx[r], spy * f.sy[r]
        ext[0, :, di], tem[0, :, di] = f.ext[r], f.temporal[r]
    return pos, neg, spx, spy, ext, tem


def check_joint_admissible(bd: Bounder, rules: tuple, mid: int, ev) -> tuple[int, int]:
    """Rules J, K and P (``rules``: their objects for ``bd``) at every prefix depth of
    mapping ``mid`` are below its scored energy and cycles ``ev``; returns how many depths
    rule K, and rule P, raised the bound above rule J's (so a caller can check that the
    rules are exercised)."""
    jf, cap, prof = rules
    rows = bd.st.tiling_rows(mid)
    D = len(rows)
    E, C = ev.energy_pj, ev.cycles
    raised_k = raised_p = 0
    for depth in range(D + 1):
        U = list(range(depth, D))
        pos, neg, spx, spy, ext, tem = _prefix(bd, rows, depth)
        ce = bd.tiling_extents(tem, ext)
        _, rn = bd.relaxed_over(U)
        pj = jf.relaxed(U, spx[None], spy[None])
        e, c = bd.bound(pos[None] * pj, (neg * rn)[None], ce=ce)
        assert e[0] <= E and c[0] <= C, ("J", mid, depth, e[0], E, c[0], C)
        ek = cap.bound(U, pos[None], neg[None], pj, rn[None], ext, ce)
        assert ek[0] <= E, ("K", mid, depth, ek[0], E)
        raised_k += ek[0] > e[0] * (1 + 1e-9)
        got = prof.bound(U, pos, neg, spx, spy, ce)
        assert got is not None and len(got[0])  # small spaces: never skipped; a legal completion
        pe, pc, first = got
        # the mapping lies in one profile combination, one whose profile of the next
        # dimension is its row's (what the children inherit): that bound is below it
        mine = first == prof.group[U[0]][rows[U[0]]] if U else np.ones(len(pe), dtype=bool)
        assert ((pe <= E) & (pc <= C))[mine].any(), ("P", mid, depth, pe.min(), E, pc.min(), C)
        assert (pe * pc)[mine].min() <= E * C
        raised_p += pe.min() > e[0] * (1 + 1e-9) or (pe * pc).min() > e[0] * c[0] * (1 + 1e-9)
    return raised_k, raised_p


def _draw_and_check(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> tuple[int, int]:
    bd = Bounder(ms.workload, ms.arch, structure(ms), links=model.link_transfers)
    rules = JointFloor(bd), CapacityRelax(bd), SpatialProfiles(bd)
    rk = rp = 0
    for mid, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, ms.arch, m, options=model)
        k, p = check_joint_admissible(bd, rules, mid, ev)
        rk, rp = rk + k, rp + p
    return rk, rp


MODELS = [ModelOptions(semantics=s, link_transfers=links) for s in SEMANTICS
          for links in (False, True)]


def small_spads(glb_words: int | None = None):
    """The mini Eyeriss with scratchpads of 6, 4 and 2 words (and, given, a global buffer
    of ``glb_words``): capacity binds every tensor."""
    a = mini_eyeriss()
    lv = list(a.levels)
    for i in (4, 5, 6):
        lv[i] = dataclasses.replace(lv[i], capacity_words=(6, 4, 2)[i - 4])
    if glb_words is not None:
        lv[1] = dataclasses.replace(lv[1], capacity_words=glb_words)
    return dataclasses.replace(a, levels=tuple(lv))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_rules_admissible_on_a_mini_eyeriss(model):
    """Free mappings of a small convolution on a mini Eyeriss (a 3x3 PE array, scratchpads
    of a few words): the fanout and the scratchpads' capacity bind, so rules K and P raise
    the bound at some prefix depths of the drawn mappings, and stay below the model."""
    w = conv2d(C=2, M=4, P=6, Q=3, R=3, S=1)
    rk, rp = _draw_and_check(Mapspace(w, small_spads()), model, 25, seed=3)
    assert rk > 0 and rp > 0


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from(MODELS))
def test_rules_admissible_on_random_spaces(ms, seed, model):
    _draw_and_check(ms, model, 8, seed)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 2),
                              "P": st.integers(2, 6), "Q": st.integers(1, 3),
                              "R": st.integers(2, 3), "S": st.integers(1, 2)}),
       st.sampled_from(LINKS), st.booleans(), st.integers(0, 2**31))
def test_rules_admissible_under_links_row_stationary(dims, model, constrained, seed):
    """Random small convolutions on the mini Eyeriss, row-stationary or free, links on."""
    w = conv2d(**dims)
    try:
        ms = Mapspace(w, mini_eyeriss(), row_stationary(w) if constrained else None)
    except Exception:  # a layer the constraints leave no mapping for
        return
    _draw_and_check(ms, model, 8, seed)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.sampled_from([("energy_pj", "cycles"), ("edp",), ("energy_pj",)]),
       st.sampled_from(MODELS))
def test_front_equals_brute_force_with_every_subtree_bounded(ms, objectives, model):
    """``block=1``: every node above a single tiling goes through the subtree bound and
    rule P, so a rule that removed a subtree holding a front point would show."""
    check_exact(ms, None, objectives, model, block=1, warm_start=16)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_front_equals_brute_force_on_a_fanout(model):
    """ex05's architecture with 3 register files side by side (a fanout of 3 along X, K 2
    and R 3 competing for it): the same front with rule P on and off, equal to brute
    force."""
    w, a = _ex05_small({"K": 2, "R": 3, "P": 1}, 3)
    ms = Mapspace(w, a)
    on = check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=0)
    off = check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=0,
                      spatial_profiles=False)
    assert [p.objectives for p in on.front] == [p.objectives for p in off.front]


def _three_pes():
    """``O[k,p] += I[p] * J[p] * W[k]`` (K 2, P 3) on DRAM (1 pJ a word, every access)
    feeding 3 MACs along X (0 pJ): DRAM is the only level."""
    w = einsum("O[k,p] += I[p] * J[p] * W[k]", {"k": 2, "p": 3})
    a = Architecture("dram3", (StorageLevel("DRAM", instances=1, mesh_x=1, mesh_y=1,
                                            read_energy_pj=1.0, fill_energy_pj=1.0,
                                            update_energy_pj=1.0),),
                     ComputeLevel("MAC", 3, 3, 1, energy_pj=0.0))
    return w, a


def test_rules_j_and_p_by_hand():
    """Hand count (6 MACs; DRAM serves the MACs: I and J multicast along K, W along P;
    O is updated 6 times and read back 6 - 6 = 0 times). The three spatial profiles that
    fit 3 PEs: none (I 6 + J 6 + W 6 + O 6 = 24 pJ, 6 cycles), K 2 (3 + 3 + 6 + 6 = 18 pJ,
    3 cycles) and P 3 (6 + 6 + 2 + 6 = 20 pJ, 2 cycles). The plain relaxation lets K and P
    both be spatial: 14 pJ and 1 cycle, EDP 14. Rule J (the room is 3 PEs): cycles >=
    6 / 3 = 2, EDP >= 28. Rule P: one bound per profile, EDP >= min(144, 54, 40) = 40,
    the true optimum (brute force), which the search certifies."""
    w, a = _three_pes()
    ms = Mapspace(w, a)
    bd = Bounder(w, a, structure(ms))
    rp, rn = bd.relaxed(0)
    e, c = bd.bound(rp[None], rn[None])
    assert (e[0], c[0]) == (pytest.approx(14.0), 1.0)
    one = np.ones((1, 1), dtype=np.int64)
    e, c = bd.bound(JointFloor(bd).relaxed(range(2), one, one), rn[None])
    assert (e[0], c[0]) == (pytest.approx(14.0), 2.0)
    pe, pc, _ = SpatialProfiles(bd).bound(range(2), np.ones(bd.n_pos), np.ones(bd.n_neg),
                                          one[0], one[0], None)
    assert sorted(zip(np.round(pe, 6), pc)) == [(18.0, 3.0), (20.0, 2.0), (24.0, 6.0)]
    edps = {evaluate(w, a, ms.mapping(mid)).edp * 1e12 for mid in range(ms.size)
            if ms.is_legal(ms.mapping(mid))}
    assert min(edps) == pytest.approx(40.0) == pytest.approx((pe * pc).min())
    res = search(w, a, strategy="optimal", objectives=("edp",), seconds=60,
                 strategy_options={"block": 1, "warm_start": 0})
    assert res.stats.optimal and res.front[0].objectives["edp"] * 1e12 == pytest.approx(40.0)


def test_rule_k_by_hand():
    """Rule K: conv1d ``O[p] += I[p + r] * W[r]`` (P 4, R 2, 8 MACs) with DRAM (10 pJ a
    word) above a buffer Buf of one word that may keep I (1 pJ a word) and spreads over
    4 MACs. At the root, I kept by Buf (chain DRAM, Buf) is served to the MACs by Buf:
    8 MACs over the distinct inputs its children take. P and R are a sliding window
    (multicast counted fully), so the plain bound lets P take 4 PEs and R 2 (8 / 8 = 1
    read, 1 pJ, plus at least one word from DRAM: 12 pJ); rule J keeps them within the 4
    PEs (8 / 4 = 2 reads: 13 pJ). DRAM serving the MACs itself (I bypassing Buf) costs
    8 / 8 x 10 = 10 pJ plain and 8 / 4 x 10 = 20 pJ with J. Rule K: a tile of one word
    means P and R have extent 1 in Buf, so nothing is spread below it and Buf serves all
    8 (19 pJ). I's least chain: 10 pJ plain, 13 with J, 19 with K; the totals differ by
    exactly that, and stay below the least energy of the space (brute force, 140 pJ)."""
    w = einsum("O[p] += I[p+r] * W[r]", {"p": 4, "r": 2})
    levels = (StorageLevel("DRAM", instances=1, mesh_x=1, mesh_y=1, read_energy_pj=10.0,
                           fill_energy_pj=10.0, update_energy_pj=10.0),
              StorageLevel("Buf", instances=1, mesh_x=1, mesh_y=1, read_energy_pj=1.0,
                           fill_energy_pj=1.0, update_energy_pj=1.0, capacity_words=1,
                           keeps=("I",)))
    a = Architecture("buf1", levels, ComputeLevel("MAC", 4, 4, 1, energy_pj=0.0))
    ms = Mapspace(w, a)
    # rule C off: with it DRAM serves I's 5 touched words (50 pJ) on the chain through
    # Buf, so that chain is never the least and the count would not show rule K
    bd = Bounder(w, a, structure(ms), compulsory=False)
    U = [0, 1]
    one = np.ones((1, 2), dtype=np.int64)
    rp, rn = bd.relaxed_over(U)
    pj = JointFloor(bd).relaxed(U, one, one)
    ti = w.tensor_names.index("I")

    def least(pos):
        return min(float(bd.chain_energy(ti, ch, pos, rn[None])[0]) for ch in bd.chains[ti])
    assert (least(rp[None]), least(pj)) == (pytest.approx(10.0), pytest.approx(13.0))
    plain = bd.bound(rp[None], rn[None])[0][0]
    joint = bd.bound(pj, rn[None])[0][0]
    k = CapacityRelax(bd).bound(U, np.ones((1, bd.n_pos)), np.ones((1, bd.n_neg)), pj,
                                rn[None], np.ones((1, 2, 2), dtype=np.int64), None)[0]
    assert joint - plain == pytest.approx(3.0) and k - joint == pytest.approx(6.0)
    best = min(evaluate(w, a, m).energy_pj for m in map(ms.mapping, range(ms.size))
               if ms.is_legal(m))
    assert best == pytest.approx(140.0) and k <= best
