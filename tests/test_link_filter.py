"""The batched model's link pre-filter (costmodels/link_filter.py) flags every row where
the scalar model's link transfers change something: checked against the scalar analysis
on random problems, row-stationary problems where links are common, and rows sampled from
the Eyeriss-like mapspace (the batched model's other rows use the closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems

from loopscape.costmodels import ModelOptions
from loopscape.costmodels.link_filter import LinkFilter
from loopscape.costmodels.nest import analyze
from loopscape.costmodels.simulator import SCHEDULES, simulate
from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                              StorageLevel, einsum)
from loopscape.spaces.encoding import decode, encode
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints

from test_batched import assert_rows_match
from test_semantics import T3, row_stationary

OPTIONS = (ModelOptions(link_transfers=True),
           ModelOptions(semantics="timeloop-pre297", link_transfers=True))


def _uses_links(w, a, m, options) -> bool:
    return any(t.link_transfers for lvl in analyze(w, a, m, "timeloop", options).traffic
               for t in lvl.values())


def _check(w, a, mappings):
    batch = encode(w, a, mappings)
    used = {}
    for options in OPTIONS:
        flags = LinkFilter(w, a, options.keeps_stationary_translation).flags(batch)
        for r in range(len(batch)):
            m = decode(w, a, batch, r)
            used[options, r] = _uses_links(w, a, m, options)
            if used[options, r]:
                assert flags[r], (r, options)
    return used


@settings(max_examples=150, derandomize=True)
@given(problem=problems())
def test_filter_flags_every_random_problem_with_links(problem):
    _check(*problem[:2], [problem[2]])


@settings(max_examples=150, derandomize=True)
@given(problem=row_stationary())
def test_filter_flags_every_row_stationary_problem_with_links(problem):
    _check(*problem[:2], [problem[2]])


def test_row_stationary_hand_case_is_flagged_and_a_plain_one_is_not():
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": 3, "p": 4})
    a = Architecture("row", (StorageLevel("L0"), StorageLevel("L1", 3, 1, 3)),
                     ComputeLevel("MAC", 3, 1, 3))
    # p4 above r3 on Y, one-word registers: child r takes x[p + r] from child r + 1
    linked = Mapping((LevelMapping("L0", (Loop("p", 4),), (), (Loop("r", 3),), T3),
                      LevelMapping("L1", (), (), (), ("Inputs",))))
    # the registers hold the whole window over p: no temporal move above them
    plain = Mapping((LevelMapping("L0", (), (), (Loop("r", 3),), T3),
                     LevelMapping("L1", (Loop("p", 4),), (), (), ("Inputs",))))
    flags = LinkFilter(w, a, True).flags(encode(w, a, [linked, plain]))
    assert flags.tolist() == [True, False]
    assert _check(w, a, [linked, plain])[OPTIONS[0], 0]


@pytest.mark.parametrize("layer", ["eyeriss_default", "resnet50_conv2_x_3x3"])
def test_filter_on_sampled_eyeriss_rows(layer):
    w, a = load_layer_preset(layer), load_arch_preset("eyeriss_like")
    ms = Mapspace(w, a, resolve_constraints("eyeriss_like_constraints", w, a))
    mappings, batch = ms.sample_batch(150, seed=3)
    flags = LinkFilter(w, a, True).flags(batch)
    for r in range(len(batch)):
        if _uses_links(w, a, decode(w, a, batch, r), OPTIONS[0]):
            assert flags[r], r
    assert np.count_nonzero(flags) < len(batch) // 4  # most rows keep the closed forms


def test_batched_model_with_links_equals_scalar_on_sampled_eyeriss_rows():
    """Rows where links apply are scored in batch with the scalar link effects patched in."""
    w, a = load_layer_preset("resnet50_conv2_x_3x3"), load_arch_preset("eyeriss_like")
    ms = Mapspace(w, a, resolve_constraints("eyeriss_like_constraints", w, a))
    _, batch = ms.sample_batch(300, seed=5)
    for options in OPTIONS:
        flags = LinkFilter(w, a, options.keeps_stationary_translation).flags(batch)
        rows = np.nonzero(flags)[0].tolist()[:12] + [0, 1]
        mappings = [decode(w, a, batch, r) for r in rows]
        assert sum(_uses_links(w, a, m, options) for m in mappings) >= 3
        assert_rows_match(w, a, mappings, options)


@st.composite
def bypassing_children(draw):
    """Links at a fanout whose child level bypasses Inputs (a level below keeps them):
    conv1d with the window dim R (and C) on X, M on Y, P temporal above; the mesh may be
    wider than the X loops, so rows wrap and multicast groups split unevenly."""
    c, m, r, p = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 3)),
                  draw(st.integers(2, 4)))
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": c, "m": m, "r": r, "p": p})
    xs = draw(st.permutations([Loop("r", r)] + ([Loop("c", c)] if c > 1 else [])))
    ys = (Loop("m", m),) if m > 1 else ()
    nx, ny = r * c, m
    wx = nx + draw(st.integers(0, 3))
    wy = ny
    a = Architecture("byp", (StorageLevel("L0"), StorageLevel("L1", wx * wy, wx, wy),
                             StorageLevel("L2", wx * wy, wx, wy)),
                     ComputeLevel("MAC", wx * wy, wx, wy))
    mp = Mapping((LevelMapping("L0", (Loop("p", p),), tuple(xs), ys, T3),
                  LevelMapping("L1", (), (), (), ("Outputs",)),
                  LevelMapping("L2", (), (), (), ("Inputs", "Weights"))))
    return w, a, mp


@pytest.mark.parametrize("schedule", SCHEDULES)
@settings(max_examples=40, derandomize=True)
@given(problem=bypassing_children())
def test_links_under_bypassing_children_analytical_equals_simulator(problem, schedule):
    """Timeloop's rescaling of the parent's words where the children bypass the tensor:
    the analytical model against the brute-force simulator, and batched == scalar."""
    w, a, m = problem
    m = decode(w, a, encode(w, a, [m]), 0)
    for options in OPTIONS:
        sim = simulate(w, a, m, schedule, options)
        ana = analyze(w, a, m, schedule, options).traffic
        for i, level in enumerate(sim):
            for t, c in level.items():
                for f in ("reads", "fills", "updates"):
                    assert getattr(c, f) == getattr(ana[i][t], f), (i, t, f, options)
    if schedule == "timeloop":
        for options in OPTIONS:
            assert_rows_match(w, a, [m], options)
