"""Residual loops (imperfect factorization): spec, coverage rule, model against the
brute-force simulator, the hand-checked example and Timeloop's set A.

Set A (tests/fixtures/timeloop_features/A_imperfect) holds Timeloop's numbers for 20
mappings with residual loops (PR #261 semantics, PR #297 reverted).
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import problems

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.costmodels.nest import analyze
from loopscape.costmodels.simulator import simulate
from loopscape.spaces import LevelMapping, Loop, Mapping
from loopscape.spaces.errors import MappingError, SpecError
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.residuals import covered, nest_order

ROOT = Path(__file__).resolve().parent / "fixtures" / "timeloop_features"
PRE297 = ModelOptions(semantics="timeloop-pre297")
FIELDS = ("tile_words", "partition_words", "reads", "fills", "updates")


def _load(d: Path):
    return load_timeloop([d / f for f in ("arch.yaml", "problem.yaml", "ERT.yaml", "map.yaml")])


# -- the coverage rule -------------------------------------------------------------------

def test_covered_counts_points_up_to_the_last_one():
    # README examples: P=14 as 4 over (4,2); P=56 as 4 / (4,2) / 4 (outermost first).
    assert covered([Loop("P", 4), Loop("P", 4, 2)]) == 14
    assert covered([Loop("P", 4), Loop("P", 4, 2), Loop("P", 4)]) == 56
    assert covered([Loop("P", 2), Loop("P", 4, 3)]) == 7
    assert covered([Loop("P", 3), Loop("P", 5)]) == 15  # perfect: the product


def test_a_residual_equal_to_the_factor_is_a_perfect_loop():
    assert Loop("P", 4, 4) == Loop("P", 4)
    assert not Loop("P", 4, 4).imperfect and Loop("P", 4, 3).imperfect


# -- the hand-checked example ----------------------------------------------------------

def test_hand_example_counts_and_timeloop_cycle_rule():
    """conv1d R=3 P=7; MainMemory P=2, Buffer R=3 P=(4,3), 1 MAC (README, worked by
    hand): 21 MACs in 24 cycles (product of ends), Inputs fills 6 + 3, Outputs updates
    4 + 3 to MainMemory, Buffer Outputs reads 21 - 7."""
    spec = _load(ROOT / "residual_example")
    ev = evaluate(spec.workload, spec.arch, spec.mapping, options=PRE297)
    buf, mem = ev.level("Buffer").tensors, ev.level("MainMemory").tensors
    assert (buf["Weights"].reads, buf["Weights"].fills) == (21, 3)
    assert (buf["Inputs"].reads, buf["Inputs"].fills, buf["Inputs"].tile_words) == (21, 9, 6)
    assert (buf["Outputs"].reads, buf["Outputs"].updates, buf["Outputs"].tile_words) == \
        (14, 21, 4)
    assert (mem["Weights"].reads, mem["Inputs"].reads, mem["Outputs"].updates) == (3, 9, 7)
    assert (ev.macs, ev.cycles, f"{ev.utilization:.4f}") == (21, 24, "0.8750")
    exact = evaluate(spec.workload, spec.arch, spec.mapping,
                     options=ModelOptions(semantics="timeloop-pre297", residual_cycles="exact"))
    assert (exact.macs, exact.cycles, exact.utilization) == (21, 21, 1.0)
    sim = simulate(spec.workload, spec.arch, spec.mapping, "exact", PRE297)
    assert (sim[1]["Inputs"].fills, sim[0]["Outputs"].updates) == (9, 7)


def test_timeloop_export_writes_end_comma_residual_and_reads_back():
    from loopscape.spaces.io.strict import Where
    from loopscape.spaces.io.timeloop.export import dump_timeloop_mapping
    from loopscape.spaces.io.timeloop.mapping import parse_mapping
    spec = _load(ROOT / "residual_example")
    entries = dump_timeloop_mapping(spec.mapping, spec.workload, spec.arch)["mapping"]
    buf = next(e for e in entries if e["target"] == "Buffer" and e["type"] == "temporal")
    assert "P=4,3" in buf["factors"].split()
    back = parse_mapping(entries, Where("map.yaml", "mapping"), spec.workload, spec.arch)
    assert back == spec.mapping


def test_yaml_residual_syntax_and_errors(tmp_path):
    from loopscape.spaces.io.yaml_mapping import dump_mapping_body, load_mapping_body
    from loopscape.spaces.io.strict import Where
    spec = _load(ROOT / "residual_example")
    body = dump_mapping_body(spec.mapping)
    assert body[1]["temporal"]["P"] == [4, 3]
    where = Where("m.yaml", "mapping")
    again = load_mapping_body(body, where, spec.workload, spec.arch)
    assert again == spec.mapping
    body[1]["temporal"]["P"] = [4, 2]  # covers 6, not 7
    with pytest.raises(SpecError, match="cover 6 points"):
        load_mapping_body(body, where, spec.workload, spec.arch)
    body[1]["temporal"]["P"] = [4, 5]
    with pytest.raises(SpecError, match="residual 5 exceeds the factor 4"):
        load_mapping_body(body, where, spec.workload, spec.arch)
    body[1]["temporal"]["P"] = [4, 3, 1]
    with pytest.raises(SpecError, match=r"\[factor, residual\]"):
        load_mapping_body(body, where, spec.workload, spec.arch)


def test_outermost_imperfect_loop_is_refused():
    spec = _load(ROOT / "residual_example")
    lv = spec.mapping.levels
    m = Mapping((dataclasses.replace(lv[0], temporal=()),
                 dataclasses.replace(lv[1], temporal=(Loop("R", 3), Loop("P", 8, 7)))))
    with pytest.raises(MappingError, match="outermost loop of P"):
        evaluate(spec.workload, spec.arch, m)


# -- analytical model == simulator ---------------------------------------------------------

@st.composite
def residual_problems(draw):
    """A random small problem whose mapping gets residuals on one or two loops of
    dimensions without spatial loops (so every instance of a level runs alike); the
    layer's bound becomes what the loops cover."""
    w, a, m = draw(problems(max_macs=1500))
    order = nest_order(m)
    spatial = {l.dim for _, l, sp in order if sp and l.factor > 1}
    cands = [d for d in w.dims if d not in spatial
             and sum(1 for _, l, _ in order if l.dim == d and l.factor > 1) >= 2]
    assume(cands)
    levels = [list(lm.temporal) for lm in m.levels]
    bounds = dict(w.shape)
    for d in draw(st.lists(st.sampled_from(cands), min_size=1, max_size=2, unique=True)):
        where = [(i, k) for i, lm in enumerate(levels) for k, l in enumerate(lm)
                 if l.dim == d and l.factor > 1]
        i, k = draw(st.sampled_from(where[1:]))  # never the outermost loop of d
        f = levels[i][k].factor
        levels[i][k] = Loop(d, f, draw(st.integers(1, f - 1)))
        m2 = Mapping(tuple(dataclasses.replace(lm, temporal=tuple(t))
                           for lm, t in zip(m.levels, levels)))
        bounds[d] = covered([l for _, l, _ in nest_order(m2) if l.dim == d and l.factor > 1])
    w2 = dataclasses.replace(w, bounds=tuple(bounds[d] for d in w.dims))
    return w2, a, m2


@pytest.mark.parametrize("semantics", ["timeloop", "timeloop-pre297"])
@settings(max_examples=60, derandomize=True, deadline=None)
@given(problem=residual_problems())
def test_model_matches_simulator_with_residual_loops(problem, semantics):
    w, a, m = problem
    assert m.imperfect
    opts = ModelOptions(semantics=semantics)
    sim = simulate(w, a, m, "exact", opts)
    ana = analyze(w, a, m, "exact", opts)
    for i, level in enumerate(sim):
        assert set(level) == set(ana.traffic[i])
        for t, c in level.items():
            fields = FIELDS if w.tensor(t).read_write else FIELDS[:1] + FIELDS[2:]
            for f in fields:
                assert getattr(c, f) == getattr(ana.traffic[i][t], f), (i, t, f)


# -- Timeloop set A ------------------------------------------------------------------------

A = ROOT / "A_imperfect"
CASES = sorted(p.name for p in A.iterdir() if (p / "expected.json").is_file())
# Every case of the set is reproduced exactly (counts, totals, energy within 0.5 %).
EXACT = set(CASES)


@lru_cache(maxsize=None)
def _a_spec(case: str):
    return _load(A / case)


def _mismatches(case: str) -> list[str]:
    want = json.loads((A / case / "expected.json").read_text())["timeloop_revert297"]
    spec = _a_spec(case)
    got = evaluate(spec.workload, spec.arch, spec.mapping, options=PRE297)
    out = []
    for lv in want["levels"]:
        g = got.level(lv["name"])
        for t, w in lv["tensors"].items():
            s = g.tensors.get(t)
            have = None if s is None else (s.reads, s.fills, s.updates, s.tile_words,
                                           s.partition_words, g.utilized_instances)
            need = (w["reads"], w["fills"], w["updates"], w["tile_words"],
                    w["partition_size"], w["utilized_instances"])
            if have != need:
                out.append(f"{lv['name']}.{t}: {have} != {need}")
    if (got.cycles, got.macs, got.utilized_pes) != (want["cycles"], want["computes"],
                                                    want["utilized_pes"]):
        out.append("totals")
    if f"{100 * got.utilization:.2f}%" != want["utilization_printed"]:
        out.append("utilization")
    if got.energy_pj != pytest.approx(want["energy_pj"], rel=5e-3):
        out.append("energy")
    return out


@pytest.mark.parametrize("case", sorted(EXACT))
def test_set_a_cases_equal_timeloop(case):
    assert _mismatches(case) == []


def test_set_a_holds_temporal_spatial_and_multiple_residuals():
    # The set covers what the model must handle (README of the shared reference).
    loops = [json.loads((A / c / "expected.json").read_text())["imperfect_loops"]
             for c in CASES]
    assert sum(any(x["type"] == "spatial" for x in ls) for ls in loops) >= 10
    assert sum(any(x["type"] == "temporal" for x in ls) for ls in loops) >= 5
    assert sum(len(ls) >= 2 for ls in loops) >= 5


def test_exact_schedule_refuses_walks_too_long_to_finish():
    spec = _a_spec("eyeriss_like__p56__h0")  # 322,560 visits above its innermost level
    with pytest.raises(SpecError, match="use the default schedule 'timeloop'"):
        evaluate(spec.workload, spec.arch, spec.mapping, schedule="exact", options=PRE297)


def test_map_txt_prints_residual_loops_as_timeloop_does():
    from loopscape.mapper import render_maptxt
    spec = _load(ROOT / "residual_example")
    text = render_maptxt(spec.workload, spec.arch, spec.mapping)
    assert "for P in [0:4,3)" in text and "for P in [0:2)" in text


def test_trim_to_bounds_turns_a_padded_mapping_into_residual_loops():
    from loopscape.spaces.residuals import trim_to_bounds
    spec = _load(ROOT / "residual_example")
    lv = spec.mapping.levels
    padded = Mapping((lv[0], dataclasses.replace(lv[1], temporal=(Loop("P", 4), Loop("R", 3)))))
    assert trim_to_bounds(padded, {"P": 7, "R": 3}) == spec.mapping  # P: 2 over (4, 3)
    # P = 5: last point 4 = digits (1, 0): outer 2, inner residual 1 -> 4 + 1 points
    trimmed = trim_to_bounds(padded, {"P": 5, "R": 3})
    assert [l for l in trimmed.levels[1].temporal if l.dim == "P"] == [Loop("P", 4, 1)]
    # P = 3: digits (0, 2): the outer loop collapses, the inner runs its residual 3
    trimmed = trim_to_bounds(padded, {"P": 3, "R": 3})
    assert trimmed.levels[0].temporal == ()
    assert [l for l in trimmed.levels[1].temporal if l.dim == "P"] == [Loop("P", 3)]


@st.composite
def spatial_residual_problems(draw):
    """A random small problem where a spatial loop below another loop of its dimension
    gets a residual (some instances idle on the last pass)."""
    w, a, m = draw(problems(max_macs=1500))
    order = nest_order(m)
    spots = [k for k, (_, l, sp) in enumerate(order) if sp and l.factor > 1
             and any(o.dim == l.dim and o.factor > 1 for _, o, _ in order[:k])]
    assume(spots)
    k = draw(st.sampled_from(spots))
    i, l, _ = order[k]
    r = draw(st.integers(1, l.factor - 1))
    lm = m.levels[i]
    swap = lambda loops: tuple(Loop(x.dim, x.factor, r) if x is l else x for x in loops)  # noqa: E731
    levels = list(m.levels)
    levels[i] = dataclasses.replace(lm, spatial_x=swap(lm.spatial_x), spatial_y=swap(lm.spatial_y))
    m2 = Mapping(tuple(levels))
    bound = covered([x for _, x, _ in nest_order(m2) if x.dim == l.dim and x.factor > 1])
    w2 = dataclasses.replace(w, bounds=tuple(bound if d == l.dim else b
                                             for d, b in w.shape.items()))
    return w2, a, m2


@settings(max_examples=40, derandomize=True, deadline=None)
@given(problem=spatial_residual_problems())
def test_instance_zero_tiles_and_fills_match_the_simulator_under_spatial_residuals(problem):
    """Under a spatial residual, instance 0 (never idle) fetches what the simulator walks
    for it, except where Timeloop averages a child's fills over the full fanout right
    above it; parents' reads follow Timeloop's sharing rule instead (not compared)."""
    w, a, m = problem
    sim = simulate(w, a, m, "exact", PRE297)
    ana = analyze(w, a, m, "exact", PRE297)
    averaged = {i + 1 for i, lm in enumerate(m.levels) if any(l.imperfect for l in lm.spatial)}
    for i, level in enumerate(sim):
        for t, c in level.items():
            got = ana.traffic[i][t]
            assert c.tile_words == got.tile_words, (i, t)
            if not w.tensor(t).read_write and i not in averaged:
                assert c.fills == got.fills, (i, t)
