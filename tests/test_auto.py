"""``auto``, the default strategy: local for a share of the budget, then optimal seeded
with local's front (docs/search.md, "The default strategy"). Checked against brute force
on a small space, against optimal's own certified optimum on a stopped run, against
local alone where optimal cannot run, and for determinism across jobs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels.options import ModelOptions
from loopscape.mapper import search
from loopscape.mapper.strategies import auto as auto_module
from loopscape.mapper.strategies.auto import BUDGET_LOCAL_SHARE
from loopscape.mapper.strategy import make_strategy
from loopscape.spaces.constraints import NO_CONSTRAINTS
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.sparsity import Density, SparsitySpec

from test_optimal import EX05, _ex05, _ex05_small, brute_front

LINKS = ModelOptions()  # the default model: link transfers on


def _front(res) -> list:
    return [(p.mapspace_id, tuple(p.objectives.values())) for p in res.front]


def _ex05_open():
    """ex05's unconstrained space (263,360 pruned mappings: above optimal's warm-start
    rule, so auto runs local first), whose optimum optimal certifies in about a second."""
    w, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    return w, a


def test_default_strategy_is_auto():
    w, a, c = _ex05("ex05_mapper_conv1d_oc_3level_freebypass")
    res = search(w, a, c, evaluations=10_000)
    assert res.stats.strategy == "auto"
    assert res.stats.optimal is True and res.stats.gap == 0.0  # 64 mappings: walked at once
    assert res.stats.certificate["skipped_local"] is True


@pytest.mark.parametrize("force_local", [False, True])
def test_small_space_front_equals_brute_force_and_is_certified(monkeypatch, force_local):
    w, a = _ex05_small({"K": 4, "R": 3, "P": 1}, 4)
    ms = Mapspace(w, a)
    if force_local:  # the local-then-optimal path on a space small enough to brute force
        monkeypatch.setattr(auto_module, "worth_warming", lambda size, n: True)
    # 12,000 evaluations (3,072 pruned mappings): local scores 1,500 per stream (half,
    # set here: a budget's default gives local 0.8), and optimal completes within the rest
    # (its scores and bounding work)
    res = search(w, a, evaluations=12_000, seed=3, strategy_options={"local_share": 0.5})
    assert {p.mapspace_id: tuple(p.objectives.values()) for p in res.front} == \
        brute_front(ms, res.objectives, LINKS)  # values, and the lowest id of each
    s = res.stats
    assert s.optimal is True and s.gap == 0.0
    cert = s.certificate
    assert cert["skipped_local"] is not force_local
    assert (cert["local_evaluated"] > 0) is force_local
    assert len(cert["found_by"]) == len(res.front)


def test_stopped_run_merges_local_and_keeps_a_sound_gap():
    w, a = _ex05_open()
    budget = 400  # per stream 100: 80 for local (a budget's local share), 20 for optimal
    res = search(w, a, evaluations=budget, seed=1)
    s, cert = res.stats, res.stats.certificate
    local_part = 4 * int(BUDGET_LOCAL_SHARE * budget / 4)
    assert s.optimal is False and cert["local_evaluated"] == local_part == 320
    # local's share alone, same seed and streams: the same first part of every stream
    local = search(w, a, strategy="local", evaluations=local_part, seed=1)
    mine = res.values()
    for v in local.values():
        assert ((mine <= v).all(axis=1)).any()  # every local point is matched or beaten
    edp = [p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in res.front]
    assert cert["best"] == pytest.approx(min(edp))
    assert s.gap == pytest.approx(cert["best"] / cert["lower_bound"] - 1)
    # the bound is proven: optimal's certified optimum lies between it and the best
    exact = search(w, a, strategy="optimal", seconds=600)
    assert exact.stats.optimal is True
    true_min = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"]
                   for p in exact.front)
    assert cert["lower_bound"] <= true_min * (1 + 1e-12) <= cert["best"] * (1 + 1e-12)
    assert set(cert["found_by"]) <= {"local", "optimal"}


def test_enough_budget_certifies_after_local():
    w, a = _ex05_open()
    # 64,000 for local, 16,000 for optimal's scores and bounding work (it needs ~7,000)
    res = search(w, a, evaluations=80_000, seed=0)
    exact = search(w, a, strategy="optimal", seconds=600)
    assert res.stats.optimal is True and res.stats.gap == 0.0
    assert res.stats.certificate["local_evaluated"] > 0
    assert _front(res) == _front(exact)  # the exact front, ties at the lowest id


def test_sparse_space_falls_back_to_local_with_the_reason():
    w, a, c = _ex05("ex05_mapper_conv1d_oc_3level_freebypass")
    sp = SparsitySpec(((w.tensor_names[0], Density(density=0.5)),))
    res = search(w, a, c, evaluations=300, sparsity=sp)
    s = res.stats
    assert s.optimal is False and s.gap is None
    assert "sparse" in s.certificate["reason"]
    local = search(w, a, c, strategy="local", evaluations=300, sparsity=sp)
    assert _front(res) == _front(local)  # local with the whole budget


def test_imperfect_space_falls_back_to_local_with_the_reason():
    w, a, c = _ex05("ex05_mapper_conv1d_oc_3level_freebypass")
    c = dataclasses.replace(c or NO_CONSTRAINTS, imperfect=True)
    res = search(w, a, c, evaluations=400)
    assert res.stats.optimal is False and res.stats.gap is None
    assert "imperfect" in res.stats.certificate["reason"]
    assert _front(res) == _front(search(w, a, c, strategy="local", evaluations=400))


def test_same_seed_and_budget_same_front_for_any_jobs():
    w, a = _ex05_open()
    one = search(w, a, evaluations=6000, seed=5)
    again = search(w, a, evaluations=6000, seed=5)
    two = search(w, a, evaluations=6000, seed=5, jobs=2)
    assert _front(one) == _front(again) == _front(two)
    assert (one.stats.gap, one.stats.certificate["lower_bound"]) == \
        (two.stats.gap, two.stats.certificate["lower_bound"])


def test_local_share_option():
    with pytest.raises(SpecError, match="local_share"):
        make_strategy("auto", local_share=1.5)
    w, a = _ex05_open()
    res = search(w, a, evaluations=4000, strategy_options={"local_share": 0.25})
    assert res.stats.certificate["local_evaluated"] == 4 * 250


def test_optimal_incumbent_hook_keeps_the_exact_front():
    # seeded with points of the space (local's front), a completed walk is still exact
    w, a = _ex05_small({"K": 4, "R": 3, "P": 1}, 4)
    ms = Mapspace(w, a)
    seeds = search(w, a, strategy="local", evaluations=200).values()
    res = search(w, a, strategy="optimal", strategy_options={"incumbent": seeds.tolist()},
                 seconds=600)
    assert res.stats.optimal is True
    assert {p.mapspace_id: tuple(p.objectives.values()) for p in res.front} == \
        brute_front(ms, res.objectives, LINKS)


def test_cli_search_prints_the_certificate(tmp_path):
    runner = CliRunner()
    case = EX05 / "ex05_mapper_conv1d_oc_3level_freebypass"
    r = runner.invoke(cli, ["search", "--from-timeloop", str(case / "parsed-processed-input.yaml"),
                            str(case / "timeloop-mapper.ERT.yaml"), "--budget", "1000",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "(auto," in r.output and "optimal: the front is exact" in r.output
    stats = json.loads((tmp_path / "o" / "front.json").read_text())["stats"]
    assert stats["strategy"] == "auto" and stats["optimal"] is True and stats["gap"] == 0.0
    r = runner.invoke(cli, ["search", "eyeriss_like", "resnet50_conv2_x_3x3", "--budget",
                            "4000", "--constraints", "eyeriss_like_constraints"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "not optimal: min edp" in text and "% of optimal (proven lower bound" in text
    r = runner.invoke(cli, ["search", "simple_weight_stationary", "conv1d_ex04", "--budget",
                            "500", "--strategy", "local"])
    assert r.exit_code == 0 and "optimal" not in r.output  # a heuristic proves nothing


def test_cli_sweep_records_optimal_and_gap(tmp_path):
    pytest.importorskip("onnx")
    from test_sweep import _onnx_net
    model = tmp_path / "tiny.onnx"
    _onnx_net(model)
    r = CliRunner().invoke(cli, ["sweep", str(model), "--arch", "simple_weight_stationary",
                                 "--budget", "2000", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert s["settings"]["strategy"] == "auto"
    for v in s["searches"].values():
        assert isinstance(v["optimal"], bool)
        assert v["gap"] == 0.0 if v["optimal"] else v["gap"] > 0
    assert "optimal" in r.output and "certified optimal:" in r.output
    assert np.isfinite([v["gap"] for v in s["searches"].values()]).all()


def test_time_limit_holds_with_the_proof_running(monkeypatch):
    """A search's time counts from before the strategies' setup, and every stream (local's
    phase, optimal's asks) stops at the group's deadline: a 2 s search on a large space,
    four streams interleaved, ends within a few clock readings of its limit. The clock is
    a fake one that every reading moves on by 50 ms, so the test does not depend on the
    machine's speed or load (the real-clock version failed on a loaded machine). Counting
    the limit from after the strategies' setup (which reads the clock in optimal's warm
    start) ends optimal's run at 3.55 s on this clock instead of 2.25 s."""
    from types import SimpleNamespace

    from loopscape.mapper import streams as streams_module
    from loopscape.mapper.strategies.optimal import search as optimal_search
    from loopscape.mapper.strategies.optimal import warm
    from loopscape.spaces.presets import resolve_arch, resolve_workload

    now = [0.0]

    def perf_counter():
        now[0] += 0.05
        return now[0]
    fake = SimpleNamespace(perf_counter=perf_counter)
    for module in (streams_module, auto_module, optimal_search, warm):
        monkeypatch.setattr(module, "time", fake)
    a, w = resolve_arch("eyeriss_like"), resolve_workload("resnet50_conv2_x_3x3")
    for strategy in ("optimal", "auto"):
        now[0] = 0.0
        res = search(w, a, strategy=strategy, seconds=2.0, seed=0, streams=4)
        assert res.stats.stopped_by == "time" and res.stats.gap is not None
        # one reading per stream, plus auto's phase check, after the deadline
        assert 2.0 <= now[0] <= 2.0 + 10 * 0.05, (strategy, now[0])
    assert res.stats.certificate["local_evaluated"] > 0


def test_the_cli_line_of_a_stopped_search_whose_minimum_meets_its_bound():
    """Gap 0 but stopped: the minimum is proven, the front is not, and the line says
    both instead of "not optimal ... within 0 %" (hand-made certificates)."""
    from loopscape.mapper.strategies.optimal.certificate import describe_certificate

    cert = {"gap_objective": "edp", "best": 166.645, "lower_bound": 166.645, "evaluated": 3,
            "pruned": {"subtree_bound": 5}, "illegal": {"fanout": 2}}
    line = describe_certificate(False, 0.0, cert)
    assert line.startswith("not certified: min edp 166.645 is optimal (it reaches the "
                           "proven lower bound), but the search stopped before")
    assert line.endswith("3 evaluated, 5 removed by bounds (subtree_bound 5), 2 illegal")
    line = describe_certificate(False, 0.0106, dict(cert, lower_bound=164.889))
    assert line.startswith("not optimal: min edp 166.645 is within 1.06 % of optimal "
                           "(proven lower bound 164.889)")


def test_optimal_first_certifies_a_space_it_finishes_fast_without_local():
    """``first_share``: optimal runs first, without a warm start; on ex05 unconstrained
    (above the size at which local would run first) it finishes within its first share,
    so the front is certified with no local evaluation, and equals optimal's exact front
    (ties at the lowest id). With ``first_share=0`` local runs first, as before."""
    w, a = _ex05_open()
    res = search(w, a, seconds=60, seed=0, strategy_options={"first_share": 0.5,
                                                             "local_share": 0.5})
    assert res.stats.optimal is True and res.stats.certificate["local_evaluated"] == 0
    exact = search(w, a, strategy="optimal", seconds=600)
    assert _front(res) == _front(exact)
    old = search(w, a, evaluations=4000, seed=0, strategy_options={"first_share": 0.0})
    assert old.stats.certificate["local_evaluated"] == 4 * int(BUDGET_LOCAL_SHARE * 1000)


def test_first_share_must_leave_room_for_local():
    with pytest.raises(SpecError, match="first_share"):
        search(*_ex05_open(), evaluations=100, strategy_options={"first_share": 0.6})
    # local_share 1 alone is valid: the default first share shrinks to what is left (0)
    res = search(*_ex05_open(), evaluations=400, seed=0, strategy_options={"local_share": 1})
    assert res.stats.certificate["local_evaluated"] == 400


def test_a_time_limited_search_of_large_dimensions_starts_with_local():
    """Above FIRST_PHASE_ROWS factorization rows, optimal's setup (it reads every row)
    would come out of local's time, so under a time limit local runs first and optimal
    is not set up yet; with an explicit ``first_share``, or an evaluation budget, optimal
    still runs first."""
    from loopscape.mapper.strategies.auto import FIRST_PHASE_ROWS, AutoSearch
    from loopscape.mapper.strategies.base import SearchContext
    from loopscape.spaces.mapspace import Mapspace
    from loopscape.spaces.presets import resolve_arch, resolve_workload

    w, a = resolve_workload("bert_base_ffn1"), resolve_arch("tpu_like")
    space = Mapspace(w, a)
    assert sum(ds.size for ds in space.dim_spaces) > FIRST_PHASE_ROWS  # 81,814 rows

    def started(extra, budget=None, **options):
        s = AutoSearch(**options)
        s.setup(SearchContext(space, ("energy_pj", "cycles"), (), 0, budget=budget,
                              extra=extra))
        return s.phase, s.optimal is not None

    assert started({"seconds": 2.0}) == ("local", False)
    assert started({"seconds": 2.0}, first_share=0.1) == ("first", True)
    assert started({}, budget=4000) == ("first", True)
    small = Mapspace(resolve_workload("resnet50_conv2_x_3x3"), a)  # 3,039 rows
    assert sum(ds.size for ds in small.dim_spaces) <= FIRST_PHASE_ROWS
    s = AutoSearch()
    s.setup(SearchContext(small, ("energy_pj", "cycles"), (), 0, extra={"seconds": 2.0}))
    assert s.phase == "first"
