"""Rule C of the optimal strategy (docs/optimal.md, "Compulsory words of a sliding window
(rule C)"): the outermost level serves every element some MAC reads at least once (the
argument holds at every keeper, and that is checked too, but the bound uses only the
outermost level's term). The
touched count is checked against brute-force enumeration of the index space, the claim
itself against the model's reads and fills of every keeper on drawn mappings (both semantics, links on
and off, strides and dilations), the bounds with the rule against the model's energy,
the front against brute force, and a hand count where the rule raises the bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimal_checks import assert_admissible
from test_optimal import _ex05_small, check_exact
from test_optimal_links_floor import conv1d_registers, mini_eyeriss, row_stationary

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import SEMANTICS, ModelOptions
from loopscape.mapper.strategies.optimal.bounds import Bounder, without_unit_terms
from loopscape.mapper.strategies.optimal.compulsory import compulsory_words, touched_words
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import Tensor, Workload, conv2d, einsum

MODELS = [ModelOptions(semantics=s, link_transfers=links) for s in SEMANTICS
          for links in (False, True)]


def _brute_touched(tensor: Tensor, w: Workload) -> int:
    """The elements of ``tensor`` read by some point of the iteration space, enumerated."""
    ranges = [range(w.bound(d)) for d in w.dims]
    return len({tensor.offset(dict(zip(w.dims, pt)))
                for pt in itertools.product(*ranges)})


@pytest.mark.parametrize("expr, bounds, want", [
    ("O[p] += I[p+r] * W[r]", {"p": 4, "r": 3}, 6),  # a sliding window: P + R - 1
    ("O[p] += I[2*p+r] * W[r]", {"p": 4, "r": 2}, 8),  # stride 2, no hole: 0..7
    ("O[p] += I[3*p+r] * W[r]", {"p": 3, "r": 2}, 6),  # stride 3: holes at 2 and 5
    ("O[p] += I[p+2*r] * W[r]", {"p": 2, "r": 3}, 6),  # dilation 2: 0..5
    ("O[p] += I[p-r] * W[r]", {"p": 3, "r": 2}, 4),  # a negative coefficient: -1..2
    ("O[k,p] += I[p] * W[k]", {"k": 2, "p": 5}, 5),  # a simple tensor: its words
])
def test_touched_words_by_hand(expr, bounds, want):
    w = einsum(expr, bounds)
    t = w.tensors[w.tensor_names.index("I")]
    assert touched_words(t, w) == want == _brute_touched(t, w)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3),
       st.sampled_from([-3, -2, -1, 1, 2, 3]), st.integers(1, 3), st.booleans())
def test_touched_words_against_enumeration(p, r, q, a, b, c, shared):
    """Random coefficients and bounds: exact when the axes share no dimension, a lower
    bound when they do (``I[a*p + b*r, c*q + r]`` shares r)."""
    second = f"{c}*q+r" if shared else f"{c}*q"
    w = einsum(f"O[p,q] += I[{a}*p{b:+d}*r, {second}] * W[r]", {"p": p, "q": q, "r": r})
    w = without_unit_terms(w)
    t = w.tensors[w.tensor_names.index("I")]
    got, brute = touched_words(t, w), _brute_touched(t, w)
    assert got <= brute
    if not shared:
        assert got == brute


def _keepers_cover(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> int:
    """The claim of rule C on ``n`` drawn mappings: every keeper's reads of a read-only
    tensor, summed over its utilized instances, are at least its touched words, and so
    are its fills unless links can lower them (links on and a fanout right above it,
    rule L); every bound is admissible. Returns how many mappings keep some read-only
    tensor below the outermost level (the rule applies)."""
    w = without_unit_terms(ms.workload)
    comp = compulsory_words(w)
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, links=model.link_transfers)
    fans = [ms.arch.fanout(i) != (1, 1) for i in range(len(ms.arch.levels))]
    applied = 0
    for mid, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, ms.arch, m, options=model)
        for t, words in zip(w.tensors, comp):
            if t.read_write:
                continue
            keepers = [i for i, lm in enumerate(m.levels) if t.name in lm.keep]
            applied += len(keepers) > 1
            for j, k in enumerate(keepers):
                s, inst = ev.levels[k].tensors[t.name], ev.levels[k].utilized_instances
                assert s.reads * inst >= words, (mid, t.name, k, "reads", words)
                if j > 0 and not (model.link_transfers and fans[k - 1]):
                    assert s.fills * inst >= words, (mid, t.name, k, "fills", words)
        assert_admissible(ms, bd, st_, mid, ev)
    return applied


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_keepers_cover_the_touched_words(model):
    w = conv2d(C=2, M=2, P=6, Q=3, R=3, S=2)
    for ms in (Mapspace(w, mini_eyeriss(), row_stationary(w)), Mapspace(w, mini_eyeriss())):
        assert _keepers_cover(ms, model, 10, seed=3) > 0


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 2),
                              "P": st.integers(1, 5), "Q": st.integers(1, 3),
                              "R": st.integers(1, 3), "S": st.integers(1, 3)}),
       st.integers(1, 2), st.integers(1, 2), st.sampled_from(MODELS), st.booleans(),
       st.integers(0, 2**31))
def test_keepers_cover_random_layers(dims, stride, dilation, model, fan, seed):
    """Random strided and dilated convolutions on the mini Eyeriss (fanouts between the
    keepers) or ex05's architecture with 3 register files."""
    w = conv2d(**dims, stride=stride, dilation=dilation)
    a = mini_eyeriss(fx=2, fy=2)
    if not fan:
        w, a = _ex05_small({"K": dims["M"], "R": dims["R"], "P": dims["P"]}, 3)
    try:
        ms = Mapspace(w, a)
    except Exception:  # a layer this architecture cannot map
        return
    _keepers_cover(ms, model, 5, seed=seed)


def _conv1d_registers():
    """``conv1d_registers`` with only the outermost level's reads costing, and the global
    buffer bypassing Inputs."""
    return conv1d_registers(0, ("Weights", "Outputs"))


def test_rule_c_by_hand():
    """Hand count on ``_conv1d_registers``: each register holds one input word and steps
    through p = 0..3 with its r, so B7 says it receives its run's union, 4 words, and
    (no solo dimension: one multicast group) the outermost level serves at least 4. The
    inputs MACs read are p + r = 0..5: 6 words, which rule C charges. The model: 12
    reads without links (4 words x 3 registers), 6 with them (3 at the first visit, then
    one new word per P step, the others taken from a neighbour): with links the bound of
    the Inputs chain (MainMemory, RegisterFile) is exact."""
    w, a, m = _conv1d_registers()
    reads = {links: evaluate(w, a, m, options=ModelOptions(link_transfers=links))
             .levels[0].tensors["Inputs"].reads for links in (False, True)}
    assert reads == {False: 12, True: 6}
    ms = Mapspace(w, a)
    st_ = structure(ms)
    ti = w.tensor_names.index("Inputs")
    rows = st_.tiling_rows(ms.id(m))
    terms = {}
    for rule_c in (False, True):
        bd = Bounder(w, a, st_, links=True, compulsory=rule_c)
        pos = np.prod([bd.dims[di].pos[r] for di, r in enumerate(rows)], axis=0)[None]
        neg = np.prod([bd.dims[di].neg[r] for di, r in enumerate(rows)], axis=0)[None]
        ext = np.stack([bd.dims[di].ext[r] for di, r in enumerate(rows)], axis=1)[None]
        tem = np.stack([bd.dims[di].temporal[r] for di, r in enumerate(rows)], axis=1)[None]
        ce = bd.tiling_extents(tem, ext)
        terms[rule_c] = float(bd.chain_energy(ti, (0, 2), pos, neg, ce=ce)[0])
        # at the root (nothing assigned) the rule alone gives the 6 words
        root = float(bd.chain_energy(ti, (0, 2), *(x[None] for x in bd.relaxed(0)))[0])
        assert root == pytest.approx(6.0 if rule_c else 1.0)
    assert terms == {False: pytest.approx(4.0), True: pytest.approx(6.0)}


@pytest.mark.parametrize("semantics", SEMANTICS)
def test_front_with_rule_c_equals_brute_force(semantics):
    """Sliding windows on ex05's architecture with 3 register files, links on and off:
    every node above a single tiling bounded (block 1), the front exact."""
    for links in (False, True):
        model = ModelOptions(semantics=semantics, link_transfers=links)
        w, a = _ex05_small({"K": 1, "R": 3, "P": 3}, 3)
        check_exact(Mapspace(w, a), None, ("energy_pj", "cycles"), model, block=1,
                    warm_start=0)
