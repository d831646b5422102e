"""loopscape's cost model against Timeloop's own statistics on 15 reference cases.

Each case folder under ``tests/fixtures/timeloop/`` holds Timeloop's processed input,
the Accelergy ERT, the statistics it printed and (mapper cases) the best mapping it
found; ``expected.json`` holds the numbers read from the statistics by
``extract_expected.py``. Every case is imported with :func:`load_timeloop`, evaluated
with legality checks on, and compared level by level: access counts exactly, cycles
exactly, utilization to the printed precision, total energy within a relative 1e-6
(the worst case, design_eyeriss_like, agrees to 6.5e-7: the statistics print energies
rounded, and Accelergy's ERT values carry a few digits).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.spaces.io.timeloop import load_timeloop

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "timeloop"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _files(case: str) -> list[Path]:
    """Processed input and ERT; for mapper cases also the map.yaml (it fills mapping: [])."""
    d = FIXTURES / case
    return [d / "parsed-processed-input.yaml", *sorted(d.glob("*.ERT.yaml")),
            *sorted(d.glob("*.map.yaml"))]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    name = request.param
    spec = load_timeloop(_files(name))
    # check=True: the mapping must be legal on its architecture. (A mapper case's best
    # mapping may break that case's mapspace constraints; evaluate does not apply them.)
    # The reference outputs predate Timeloop PR #297; Timeloop had link transfers on.
    result = evaluate(spec.workload, spec.arch, spec.mapping, check=True,
                      options=ModelOptions(semantics="timeloop-pre297", link_transfers=True))
    expected = json.loads((FIXTURES / name / "expected.json").read_text())
    return name, spec, result, expected


def test_all_cases_present():
    assert len(CASES) == 15
    for c in CASES:
        assert (FIXTURES / c / "parsed-processed-input.yaml").is_file()
        assert len(list((FIXTURES / c).glob("*.ERT.yaml"))) == 1
        if c.startswith(("ex05_", "design_")):
            assert len(list((FIXTURES / c).glob("*.map.yaml"))) == 1


def test_access_counts_per_level_and_tensor(case):
    name, spec, result, expected = case
    for lv in expected["levels"]:
        got = result.level(lv["name"])
        assert set(got.tensors) == set(lv["tensors"]), f"{name} {lv['name']}: kept tensors"
        for tensor, want in lv["tensors"].items():
            s = got.tensors[tensor]
            where = f"{name} {lv['name']} {tensor}"
            assert s.reads == want["reads"], f"{where}: reads"
            assert s.fills == want["fills"], f"{where}: fills"
            assert s.updates == want["updates"], f"{where}: updates"
            assert s.tile_words == want["tile_words"], f"{where}: tile words"
            assert s.partition_words == want["partition_size"], f"{where}: partition"
            assert got.utilized_instances == want["utilized_instances"], f"{where}: instances"


def test_levels_timeloop_does_not_print_keep_nothing(case):
    """Timeloop leaves out dummy levels (and, in the design cases, levels that hold no
    data); loopscape must keep nothing there."""
    name, spec, result, expected = case
    printed = {lv["name"] for lv in expected["levels"]}
    for lvl in result.levels:
        if lvl.name not in printed:
            assert not lvl.tensors, f"{name} {lvl.name} keeps {sorted(lvl.tensors)}"


def test_cycles_and_utilization(case):
    name, spec, result, expected = case
    summary = expected["summary"]
    assert result.cycles == summary["cycles"]
    assert result.macs == summary["computes"] == expected["compute"]["computes"]
    assert result.utilized_pes == expected["compute"]["utilized_instances"]
    assert f"{100 * result.utilization:.2f}%" == summary["utilization_printed"]


def test_energy(case):
    name, spec, result, expected = case
    want = expected["summary"]["energy_pj"]
    assert result.energy_pj == pytest.approx(want, rel=1e-6)
    # Stats print energies with two decimals (pJ); the totals agree to that precision.
    assert result.compute_energy_pj == pytest.approx(expected["compute"]["energy_pj"], abs=0.01)
    for lv in expected["levels"]:
        got = result.level(lv["name"])
        assert got.leak_energy_pj == pytest.approx(lv["leakage_energy_pj"], abs=0.01)
        for tensor, want_t in lv["tensors"].items():
            assert got.tensors[tensor].energy_pj == pytest.approx(
                want_t["energy_pj"], abs=0.01, rel=1e-7), f"{name} {lv['name']} {tensor}"


def test_specs_match_timeloop(case):
    """Sizes, word bits, block sizes and instance counts as Timeloop read them."""
    name, spec, result, expected = case
    for lv in expected["levels"]:
        lvl = spec.arch.levels[spec.arch.index(lv["name"])]
        assert lvl.capacity_words == lv["size"], f"{name} {lv['name']}: size"
        assert lvl.word_bits == lv["word_bits"]
        assert lvl.block_size == lv["block_size"]
        assert lvl.instances == lv["instances"]
    assert spec.arch.compute.instances == expected["compute"]["instances"]


def test_expected_json_is_current():
    """expected.json is what extract_expected.py makes of the stats file today."""
    path = FIXTURES / "extract_expected.py"
    mod_spec = importlib.util.spec_from_file_location("_extract_expected", path)
    assert mod_spec is not None and mod_spec.loader is not None
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    for c in CASES:
        stored = json.loads((FIXTURES / c / "expected.json").read_text())
        stats = FIXTURES / c / stored["stats_file"]
        fresh = {"case": c, "stats_file": stats.name, **mod.parse_stats(stats.read_text())}
        assert json.loads(json.dumps(fresh)) == stored, c
