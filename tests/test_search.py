"""The search driver: true fronts on enumerable spaces, determinism, termination, plugins,
and the ``loopscape search`` files."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.mapper import search
from loopscape.mapper.strategy import Proposal, Strategy, make_strategy, register_strategy
from loopscape.spaces import SpecError, einsum
from loopscape.spaces.encoding import encode
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.mapspace import Mapspace

FIX = Path(__file__).resolve().parent / "fixtures" / "timeloop"


def _ex05_arch():
    d = FIX / "ex05_mapper_conv1d_oc_3level_null"
    return load_timeloop([d / "parsed-processed-input.yaml",
                          d / "timeloop-mapper.ERT.yaml"]).arch


SMALL = einsum("Outputs[k,p] += Weights[k,r] * Inputs[r+p]", {"k": 2, "r": 3, "p": 2},
               name="small_conv1d")


def _brute_front(w, a):
    """Energy/cycles front over EVERY id of the space, by a plain O(n^2) filter."""
    ms = Mapspace(w, a)
    maps = [ms.mapping(i) for i in range(ms.size)]
    legal = [m for m in maps if ms.is_legal(m)]
    r = BatchEvaluator(w, a)(encode(w, a, legal))
    pts = np.unique(np.stack([r.energy_pj, r.cycles.astype(float)], axis=1), axis=0)
    keep = [p for p in pts if not any((q <= p).all() and (q < p).any() for q in pts)]
    return {tuple(p) for p in keep}


def test_exhaustive_finds_the_true_front():
    a = _ex05_arch()
    result = search(SMALL, a, strategy="exhaustive", evaluations=10**6)
    assert result.stats.stopped_by == "exhausted"
    got = {(p.objectives["energy_pj"], p.objectives["cycles"]) for p in result.front}
    want = _brute_front(SMALL, a)
    assert {(round(e, 6), c) for e, c in got} == {(round(e, 6), c) for e, c in want}
    # Every front point's objectives are the scalar evaluator's for its mapping.
    for p in result.front:
        ev = evaluate(SMALL, a, p.mapping)
        assert ev.energy_pj == pytest.approx(p.objectives["energy_pj"], rel=1e-12)
        assert ev.cycles == p.objectives["cycles"]


def test_exhaustive_refuses_politely_when_the_space_exceeds_the_budget():
    with pytest.raises(SpecError) as e:
        search(SMALL, _ex05_arch(), strategy="exhaustive", evaluations=100)
    assert "more than the budget of 100" in str(e.value)


def test_same_seed_same_front_also_in_parallel():
    a = _ex05_arch()
    one = search(SMALL, a, strategy="random", evaluations=600, seed=7)
    two = search(SMALL, a, strategy="random", evaluations=600, seed=7)
    assert [p.mapspace_id for p in one.front] == [p.mapspace_id for p in two.front]
    assert one.stats.evaluated == 600
    p1 = search(SMALL, a, strategy="random", evaluations=600, seed=7, jobs=2)
    p2 = search(SMALL, a, strategy="random", evaluations=600, seed=7, jobs=2)
    assert [p.mapspace_id for p in p1.front] == [p.mapspace_id for p in p2.front]
    assert p1.stats.evaluated == 600 and p1.stats.jobs == 2
    # The job count only schedules the seeded streams: same seed and budget, same front.
    assert [p.mapspace_id for p in p1.front] == [p.mapspace_id for p in one.front]
    assert [p.objectives for p in p1.front] == [p.objectives for p in one.front]


@pytest.mark.parametrize("strategy", ["local", "random"])
def test_front_depends_on_seed_and_budget_not_on_jobs(strategy):
    a = _ex05_arch()
    runs = [search(SMALL, a, strategy=strategy, evaluations=2000, seed=11, jobs=j,
                   batch_size=256) for j in (1, 2, 3)]
    fronts = [[(p.mapspace_id, p.objectives["energy_pj"], p.objectives["cycles"])
               for p in r.front] for r in runs]
    assert fronts[0] == fronts[1] == fronts[2]
    assert all(r.stats.evaluated == 2000 for r in runs)
    other = search(SMALL, a, strategy="random", evaluations=2000, seed=12, batch_size=256)
    assert other.stats.evaluated == 2000  # another seed is another (valid) run


def test_termination_rules():
    a = _ex05_arch()
    by_time = search(SMALL, a, strategy="random", seconds=0.2, batch_size=64)
    assert by_time.stats.stopped_by == "time"
    by_patience = search(SMALL, a, strategy="random", evaluations=10**6, patience=300,
                         batch_size=50)
    assert by_patience.stats.stopped_by == "patience"
    assert by_patience.stats.evaluated < 10**6
    with pytest.raises(SpecError, match="budget or a time limit"):
        search(SMALL, a)
    with pytest.raises(SpecError, match="must be positive"):
        search(SMALL, a, evaluations=0)


class _Sloppy(Strategy):
    """A third-party strategy: proposes uniform ids, half of them illegal on purpose."""

    name = "sloppy_test_strategy"

    def __init__(self, every: int = 2):
        self.every = every

    def setup(self, ctx):
        super().setup(ctx)
        self.rng = np.random.default_rng(ctx.seed)

    def ask(self, n):
        space = self.ctx.space
        drawn = [m for _, m in space.sample(n, seed=int(self.rng.integers(1 << 30)))]
        return Proposal(encode(space.workload, space.arch, drawn), None, rejected=n // self.every)


def test_plugins_run_by_instance_and_by_name_and_invalid_never_stops_a_search():
    a = _ex05_arch()
    r = search(SMALL, a, strategy=_Sloppy(), evaluations=300, batch_size=100)
    assert r.stats.evaluated == 300 and r.stats.rejected == 150
    register_strategy(_Sloppy)
    r2 = search(SMALL, a, strategy="sloppy_test_strategy", strategy_options={"every": 3},
                evaluations=300, batch_size=100)
    # By name: 4 streams of 75 evaluations, one ask of 75 each, 75 // 3 = 25 rejected each.
    assert r2.stats.rejected == 4 * (75 // 3) and r2.front
    with pytest.raises(SpecError, match="unknown strategy"):
        make_strategy("no_such_strategy")
    with pytest.raises(SpecError, match="bad option"):
        make_strategy("sloppy_test_strategy", evry=2)


def test_cli_writes_front_and_mappings_that_evaluate_back(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "simple_weight_stationary", "conv1d_ex04",
                                 "--budget", "400", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "front.json").read_text())
    stats = data["stats"]  # the budget: mappings scored plus optimal's bounding work
    assert stats["evaluated"] > 0 and stats["evaluated"] + stats["work"] >= 400 and data["front"]
    first = data["front"][0]
    back = CliRunner().invoke(cli, ["evaluate", "simple_weight_stationary", "conv1d_ex04",
                                    str(out / first["mapping_file"]), "--json"])
    assert back.exit_code == 0, back.output
    ev = json.loads(back.output)
    assert ev["energy_pj"] == pytest.approx(first["objectives"]["energy_pj"], rel=1e-12)
    assert ev["cycles"] == first["objectives"]["cycles"]
    assert "Pareto front" in r.output


def test_cli_rejects_unknown_strategy_and_missing_budget():
    r = CliRunner().invoke(cli, ["search", "eyeriss_like", "eyeriss_default", "--strategy", "x",
                                 "--budget", "10"])
    assert r.exit_code == 2 and "unknown strategy" in r.output
    r = CliRunner().invoke(cli, ["search", "eyeriss_like", "eyeriss_default"])
    assert r.exit_code == 2 and "--budget" in r.output


def test_readme_main_command_runs():
    # The README's first command with an evaluation budget instead of 10 seconds.
    r = CliRunner().invoke(cli, ["search", "eyeriss_like", "resnet50_conv2_x_3x3",
                                 "--constraints", "eyeriss_like_constraints", "--budget", "20000"])
    assert r.exit_code == 0, r.output
    assert "Pareto front of resnet50_conv2_x_3x3 on eyeriss_like" in " ".join(r.output.split())


class _Barren(Strategy):
    """Proposes nothing legal, ever: the driver must give up, not hang."""

    name = "barren_test_strategy"

    def ask(self, n):
        space = self.ctx.space
        return Proposal(encode(space.workload, space.arch, []), None, rejected=n)


def test_a_strategy_that_never_proposes_anything_legal_does_not_hang():
    r = search(SMALL, _ex05_arch(), strategy=_Barren(), evaluations=1000)
    assert r.stats.stopped_by == "stalled" and r.stats.evaluated == 0 and not r.front
    assert r.stats.rejected == 1000 * 1000
