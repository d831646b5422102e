"""Link transfers together with residual loops (costmodels/residual_links.py): a hand
count, the analytical model against the brute-force simulator on random small cases, and
the residual analysis against the perfect one (costmodels/links.py) on perfect mappings."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems
from test_residuals import residual_problems
from test_semantics import row_stationary

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.costmodels.link_filter import mapping_link_effects
from loopscape.costmodels.nest import analyze, loop_steps
from loopscape.costmodels.residual_links import delta_key, residual_link_effects
from loopscape.costmodels.residual_walk import ResidualNest
from loopscape.costmodels.simulator import simulate
from loopscape.spaces import Architecture, ComputeLevel, LevelMapping, Loop, Mapping, StorageLevel
from loopscape.spaces.residuals import covered
from loopscape.spaces.workload import einsum

FIELDS = ("tile_words", "partition_words", "reads", "fills", "updates")
LINKS = ModelOptions(link_transfers=True)
LINKS_PRE297 = ModelOptions(semantics="timeloop-pre297", link_transfers=True)
T3 = ("Weights", "Inputs", "Outputs")


def _row(p_outer: int, p_inner: int, p_last: int, r: int = 3):
    """Inputs[c, p + r]: L0 walks the outer p loop, Lm the inner one (with a residual) and
    fans r out on Y to one-word registers."""
    p = covered([Loop("p", p_outer), Loop("p", p_inner, p_last)])
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": r, "p": p})
    a = Architecture("row", (StorageLevel("L0"), StorageLevel("Lm"), StorageLevel("L1", r, 1, r)),
                     ComputeLevel("MAC", r, 1, r))
    m = Mapping((LevelMapping("L0", (Loop("p", p_outer),), (), (), T3),
                 LevelMapping("Lm", (Loop("p", p_inner, p_last),), (), (Loop("r", r),), T3),
                 LevelMapping("L1", (), (), (), ("Inputs",))))
    return w, a, m


def test_residual_link_transfers_by_hand():
    # p = 2 x + y over x < 3, y < 2 (1 on the last pass): p runs 0..4 in order. Child r needs
    # x[p + r] at visit p; from the second visit on, children r = 0, 1 take it from their
    # neighbour r + 1, which needed it one visit earlier. Lm serves 3 + 4 x 1 = 7 words
    # (15 without links), 2 x 4 = 8 words move over links. Each register: L0's 7 words
    # averaged over 3 registers plus the 8 link words averaged: floor(7/3 + 8/3) = 5 fills;
    # reads: one per MAC (5) plus round(8/3) = 3 peer reads.
    w, a, m = _row(3, 2, 1)
    assert m.imperfect and w.shape["p"] == 5
    for schedule in ("timeloop", "exact"):
        for options, l0, fills, reads, link in ((ModelOptions(link_transfers=False), 15, 5, 5, 0),
                                                (LINKS, 7, 5, 8, 8)):
            ana = analyze(w, a, m, schedule, options).traffic
            assert (ana[1]["Inputs"].reads, ana[2]["Inputs"].fills, ana[2]["Inputs"].reads,
                    ana[2]["Inputs"].link_transfers) == (l0, fills, reads, link), options
            if schedule == "exact":
                sim = simulate(w, a, m, schedule, options)
                assert (sim[1]["Inputs"].reads, sim[2]["Inputs"].fills,
                        sim[2]["Inputs"].reads) == (l0, fills, reads)
    ev = evaluate(w, a, m, options=LINKS)
    assert ev.to_dict()["levels"]["L1"]["Inputs"]["link_transfers"] == 8


def test_delta_key_names_equal_sets_alike():
    box = ((0, 0), (3, 3))
    # A slab cut off one end is a box; the same set from another pair has the same key.
    assert delta_key(box, ((0, 0), (3, 1))) == delta_key(((0, 2), (3, 5)), ((0, 4), (3, 5))) \
        == ("box", (0, 2), (3, 3))
    assert delta_key(box, box) == ()
    assert delta_key(box, None) == ("box",) + box
    assert delta_key(box, ((1, 1), (2, 2)))[0] == "cut"  # a hole: not a box


@st.composite
def residual_row_stationary(draw):
    """``row_stationary`` problems whose P loop is split in two above the fanout: the outer
    at L0, the inner (with a residual) at a new level Lm that holds the fanout. Links are
    common and every child runs alike."""
    w, a, m = draw(row_stationary())
    lm = m.levels[0]
    inner = draw(st.integers(2, 3))
    last = draw(st.integers(1, inner - 1))
    outer = draw(st.integers(2, 3))
    temporal = tuple(Loop("p", outer) if l.dim == "p" else l for l in lm.temporal)
    m2 = Mapping((dataclasses.replace(lm, temporal=temporal, spatial_x=(), spatial_y=()),
                  LevelMapping("Lm", (Loop("p", inner, last),), lm.spatial_x, lm.spatial_y,
                               draw(st.sampled_from([T3, ("Inputs",), ("Weights", "Outputs")]))),
                  m.levels[1]))
    a2 = dataclasses.replace(a, levels=(a.levels[0], StorageLevel("Lm")) + a.levels[1:])
    p = covered([Loop("p", outer), Loop("p", inner, last)])
    w2 = dataclasses.replace(w, bounds=tuple(p if d == "p" else b for d, b in w.shape.items()))
    return w2, a2, m2


def _assert_model_equals_simulator(w, a, m):
    for options in (LINKS, LINKS_PRE297):
        sim = simulate(w, a, m, "exact", options)
        ana = analyze(w, a, m, "exact", options).traffic
        for i, level in enumerate(sim):
            assert set(level) == set(ana[i])
            for t, c in level.items():
                fields = FIELDS if w.tensor(t).read_write else FIELDS[:1] + FIELDS[2:]
                for f in fields:
                    assert getattr(c, f) == getattr(ana[i][t], f), (i, t, f, options)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(problem=residual_row_stationary())
def test_model_matches_simulator_with_residual_loops_and_links(problem):
    _assert_model_equals_simulator(*problem)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(problem=residual_problems())
def test_model_matches_simulator_with_residual_loops_and_links_on_random_layers(problem):
    _assert_model_equals_simulator(*problem)


def _perfect_vs_residual(problem, schedule):
    w, a, m = problem
    for options in (LINKS, LINKS_PRE297):
        want = mapping_link_effects(w, a, m, options, schedule)
        rn = ResidualNest(m, w.dims, schedule, options.keeps_stationary_translation)
        utilized = [1]
        for lvl in loop_steps(m, w.dims)[:-1]:
            utilized.append(utilized[-1] * math.prod(f for _, f, _, sp in lvl if sp))
        assert residual_link_effects(w, a, m, rn, utilized) == want


@pytest.mark.parametrize("schedule", ["timeloop", "exact"])
@settings(max_examples=80, derandomize=True, deadline=None)
@given(problem=row_stationary())
def test_residual_walk_gives_the_perfect_link_effects_on_perfect_mappings(problem, schedule):
    """The visit-by-visit walk (residual_links) and the closed form of links.py agree
    wherever both apply; links are used in about a third of these draws."""
    _perfect_vs_residual(problem, schedule)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(problem=problems())
def test_residual_walk_gives_the_perfect_link_effects_on_random_layers(problem):
    _perfect_vs_residual(problem, "timeloop")


def test_spatial_residual_children_take_the_first_childs_shape():
    # R = 5 as r 2 (temporal, outer) x r 3 (spatial Y, 2 on the last pass), P = 4 temporal
    # inside r: child k of the fanout needs x[3 ro + k + p]. Timeloop's visits (ro, p):
    # (0, 0), (0, 1) x 3, (1, 0), (1, 1) x 3; the first child fetches x[0], x[1], then x[3]
    # (a new translation: the whole tile), x[4]; the others that delta moved by k.
    # (0, 1): children 0, 1 take x[1 + k] from child k + 1 (one column: neighbours k +- 1),
    #   child 2 from L0: 2 x 3 = 6 link words, L0 serves 3 words instead of 9.
    # (1, 0): only children 0, 1 run (residual), numbered 0, 1; nothing matches.
    # (1, 1): child 0 takes x[4] from child 1: 3 link words, L0 serves 3 instead of 6.
    # Link words 9; L0 serves 9 fewer. Each register: L0's words reaching children, over
    # the full fanout of 3, (3 + 3 + 2 + 3) / 3 = 11/3, plus the link words over the
    # 2 utilized registers (5/2 averaged, truncated: 2), 4.5: floor(8.17) = 8 fills and
    # round(4.5) = 5 more reads.
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": 5, "p": 4})
    a = Architecture("row", (StorageLevel("L0"), StorageLevel("L1", 3, 1, 3)),
                     ComputeLevel("MAC", 3, 1, 3))
    m = Mapping((LevelMapping("L0", (Loop("r", 2), Loop("p", 4)), (), (Loop("r", 3, 2),), T3),
                 LevelMapping("L1", (), (), (), ("Inputs",))))
    off = analyze(w, a, m, "timeloop", ModelOptions(link_transfers=False)).traffic
    on = analyze(w, a, m, "timeloop", LINKS).traffic
    assert on[1]["Inputs"].link_transfers == 9
    assert on[0]["Inputs"].reads == off[0]["Inputs"].reads - 9
    assert (on[1]["Inputs"].fills, on[1]["Inputs"].reads) == (8, off[1]["Inputs"].reads + 5)
