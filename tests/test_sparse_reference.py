"""The sparse model against Timeloop's own sparse statistics on 37 cases (Sparseloop
semantics): every access class per level and tensor exactly, computes and cycles exactly,
energy within 0.5 %. Fixtures: tests/fixtures/sparseloop (README there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.spaces.io.timeloop import load_timeloop
from loopscape.spaces.sparsity import SparsitySpec

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sparseloop"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


@pytest.fixture(scope="module", params=CASES)
def case(request):
    d = FIXTURES / request.param
    spec = load_timeloop([d / "input.yaml", d / "ERT.yaml", d / "map.yaml"])
    result = evaluate_sparse(spec.workload, spec.arch, spec.mapping,
                             spec.sparsity or SparsitySpec(), check=False)
    return request.param, result.to_dict(), json.loads((d / "expected.json").read_text())


def test_all_cases_present():
    assert len(CASES) == 37
    assert sum(c.startswith("ex_") for c in CASES) == 12


def test_totals(case):
    name, got, exp = case
    e = exp["expected"]
    assert got["cycles"] == e["cycles"], name
    assert got["energy_pj"] == pytest.approx(e["energy_pj"], rel=5e-3), name
    assert got["actual_computes"] == e["actual_computes"], name
    for k in ("gated_computes", "skipped_computes"):
        assert got[k] == e[k], f"{name} {k}"
    if e["algorithmic_computes"] is not None:
        assert got["algorithmic_computes"] == e["algorithmic_computes"], name


def test_every_access_class(case):
    name, got, exp = case
    for lv in exp["expected"]["levels"]:
        for ds, want in lv["data_spaces"].items():
            g = got["levels"][lv["name"]][ds]
            for what in ("reads", "fills", "updates"):
                assert g[what] == want[f"actual_{what}"], f"{name} {lv['name']} {ds} {what}"
                for cls in ("algorithmic", "actual", "gated", "skipped"):
                    key = f"{cls}_{what}"
                    assert g[key] == want[key], f"{name} {lv['name']} {ds} {key}"


def test_compressed_occupancy(case):
    name, got, exp = case
    for lv in exp["expected"]["levels"]:
        for ds, want in lv["data_spaces"].items():
            g = got["levels"][lv["name"]][ds]
            if "occupancy_words" in g:
                assert g["occupancy_words"] == want["max_data_occupancy"], \
                    f"{name} {lv['name']} {ds}"


DENSE = Path(__file__).resolve().parent / "fixtures" / "timeloop"


@pytest.mark.parametrize("name", sorted(p.name for p in DENSE.iterdir()
                                        if (p / "expected.json").is_file()))
def test_dense_spec_gives_todays_numbers(name):
    """The sparse path with no sparsity (and with densities 1 everywhere) reproduces the
    dense model on every dense Timeloop reference case."""
    from loopscape.costmodels import evaluate
    from loopscape.spaces.sparsity import Density
    d = DENSE / name
    spec = load_timeloop([d / "parsed-processed-input.yaml", *sorted(d.glob("*.ERT.yaml")),
                          *sorted(d.glob("*.map.yaml"))])
    dense = evaluate(spec.workload, spec.arch, spec.mapping).to_dict()
    for sp in (SparsitySpec(), SparsitySpec(tuple((t, Density("fixed_structured", 1.0))
                                                  for t in spec.workload.tensor_names))):
        got = evaluate_sparse(spec.workload, spec.arch, spec.mapping, sp).to_dict()
        assert got["energy_pj"] == pytest.approx(dense["energy_pj"], rel=1e-12)
        assert got["cycles"] == dense["cycles"]
        assert got["actual_computes"] == dense["macs"]
        for lname, lvl in dense["levels"].items():
            for t, s in lvl.items():
                if isinstance(s, dict):
                    for k in ("reads", "fills", "updates"):
                        assert got["levels"][lname][t][k] == s[k], f"{lname} {t} {k}"
                        assert got["levels"][lname][t][f"algorithmic_{k}"] == s[k]
