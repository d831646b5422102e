"""loopscape against Timeloop's own numbers on the feature cases in
tests/fixtures/timeloop_features (README there): PR #297 semantics both ways (set D),
clustered buffers (set C), and set B with link transfers off.

Every per-level count must be equal, cycles, computes and utilized PEs equal, the
utilization equal to Timeloop's two printed decimals, the energy within 0.5 %.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.presets import load_arch_preset

ROOT = Path(__file__).resolve().parent / "fixtures" / "timeloop_features"
PRE297 = ModelOptions(semantics="timeloop-pre297")
NOW = ModelOptions()


def _cases(s: str) -> list[str]:
    return sorted(p.name for p in (ROOT / s).iterdir() if (p / "expected.json").is_file())


@lru_cache(maxsize=None)
def _spec(s: str, case: str):
    d = ROOT / s / case
    return load_timeloop([d / f for f in ("arch.yaml", "problem.yaml", "ERT.yaml", "map.yaml")])


def _expected(s: str, case: str) -> dict:
    return json.loads((ROOT / s / case / "expected.json").read_text())


def _check(s: str, case: str, key: str, options: ModelOptions) -> None:
    want = _expected(s, case)[key]
    spec = _spec(s, case)
    got = evaluate(spec.workload, spec.arch, spec.mapping, options=options)
    assert got.options == options
    printed = {}
    for lv in want["levels"]:
        g = got.level(lv["name"])
        printed[lv["name"]] = set(lv["tensors"])
        for t, w in lv["tensors"].items():
            st = g.tensors[t]
            assert (st.reads, st.fills, st.updates, st.tile_words, st.partition_words,
                    g.utilized_instances) == (w["reads"], w["fills"], w["updates"],
                                              w["tile_words"], w["partition_size"],
                                              w["utilized_instances"]), (lv["name"], t)
    for g in got.levels:  # nothing kept where Timeloop keeps nothing
        assert set(g.tensors) <= printed.get(g.name, set()), g.name
    assert (got.cycles, got.macs, got.utilized_pes) == (
        want["cycles"], want["computes"], want["utilized_pes"])
    assert f"{100 * got.utilization:.2f}%" == want["utilization_printed"]
    assert got.energy_pj == pytest.approx(want["energy_pj"], rel=5e-3)


@pytest.mark.parametrize("case", _cases("D_master_pr297"))
def test_pr297_cases_both_ways(case):
    _check("D_master_pr297", case, "timeloop_revert297", PRE297)
    _check("D_master_pr297", case, "timeloop_master", NOW)


def test_pr297_cases_include_ones_where_the_semantics_differ():
    # Otherwise the test above could not tell the two semantics apart.
    differ = [c for c in _cases("D_master_pr297")
              if _expected("D_master_pr297", c)["timeloop_master"]["energy_pj"]
              != _expected("D_master_pr297", c)["timeloop_revert297"]["energy_pj"]]
    assert len(differ) >= 5


@pytest.mark.parametrize("case", _cases("C_clustered"))
def test_clustered_buffer_cases(case):
    _check("C_clustered", case, "timeloop_revert297", PRE297)


@pytest.mark.parametrize("case", _cases("B_link_transfers"))
def test_link_transfer_cases_without_link_transfers(case):
    _check("B_link_transfers", case, "timeloop_revert297_no_link_transfers",
           ModelOptions(semantics="timeloop-pre297", link_transfers=False))


def test_simba_like_preset_is_timeloops_design():
    """The preset equals the import of Timeloop's own simba_like files, level by level."""
    spec = _spec("C_clustered", _cases("C_clustered")[0])
    preset = load_arch_preset("simba_like")
    fields = ("name", "instances", "mesh_x", "mesh_y", "capacity_words", "word_bits",
              "block_size", "cluster_size", "read_energy_pj", "fill_energy_pj",
              "update_energy_pj", "leak_energy_pj", "dummy")
    assert len(spec.arch.levels) == len(preset.levels)
    for a, b in zip(spec.arch.levels, preset.levels):
        for f in fields:
            va, vb = getattr(a, f), getattr(b, f)
            if f.endswith("_pj"):
                assert va == pytest.approx(vb, rel=1e-9, abs=1e-12), (a.name, f)
            elif not (b.dummy and f in ("capacity_words", "word_bits", "block_size")):
                assert va == vb, (a.name, f)
    regs = preset.levels[preset.index("PEWeightRegs")]
    assert (regs.cluster_size, regs.block_size, regs.capacity_words) == (64, 1, 1)
    assert preset.compute.energy_pj == pytest.approx(spec.arch.compute.energy_pj)


LINKS_PRE297 = ModelOptions(semantics="timeloop-pre297", link_transfers=True)


@pytest.mark.parametrize("case", _cases("B_link_transfers"))
def test_link_transfer_cases(case):
    _check("B_link_transfers", case, "timeloop_revert297", LINKS_PRE297)
    spec = _spec("B_link_transfers", case)
    got = evaluate(spec.workload, spec.arch, spec.mapping, options=LINKS_PRE297)
    total = sum(s.link_transfers for lv in got.levels for s in lv.tensors.values())
    assert total == sum(_expected("B_link_transfers", case)["link_transfers_total"].values())


@pytest.mark.parametrize("case", _cases("B_link_transfers"))
def test_batched_link_transfers_equal_the_scalar_model(case):
    from loopscape.spaces.encoding import decode, encode
    from test_batched import assert_rows_match
    spec = _spec("B_link_transfers", case)
    w, a = spec.workload, spec.arch
    m = decode(w, a, encode(w, a, [spec.mapping]), 0)
    assert_rows_match(w, a, [m], LINKS_PRE297)
    assert_rows_match(w, a, [m], ModelOptions(link_transfers=True))
