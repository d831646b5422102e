"""The two Timeloop semantics (docs/semantics.md, "Stationary steps and PR #297") and
clustered buffers: the analytical model against the simulator and the batched model under
timeloop-pre297 (the default, current Timeloop, is covered by test_simulator.py and
test_batched*.py), hand counts, the options' errors, and the CLI switch."""

from __future__ import annotations

import dataclasses
import math
import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems

from loopscape.cli.main import cli
from loopscape.costmodels import ModelOptions, evaluate
from loopscape.costmodels.nest import analyze
from loopscape.costmodels.simulator import SCHEDULES, simulate
from loopscape.spaces.encoding import decode, encode
from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                              SpecError, StorageLevel, einsum)

from test_batched import assert_rows_match, priced

PRE297 = ModelOptions(semantics="timeloop-pre297")
FIELDS = ("tile_words", "reads", "fills", "updates")


@pytest.mark.parametrize("schedule", SCHEDULES)
@settings(max_examples=200, derandomize=True)
@given(problem=problems())
def test_pre297_analytical_model_matches_the_simulator(problem, schedule):
    w, a, m = problem
    sim = simulate(w, a, m, schedule, PRE297)
    ana = analyze(w, a, m, schedule, PRE297).traffic
    for i, level in enumerate(sim):
        assert set(level) == set(ana[i])
        for t, c in level.items():
            for f in FIELDS:
                assert getattr(c, f) == getattr(ana[i][t], f), (i, t, f)


@settings(max_examples=100, derandomize=True)
@given(problem=priced())
def test_pre297_batched_equals_scalar(problem):
    w, a, m = problem
    assert_rows_match(w, a, [m], PRE297)


def _conv1d(schedule_loops: str, p: int = 4):
    """Inputs[c, p + r] with M irrelevant to Inputs; L1 keeps Inputs under loops R (tile 3)."""
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 2, "r": 3, "p": p})
    a = Architecture("two", (StorageLevel("L0"), StorageLevel("L1")), ComputeLevel("MAC", 1, 1, 1))
    outer = tuple(Loop(tok[0], int(tok[1:])) for tok in schedule_loops.split())
    m = Mapping((LevelMapping("L0", outer, (), (), ("Weights", "Inputs", "Outputs")),
                 LevelMapping("L1", (Loop("r", 3),), (), (), ("Weights", "Inputs", "Outputs"))))
    return w, a, m


def test_m_inside_p_keeps_the_window_only_after_pr297():
    # L0 loops p4 then m2 (m innermost, irrelevant to Inputs). Visits (p, m), exact walk:
    # p0: 3 words, then m1 stationary. p1..p3 each move the window by 1.
    # After #297 the stationary visit keeps the remembered translation: 3 + 1 + 1 + 1 = 6.
    # Before #297 the stationary visit records translation 0, so every move changes the
    # translation and refetches the whole window: 4 x 3 = 12.
    w, a, m = _conv1d("p4 m2")
    for schedule in SCHEDULES:
        now = simulate(w, a, m, schedule)[1]["Inputs"].fills
        old = simulate(w, a, m, schedule, PRE297)[1]["Inputs"].fills
        assert (now, old) == (6, 12), schedule
        assert analyze(w, a, m, schedule).traffic[1]["Inputs"].fills == 6
        assert analyze(w, a, m, schedule, PRE297).traffic[1]["Inputs"].fills == 12


def test_without_the_pattern_both_semantics_agree():
    w, a, m = _conv1d("m2 p4")  # P innermost: no stationary step between window moves
    assert evaluate(w, a, m).to_dict() | {"semantics": None} == \
        evaluate(w, a, m, options=PRE297).to_dict() | {"semantics": None}


def test_cluster_energy_is_charged_per_utilized_cluster():
    # 8 register instances in clusters of 4 (2 clusters). Each instance reads one weight
    # per MAC: 6 reads and 6 fills of distinct weights (m spatial, c temporal).
    w = einsum("Outputs[m] += Weights[c,m] * Inputs[c]", {"c": 6, "m": 8})
    regs = StorageLevel("Regs", 8, 8, 1, capacity_words=1, cluster_size=4,
                        read_energy_pj=4.0, fill_energy_pj=2.0, update_energy_pj=2.0,
                        leak_energy_pj=0.5)
    a = Architecture("clustered", (StorageLevel("DRAM"), regs), ComputeLevel("MAC", 8, 8, 1, 0.0))

    def run(spatial: int):
        m = Mapping((LevelMapping("DRAM", (Loop("m", 8 // spatial), Loop("c", 6)),
                                  (Loop("m", spatial),), (), ("Weights", "Inputs", "Outputs")),
                     LevelMapping("Regs", (), (), (), ("Weights",))))
        return evaluate(w, a, m).level("Regs")

    full = run(8)  # 8 busy instances, 2 clusters: each array access costs 4.0 / 2 clusters
    assert (full.utilized_instances, full.utilized_clusters) == (8, 2)
    assert full.access_energy_pj == (6 * 4.0 + 6 * 2.0) * 2
    two = run(2)  # 2 busy instances, spread over both clusters: the full array cost each
    assert (two.utilized_instances, two.utilized_clusters) == (2, 2)
    assert two.access_energy_pj == (6 * 4.0 + 6 * 2.0) * 2 * 4  # m loop of 4 outside
    assert two.leak_energy_pj == 0.5 * two.cycles * 2  # leakage per busy instance


def test_cluster_size_must_divide_the_instances():
    with pytest.raises(SpecError, match="cluster_size"):
        Architecture("bad", (StorageLevel("DRAM"), StorageLevel("R", 6, 6, 1, cluster_size=4)),
                     ComputeLevel("MAC", 6, 6, 1, 0.0))


def test_options_errors_are_clear():
    with pytest.raises(SpecError, match="unknown semantics 'master'"):
        ModelOptions(semantics="master")
    with pytest.raises(SpecError, match="link_transfers must be true or false"):
        ModelOptions(link_transfers="yes")
    with pytest.raises(SpecError, match="ModelOptions"):
        evaluate(*_conv1d("p4 m2"), options={"semantics": "timeloop"})


def test_cli_switch_is_recorded():
    r = CliRunner().invoke(cli, ["evaluate", "eyeriss_like", "eyeriss_default",
                                 "eyeriss_default_timeloop_best", "--json",
                                 "--semantics", "timeloop-pre297", "--no-link-transfers"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["semantics"], d["link_transfers"]) == ("timeloop-pre297", False)
    r = CliRunner().invoke(cli, ["evaluate", "eyeriss_like", "eyeriss_default",
                                 "eyeriss_default_timeloop_best", "--semantics", "pre"])
    assert r.exit_code != 0 and "timeloop-pre297" in r.output


@settings(max_examples=60, derandomize=True)
@given(problem=priced(), data=st.data())
def test_batched_equals_scalar_with_clustered_levels(problem, data):
    """Random cluster sizes (divisors of each inner level's instance count)."""
    w, a, m = problem
    levels = [a.levels[0]] + [
        dataclasses.replace(l, cluster_size=data.draw(st.sampled_from(
            [k for k in range(1, l.instances + 1) if l.instances % k == 0])))
        for l in a.levels[1:]]
    a = dataclasses.replace(a, levels=tuple(levels))
    assert_rows_match(w, a, [m])
    assert_rows_match(w, a, [m], PRE297)


LINKS = ModelOptions(link_transfers=True)
LINKS_PRE297 = ModelOptions(semantics="timeloop-pre297", link_transfers=True)


@settings(max_examples=80, derandomize=True)
@given(problem=priced())
def test_batched_equals_scalar_with_link_transfers(problem):
    w, a, m = problem
    m = decode(w, a, encode(w, a, [m]), 0)  # spatial loops in the batch's (dimension) order
    assert_rows_match(w, a, [m], LINKS)
    assert_rows_match(w, a, [m], LINKS_PRE297)


@pytest.mark.parametrize("schedule", SCHEDULES)
@settings(max_examples=150, derandomize=True)
@given(problem=problems())
def test_link_transfers_analytical_model_matches_the_simulator(problem, schedule):
    w, a, m = problem
    for options in (LINKS, LINKS_PRE297):
        sim = simulate(w, a, m, schedule, options)
        ana = analyze(w, a, m, schedule, options).traffic
        for i, level in enumerate(sim):
            assert set(level) == set(ana[i])
            for t, c in level.items():
                for f in FIELDS:
                    assert getattr(c, f) == getattr(ana[i][t], f), (i, t, f, options)


def test_link_transfers_by_hand():
    # Inputs[c, p + r], C=1, M=1, R=3, P=4. L0 loops p4 and fans r3 out (Y) to three L1
    # registers of one word each. Child r needs x[p + r] at visit p; its neighbour r + 1
    # needed the same word at visit p - 1, so from the second visit on, children r = 0, 1
    # take it over the link and only r = 2 reads L0: L0 serves 3 + 3 x 1 = 6 words instead
    # of 12, 2 x 3 = 6 words move over links. Each register's fills: L0's words reach
    # children 6 times in all, 6 / 3 = 2 per register, plus the link words averaged over
    # the 3 registers (2): 4; its reads: one per MAC (4) plus those 2 peer reads.
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": 3, "p": 4})
    a = Architecture("row", (StorageLevel("L0"), StorageLevel("L1", 3, 1, 3)),
                     ComputeLevel("MAC", 3, 1, 3))
    m = Mapping((LevelMapping("L0", (Loop("p", 4),), (), (Loop("r", 3),),
                              ("Weights", "Inputs", "Outputs")),
                 LevelMapping("L1", (), (), (), ("Inputs",))))
    for schedule in SCHEDULES:
        for options, l0, fills, reads in ((ModelOptions(link_transfers=False), 12, 4, 4),
                                          (LINKS, 6, 4, 6)):
            sim = simulate(w, a, m, schedule, options)
            ana = analyze(w, a, m, schedule, options).traffic
            assert sim[0]["Inputs"].reads == ana[0]["Inputs"].reads == l0
            assert sim[1]["Inputs"].fills == ana[1]["Inputs"].fills == fills
            assert sim[1]["Inputs"].reads == ana[1]["Inputs"].reads == reads
        assert analyze(w, a, m, schedule, LINKS).traffic[1]["Inputs"].link_transfers == 6
    ev = evaluate(w, a, m, options=LINKS)
    assert ev.to_dict()["levels"]["L1"]["Inputs"]["link_transfers"] == 6


@st.composite
def row_stationary(draw):
    """Small row-stationary-like conv1d problems, where links are common: the window dim
    R (optionally x C) on the Y fanout of L0, P and the rest temporal above it, M on X."""
    c, m, r, p = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 3)),
                  draw(st.integers(2, 5)))
    stride = draw(st.sampled_from([1, 2]))
    w = einsum(f"Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+{stride}*p]" if stride > 1 else
               "Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]",
               {"c": c, "m": m, "r": r, "p": p})
    c_spatial = c > 1 and draw(st.booleans())
    m_spatial = m > 1 and draw(st.booleans())
    ys = (Loop("c", c), Loop("r", r)) if c_spatial else (Loop("r", r),)
    if draw(st.booleans()):
        ys = ys[::-1]
    xs = (Loop("m", m),) if m_spatial else ()
    temporal = [Loop("p", p)] + ([] if c_spatial or c == 1 else [Loop("c", c)]) + \
        ([] if m_spatial or m == 1 else [Loop("m", m)])
    temporal = draw(st.permutations(temporal))
    ny = math.prod(l.factor for l in ys)
    nx = math.prod(l.factor for l in xs)
    wx, wy = nx + draw(st.integers(0, 1)), ny + draw(st.integers(0, 1))  # spare PEs too
    keep1 = tuple(draw(st.sampled_from([("Inputs",), ("Inputs", "Weights"), T3])))
    a = Architecture("rs", (StorageLevel("L0"), StorageLevel("L1", wx * wy, wx, wy)),
                     ComputeLevel("MAC", wx * wy, wx, wy))
    mp = Mapping((LevelMapping("L0", tuple(temporal), xs, ys, T3),
                  LevelMapping("L1", (), (), (), keep1)))
    return w, a, mp


T3 = ("Weights", "Inputs", "Outputs")


@pytest.mark.parametrize("schedule", SCHEDULES)
@settings(max_examples=120, derandomize=True)
@given(problem=row_stationary())
def test_link_transfers_on_row_stationary_problems(problem, schedule):
    """analytical == simulator, and the batched model == scalar, where links are common."""
    w, a, m = problem
    for options in (LINKS, LINKS_PRE297):
        sim = simulate(w, a, m, schedule, options)
        ana = analyze(w, a, m, schedule, options).traffic
        for i, level in enumerate(sim):
            for t, c in level.items():
                for f in FIELDS:
                    assert getattr(c, f) == getattr(ana[i][t], f), (i, t, f, options)
    if schedule == "timeloop":
        d = decode(w, a, encode(w, a, [m]), 0)
        assert_rows_match(w, a, [d], LINKS)
