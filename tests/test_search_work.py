"""An evaluation budget bounds optimal's bounding too: each proposal carries the work
spent to produce it (evaluation-equivalents, a deterministic count), charged against the
stream's share, so the result depends on the inputs, seed and budget, never on the
machine's speed (docs/search.md, "Evaluation budgets and strategy work")."""

import json
import types

from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal import search as optimal_search
from loopscape.mapper.strategies.optimal import warm
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

ARGS = (load_layer_preset("conv1d_ex04"), load_arch_preset("simple_weight_stationary"))


def _run(**kw):
    r = search(*ARGS, strategy="optimal", evaluations=800, seed=2, **kw)
    return ([(p.mapspace_id, tuple(p.objectives.values())) for p in r.front],
            r.stats.evaluated, r.stats.work, r.stats.gap, r.stats.stopped_by)


def _slow_clock(monkeypatch):
    """Every reading of optimal's clock is 5 s after the last: a machine so slow that
    each expansion overruns a 1 s slice."""
    now = [0.0]

    def perf_counter():
        now[0] += 5.0
        return now[0]
    fake = types.SimpleNamespace(perf_counter=perf_counter)
    monkeypatch.setattr(optimal_search, "time", fake)
    monkeypatch.setattr(warm, "time", fake)


def test_a_budget_gives_the_same_result_on_a_slow_machine_and_for_any_jobs(monkeypatch):
    fast = _run()
    front, evaluated, work, gap, stopped = fast
    # the 2.4e12-mapping space is far from done: the budget went mostly to bounding
    assert stopped == "evaluations" and work > evaluated > 0 and evaluated + work >= 800
    assert gap is not None and gap > 0
    assert _run(jobs=2) == fast
    _slow_clock(monkeypatch)
    assert _run() == fast  # before, asks were cut by time: counts and front changed


def test_work_is_reported_in_front_json_and_on_the_command_line(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "simple_weight_stationary", "conv1d_ex04",
                                 "--strategy", "optimal", "--budget", "800", "--seed", "2",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    stats = json.loads((out / "front.json").read_text())["stats"]
    assert (stats["evaluated"], stats["work"]) == _run()[1:3]
    assert f"bounding work {stats['work']:,} evaluation-equivalents" in " ".join(r.output.split())
    local = CliRunner().invoke(cli, ["search", "simple_weight_stationary", "conv1d_ex04",
                                     "--strategy", "local", "--budget", "800"])
    assert "bounding work" not in local.output  # local reports no work: all 800 scored


def test_a_share_spent_on_bounding_alone_still_scores_a_mapping():
    """A share of 2 per stream is spent by the first expansion of optimal's tree; each
    stream still goes on to its first leaves, so every stream has a front."""
    r = search(*ARGS, strategy="optimal", evaluations=8, seed=0)
    assert r.stats.work > 8 and r.stats.evaluated >= 4 and r.front
    assert r.stats.stopped_by == "evaluations"
