"""Rule S (docs/optimal.md, "Kept tiles share a level (rule S)"): the tiles a level keeps
share its capacity, so in rule O's cases a keeper right below the outermost level with
one instance holds one slice of every tensor it keeps at once. The claim against the
model's tiles on drawn mappings, the bound of each drawn mapping's own combination at
every prefix depth below its energy (both semantics, links on and off), brute-force front
equality with every node bounded, and a hand count where it bites."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimal_checks import subtree_prefix
from test_optimal import check_exact
from test_optimal_joint_bounds import MODELS
from test_optimal_links_floor import mini_eyeriss

from loopscape.costmodels import evaluate
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import conv2d, einsum


def _glb(words: int):
    """The mini Eyeriss with a global buffer of ``words`` (it keeps inputs and outputs)."""
    a = mini_eyeriss(fx=2, fy=2)
    lv = list(a.levels)
    lv[1] = dataclasses.replace(lv[1], capacity_words=words)
    return dataclasses.replace(a, levels=tuple(lv))


def _claim(ms: Mapspace, n: int, seed: int) -> int:
    """The claim on ``n`` drawn mappings: at every level below the outermost with one
    utilized instance and no temporal loop between them, the kept tensors' slices of the
    outermost level's loops (each dimension's bound over its factor there, rounded up)
    fit the level's bits together. Returns how many mappings had two tensors there each
    fitting alone in the capacity but not together."""
    w, arch = ms.workload, ms.arch
    both = 0
    for _, m in ms.sample(n, seed=seed):
        top = {d: 1 for d in w.dims}
        for lp in m.levels[0].temporal:
            top[lp.dim] *= lp.factor
        box = {d: -(-w.bound(d) // top[d]) for d in w.dims}
        for k in range(1, len(arch.levels)):
            lv = arch.levels[k]
            above = m.levels[:k]
            if any(lp.factor > 1 for lm in above for lp in lm.spatial) or \
                    any(lp.factor > 1 for lm in above[1:] for lp in lm.temporal):
                break
            if lv.capacity_words is None:
                continue
            cap = lv.effective_capacity_bits
            need = [w.tensor(t).size(box) * lv.bits(t) for t in m.levels[k].keep]
            assert sum(need) <= cap, (m, k, need, cap)
            both += len(need) > 1 and sum(need) > max(need) and all(
                x <= cap for x in need)
    return both


@pytest.mark.parametrize("words", [40, 120])
def test_claim_on_drawn_mappings(words):
    ms = Mapspace(conv2d(C=2, M=4, P=6, Q=3, R=3, S=1), _glb(words))
    assert _claim(ms, 80, seed=3) > 0


def _bounded(ms: Mapspace, model, n: int, seed: int) -> None:
    """Rule P with rules O, V and S bounds each drawn mapping's own combination at every
    prefix depth below the model's energy."""
    bd = Bounder(ms.workload, ms.arch, structure(ms), links=model.link_transfers)
    prof = SpatialProfiles(bd)
    for mid, m in ms.sample(n, seed=seed):
        E = evaluate(ms.workload, ms.arch, m, options=model).energy_pj
        rows = bd.st.tiling_rows(mid)
        D = len(rows)
        for depth in range(0, D + 1):
            U = list(range(depth, D))
            pos, neg, spx, spy, ce, fixed = subtree_prefix(bd, rows, depth)
            got = prof.bound(U, pos, neg, spx, spy, ce, fixed if depth else None)
            P = prof.combos(U, spx, spy)[3]
            mine = np.all([P[:, j] == prof.group[di][rows[di]] for j, di in enumerate(U)],
                          axis=0) if U else np.ones(len(P), dtype=bool)
            assert got[0][mine][0] <= E * (1 + 1e-9), (mid, depth, got[0][mine][0], E)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_bound_below_the_model_with_a_shared_buffer(model):
    _bounded(Mapspace(conv2d(C=2, M=4, P=6, Q=3, R=3, S=1), _glb(60)), model, 12, seed=5)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 3),
                              "P": st.integers(2, 5), "Q": st.integers(1, 3),
                              "R": st.integers(1, 3)}),
       st.integers(4, 60), st.sampled_from(MODELS), st.integers(0, 2**31))
def test_bound_below_the_model_on_random_layers(dims, words, model, seed):
    try:
        ms = Mapspace(conv2d(**dims, S=1), _glb(words))
    except Exception:  # a layer this architecture cannot map
        return
    _bounded(ms, model, 4, seed)


def _two_word_buffer():
    """``O[m] += W[m,c] * I[c]`` (M 2, C 2: 4 MACs) on DRAM (1 pJ a word, every access)
    above a buffer Buf of two words (0 pJ) that may keep any tensor, one MAC (0 pJ)."""
    w = einsum("O[m] += W[m,c] * I[c]", {"m": 2, "c": 2})
    levels = (StorageLevel("DRAM", instances=1, mesh_x=1, mesh_y=1, read_energy_pj=1.0,
                           fill_energy_pj=1.0, update_energy_pj=1.0),
              StorageLevel("Buf", instances=1, mesh_x=1, mesh_y=1, read_energy_pj=0.0,
                           fill_energy_pj=0.0, update_energy_pj=0.0, capacity_words=2))
    return w, Architecture("buf2", levels, ComputeLevel("MAC", 1, 1, 1, energy_pj=0.0))


def test_rule_s_by_hand():
    """Hand count at the leaf node fixing M's loop of 2 at DRAM and C's loop of 2 at Buf (M's
    loop alone at DRAM). Rule O prices I (M does not index it: needed whole, 2 words,
    which fits Buf alone) read once, 2 pJ, O (its slice of 1 word fits) updated once, 2,
    W read once, 4: 8 pJ. Buf's 2 words cannot hold I's 2 and O's 1 at once, so rule S
    makes one of them bypass Buf: I then served per MAC (4 pJ: 10 in all), or O updated
    per MAC (4 updates and 2 reads back: 12). 10 pJ, the least energy of that subtree
    (brute force), and the search certifies the whole front."""
    w, a = _two_word_buffer()
    ms = Mapspace(w, a)
    bd = Bounder(w, a, structure(ms))
    names = list(bd.st.dims)
    want = {"m": (2, 1), "c": (1, 2)}  # temporal factors at DRAM, Buf
    rows = [next(r for r in range(len(bd.dims[di].temporal))
                 if tuple(bd.dims[di].temporal[r, :2]) == want[d])
            for di, d in enumerate(names)]
    pos, neg, spx, spy, ce, fixed = subtree_prefix(bd, rows, 2)
    old = SpatialProfiles(bd)
    old.outermost.cap_bits = [np.inf] * bd.L  # rule O alone: no level shared
    plain = old.bound([], pos, neg, spx, spy, ce, fixed)[0]
    got = SpatialProfiles(bd).bound([], pos, neg, spx, spy, ce, fixed)[0]
    assert plain.min() == pytest.approx(8.0)
    d0 = "m"
    least = min(evaluate(w, a, m).energy_pj for m in map(ms.mapping, range(ms.size))
                if ms.is_legal(m) and math.prod(
                    lp.factor for lp in m.levels[0].temporal if lp.dim == d0) == 2
                and all(lp.factor == 1 for lp in m.levels[0].temporal if lp.dim != d0))
    assert least == pytest.approx(10.0)
    assert got.min() == pytest.approx(10.0)
    for model in MODELS:
        check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=0)


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 2),
                              "P": st.integers(2, 4), "Q": st.integers(1, 2)}),
       st.integers(4, 30), st.sampled_from(MODELS))
def test_front_equals_brute_force_with_a_shared_buffer(dims, words, model):
    """Every node above a single tiling bounded (``block=1``)."""
    try:
        ms = Mapspace(conv2d(**dims, R=1, S=1), _glb(words))
    except Exception:  # a layer this architecture cannot map
        return
    if ms.pruned_size > 3_000:
        return
    check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=16)
