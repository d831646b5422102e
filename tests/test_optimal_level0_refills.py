"""Rule Z (docs/optimal.md, "The outermost level's loops as a set (rule Z)"): the loops
at the outermost level repeat a simple read-only tensor's slices, and a keeper below can
start a visit holding at most its capacity, and only after a visit of the same slice.
The counting claim against a brute-force walk of the outermost nest, the fills claim
against the model on drawn mappings, the bound of each drawn mapping's own combination at
every prefix depth below its energy (both semantics, links on and off), brute-force front
equality with every node bounded, and a hand count where it bites."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimal import check_exact
from optimal_checks import subtree_prefix
from test_optimal_interior_bounds import _draw_and_check
from test_optimal_joint_bounds import MODELS, small_spads
from test_optimal_outermost import _one_word_buffer, _root_extents

from loopscape.costmodels import evaluate
from loopscape.mapper.strategies.optimal.bounds import Bounder, is_simple, without_unit_terms
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import conv2d


def _walk(loops: list[tuple[str, int]], idx: set[str]) -> tuple[int, int]:
    """Brute force over the outermost level's nest ``loops`` (outermost first): (the
    product of the factors of the dimensions not in ``idx``, how many consecutive
    iterations have the same indices in every dimension of ``idx``)."""
    its = list(itertools.product(*[range(f) for _, f in loops]))
    pos = [i for i, (d, _) in enumerate(loops) if d in idx]
    same = sum(all(a[i] == b[i] for i in pos) for a, b in zip(its, its[1:]))
    return math.prod(f for d, f in loops if d not in idx), same


def _counted(loops: list[tuple[str, int]], idx: set[str]) -> int:
    """The visits that may start holding words as rule Z counts them (by hand from the
    argument): inside the first two loops' iterations, ``A K (f - 1)`` (``A`` their
    product, ``K`` and ``f`` the further loops' products over dimensions in and out of
    ``idx``); a step of the second loop when neither it nor a further loop is in
    ``idx``: ``F0 (F1 - 1)``; of the first when neither of the two nor a further is:
    ``F0 - 1``."""
    first, rest = loops[:2], loops[2:]
    A = math.prod(f for _, f in first)
    K = math.prod(f for d, f in rest if d in idx)
    f = math.prod(f for d, f in rest if d not in idx)
    none = all(d not in idx for d, _ in rest)
    n = A * K * (f - 1)
    if len(first) == 2:
        (d0, f0), (d1, f1) = first
        n += f0 * (f1 - 1) if d1 not in idx and none else 0
        n += f0 - 1 if d0 not in idx and d1 not in idx and none else 0
    elif first:
        n += first[0][1] - 1 if first[0][0] not in idx else 0
    return n


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(2, 4)), min_size=1, max_size=4,
                unique_by=lambda x: x[0]), st.sets(st.sampled_from("abcd")))
def test_visits_counted_cover_the_nest(loops, idx):
    """Every pair of consecutive iterations of the nest with the same slice is counted."""
    F, same = _walk(loops, idx)
    assert same <= _counted(loops, idx)


def _fills_claim(ms: Mapspace, model, n: int, seed: int) -> int:
    """The claim on ``n`` drawn mappings: a keeper ``c`` below the outermost level of a
    simple read-only tensor ``t`` is filled (all instances) at least ``F w - n C``
    words: ``F`` the outermost loops' product over the dimensions that do not index
    ``t``, ``w`` its words, ``n`` the brute-force count of iterations that follow one of
    the same slice, ``C`` the capacity in words of ``t`` times the utilized instances.
    Returns how many (mapping, keeper) pairs the claim puts above ``w`` (it bites)."""
    w, arch = without_unit_terms(ms.workload), ms.arch
    bites = 0
    for _, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, arch, m, options=model)
        loops = [(lp.dim, lp.factor) for lp in m.levels[0].temporal if lp.factor > 1]
        for t in w.tensors:
            if t.read_write or not is_simple(t):
                continue
            idx = {d for axis in t.axes for c, d in axis if c != 0}
            F, same = _walk(loops, idx)
            assert same <= _counted(loops, idx)
            words = math.prod(w.bound(d) for d in idx)
            for c in range(1, len(arch.levels)):
                lv = arch.levels[c]
                if t.name not in m.levels[c].keep or lv.capacity_words is None:
                    continue
                s = ev.levels[c]
                C = lv.capacity_words * lv.word_bits // lv.bits(t.name) * s.utilized_instances
                fills = s.tensors[t.name].fills * s.utilized_instances
                assert fills >= F * words - same * C, (m, t.name, c, fills, F, same, C)
                bites += F * words - same * C > words
    return bites


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_fills_claim_on_a_mini_eyeriss(model):
    """The weights' scratchpads of the mini Eyeriss hold a few words: the claim bites."""
    ms = Mapspace(conv2d(C=2, M=4, P=6, Q=3, R=3, S=1), small_spads(24))
    assert _fills_claim(ms, model, 60, seed=3) > 0


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 3), "M": st.integers(1, 4),
                              "P": st.integers(2, 6), "Q": st.integers(1, 3),
                              "R": st.integers(1, 3)}),
       st.sampled_from(MODELS), st.integers(0, 2**31))
def test_fills_claim_on_random_layers(dims, model, seed):
    try:
        ms = Mapspace(conv2d(**dims, S=1), small_spads(24))
    except Exception:  # a layer this architecture cannot map
        return
    _fills_claim(ms, model, 8, seed)


def _raised(ms: Mapspace, model, n: int, seed: int) -> int:
    """(mapping, depth) pairs of ``n`` drawn mappings whose own combination's bound rule
    Z raises (against the same bound with rule Z off)."""
    bd = Bounder(ms.workload, ms.arch, structure(ms), links=model.link_transfers)
    on, off = SpatialProfiles(bd), SpatialProfiles(bd)
    off.outermost.zmay = [False] * len(bd.workload.tensors)
    raised = 0
    for mid, m in ms.sample(n, seed=seed):
        E = evaluate(ms.workload, ms.arch, m, options=model).energy_pj
        rows = bd.st.tiling_rows(mid)
        for depth in range(1, len(rows) + 1):
            U = list(range(depth, len(rows)))
            pos, neg, spx, spy, ce, fixed = subtree_prefix(bd, rows, depth)
            idx = on.combos(U, spx, spy)[3]
            mine = np.all([idx[:, j] == on.group[di][rows[di]] for j, di in enumerate(U)],
                          axis=0) if U else np.ones(len(idx), dtype=bool)
            e = on.bound(U, pos, neg, spx, spy, ce, fixed)[0][mine][0]
            assert e <= E * (1 + 1e-9), (mid, depth, e, E)
            raised += e > off.bound(U, pos, neg, spx, spy, ce, fixed)[0][mine][0] * (1 + 1e-9)
    return raised


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_own_combination_bound_below_the_model(model):
    """Every prefix depth of drawn mappings on the mini Eyeriss with small scratchpads:
    the bound of the mapping's own combination stays below its energy, rule Z raises it
    at some, and (``_draw_and_check``) each tensor's term of the mapping's own case stays
    below the model's energy for that tensor."""
    ms = Mapspace(conv2d(C=2, M=4, P=6, Q=3, R=3, S=1), small_spads(24))
    assert _raised(ms, model, 30, seed=11) > 0
    _draw_and_check(ms, model, 20, seed=12)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 3),
                              "P": st.integers(2, 5), "Q": st.integers(1, 2),
                              "R": st.integers(1, 3)}),
       st.integers(6, 40), st.sampled_from(MODELS), st.integers(0, 2**31))
def test_own_combination_bound_on_random_layers(dims, glb, model, seed):
    try:
        ms = Mapspace(conv2d(**dims, S=1), small_spads(glb))
    except Exception:  # a layer this architecture cannot map
        return
    _raised(ms, model, 4, seed)
    _draw_and_check(ms, model, 3, seed)


def test_rule_z_by_hand():
    """Hand count at the root of ``O[m] += W[m,c] * I[c]`` (M 2, C 2) on DRAM (1 pJ a
    word) above a one-word buffer Buf (free), rule S off (``test_optimal_outermost``).
    Rule O's least case is M's loop then C's at DRAM: W read once (4), I served 2 + 1
    words (C indexes I, and rule O lets Buf carry one word into M's second iteration),
    O updated once (2): 9 pJ. But every step of that nest moves C, which indexes I, so no
    iteration starts with a word of I it needs held (rule Z counts no such visit): Buf is
    filled with I's one-word slice at each of the 4 iterations, and DRAM serves 4: 10 pJ,
    which is the least energy of the space (brute force; M's loop alone at DRAM needs I
    whole in Buf: it bypasses, 4 reads, 10 as well)."""
    w, a = _one_word_buffer()
    ms = Mapspace(w, a)
    bd = Bounder(w, a, structure(ms))
    one = np.ones(bd.L, dtype=np.int64)
    ce = _root_extents(bd)
    prof = SpatialProfiles(bd)
    prof.outermost.cap_bits = [np.inf] * bd.L  # rule S off
    prof.outermost.zmay = [False] * len(w.tensors)
    args = (range(2), np.ones(bd.n_pos), np.ones(bd.n_neg), one, one, ce)
    assert prof.bound(*args)[0].tolist() == [pytest.approx(9.0)]
    prof.outermost.zmay = [True] * len(w.tensors)  # I and W are simple and read-only
    assert prof.bound(*args)[0].tolist() == [pytest.approx(10.0)]
    best = min(evaluate(w, a, m).energy_pj for m in map(ms.mapping, range(ms.size))
               if ms.is_legal(m))
    assert best == pytest.approx(10.0)
    for model in MODELS:
        check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=0)


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 2),
                              "P": st.integers(2, 4), "Q": st.integers(1, 2)}),
       st.sampled_from(MODELS))
def test_front_equals_brute_force_with_small_scratchpads(dims, model):
    """Every node above a single tiling bounded (``block=1``)."""
    try:
        ms = Mapspace(conv2d(**dims, R=1, S=1), small_spads(12))
    except Exception:  # a layer this architecture cannot map
        return
    if ms.pruned_size > 1_500:
        return
    check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=16)
