"""benchmarks/optimal_presets.py (issue 14's every-preset benchmark): its core function on
one tiny pair against a brute-force optimum from the ``exhaustive`` strategy, and its
verdict rule on hand-made numbers. Budgets are evaluation counts (no timed tests)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from loopscape.mapper import search
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "optimal_presets.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("optimal_presets", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny():
    """The conv1d preset cut to K2 (C, R, P = 1) on simple_weight_stationary: 1,024
    pruned mappings, every one scored by ``exhaustive``."""
    w = load_layer_preset("conv1d_ex04")
    w = dataclasses.replace(w, bounds=tuple(2 if d == "K" else 1 for d in w.dims))
    a = load_arch_preset("simple_weight_stationary")
    assert Mapspace(w, a).pruned_size == 1024
    brute = search(w, a, strategy="exhaustive", evaluations=10**6)
    assert brute.stats.stopped_by == "exhausted"
    best = min(p.objectives["energy_pj"] * p.objectives["cycles"] for p in brute.front)
    return w, a, best * 1e-12  # J*cycle


def test_tiny_pair_certified_optimum_equals_brute_force(bench, tiny):
    w, a, brute = tiny
    row = bench.compare_pair(w, a, evaluations=64, seeds=2, optimal_evaluations=10**6)
    assert row["skipped"] is None
    assert row["certified"] is True and row["gap"] == 0.0
    assert row["optimal_edp_j_cycles"] == pytest.approx(brute, rel=1e-12)
    for name in ("local", "random", "bayesian"):
        h = row["heuristics"][name]
        assert len(h["per_seed"]) == 2
        assert h["best_edp_j_cycles"] >= brute * (1 - 1e-12)  # nothing beats brute force
    assert row["verdict"] == "optimal <= all heuristics" and row["bug"] is False


def test_verdict_rule(bench, tiny):
    brute = tiny[2]
    # a certified optimum beaten: a bug, loudly
    text, bug = bench.verdict(brute, True, 0.0, {"local": brute / 2, "random": None})
    assert bug and text.startswith("BUG") and "local" in text
    # equal EDP (up to rounding) is not "better"
    assert bench.verdict(brute, True, 0.0, {"local": brute * (1 + 1e-13)}) == \
        ("optimal <= all heuristics", False)
    # stopped at 2x the optimum with gap 150 %: proven bound 0.8 x brute, so a heuristic
    # at the optimum may beat it
    text, bug = bench.verdict(2 * brute, False, 1.5, {"bayesian": brute})
    assert not bug and text.startswith("heuristic better (optimal not certified, gap 150.00 %)")
    # gap 50 %: proven bound 4/3 x brute; a heuristic at brute force's optimum is below it
    text, bug = bench.verdict(2 * brute, False, 0.5, {"random": brute})
    assert bug and "lower bound" in text
    # no mapping anywhere: a skip, not a bug
    assert bench.verdict(None, False, None, {"local": None}) == ("no legal mapping", False)


def certified_row(bench, workload, arch, heuristic_edp: float, verdict: str) -> dict:
    """A hand-made row of ``compare_pair`` (a certified optimum of 1 J*cycle, every
    heuristic at ``heuristic_edp``) for tests of ``main`` that must not search."""
    return {"layer": workload.name, "arch": arch.name, "skipped": None,
            "optimal_edp_j_cycles": 1.0, "certified": True, "gap": 0.0,
            "heuristics": {k: {"best_edp_j_cycles": heuristic_edp,
                               "per_seed": [heuristic_edp]} for k in bench.HEURISTICS},
            "verdict": verdict, "bug": verdict.startswith("BUG")}


def test_main_exits_nonzero_on_a_bug_and_writes_json(bench, tmp_path, monkeypatch, capsys):
    def fake(workload, arch, **kw):
        return certified_row(bench, workload, arch, 0.5,
                             "BUG: certified optimum 1 beaten by local (0.5)")

    monkeypatch.setattr(bench, "compare_pair", fake)
    out = tmp_path / "rows.json"
    code = bench.main(["--arch", "tpu_like", "--layer", "eyexam_conv1d", "--json", str(out)])
    assert code == 1
    assert "BUG" in capsys.readouterr().err
    rows = json.loads(out.read_text())["rows"]
    assert [(r["arch"], r["layer"]) for r in rows] == [("tpu_like", "eyexam_conv1d")]
    with pytest.raises(SystemExit):
        bench.main(["--arch", "no_such_arch"])


def test_json_is_written_after_every_pair_and_resume_runs_only_the_missing(
        bench, tmp_path, monkeypatch, capsys):
    calls = []

    def fake(workload, arch, **kw):
        calls.append((arch.name, workload.name))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is stopped during its second pair
        return certified_row(bench, workload, arch, 1.0, "optimal <= all heuristics")

    monkeypatch.setattr(bench, "compare_pair", fake)
    out = tmp_path / "rows.json"
    argv = ["--seconds", "2", "--arch", "tpu_like", "--layer", "eyexam_conv1d",
            "conv1d_ex04", "--json", str(out)]
    with pytest.raises(KeyboardInterrupt):
        bench.main(argv)
    kept = json.loads(out.read_text())
    first, second = calls
    assert kept["seconds"] == 2.0 and [r["layer"] for r in kept["rows"]] == [first[1]]
    calls.clear()
    assert bench.main(argv + ["--resume"]) == 0
    assert calls == [second]  # the kept pair is not run again
    rows = json.loads(out.read_text())["rows"]
    assert sorted(r["layer"] for r in rows) == ["conv1d_ex04", "eyexam_conv1d"]
    assert "(resumed)" in capsys.readouterr().out
    # other settings than the file's: refused, naming the key and both values
    with pytest.raises(SystemExit):
        bench.main(argv[:1] + ["3"] + argv[2:] + ["--resume"])
    err = capsys.readouterr().err
    assert "seconds = 2.0" in err and "3.0" in err
    with pytest.raises(SystemExit):  # --resume without --json
        bench.main(["--resume"])
