"""``loopscape evaluate``: the JSON contract, the rich table, and clean errors."""

import json
from pathlib import Path

from click.testing import CliRunner

from loopscape.cli.main import cli

EX04 = Path(__file__).resolve().parent / "fixtures" / "timeloop" / "ex04_conv1d_oc_ic_3levelspatial_kp"
TL_FILES = [str(EX04 / "parsed-processed-input.yaml"), str(EX04 / "timeloop-model.ERT.yaml")]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_contract_from_timeloop_files():
    r = run("evaluate", "--from-timeloop", *TL_FILES, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    for key in ("energy_pj", "cycles", "utilization", "macs", "levels"):
        assert key in d
    # Values from Timeloop's own statistics for this case (tests/fixtures/timeloop/ex04_conv1d_oc_ic_3levelspatial_kp, timeloop-model.stats.txt).
    assert d["cycles"] == 3072 and d["macs"] == 49152 and d["utilization"] == 1.0
    assert abs(d["energy_pj"] - 14664.63 * 49152 / 1000) / d["energy_pj"] < 1e-6
    rf = d["levels"]["RegisterFile"]
    assert rf["Inputs"] == {**rf["Inputs"], "reads": 3072, "fills": 1152, "updates": 0,
                            "tile_words": 16}
    assert rf["Outputs"]["reads"] == 3040 and rf["Outputs"]["fills"] == 992
    assert "energy_pj" in d["levels"]["GlobalBuffer"]
    assert d["levels"]["MainMemory"]["Weights"]["reads"] == 3072


def test_table_output_mentions_levels_and_totals():
    r = run("evaluate", "--from-timeloop", *TL_FILES)
    assert r.exit_code == 0, r.output
    for text in ("RegisterFile", "GlobalBuffer", "MainMemory", "cycles", "3,072", "energy_pj",
                 "lower bounds"):
        assert text in r.output


def test_missing_mapping_is_a_clear_error(tmp_path):
    src = (EX04 / "parsed-processed-input.yaml").read_text()
    bare = tmp_path / "input.yaml"
    bare.write_text(src.replace("mapping:\n", "ignored_mapping:\n", 1))
    r = CliRunner().invoke(cli, ["evaluate", "--from-timeloop", str(bare), TL_FILES[1]])
    assert r.exit_code == 2
    assert "Traceback" not in r.output


def test_wrong_argument_count_is_a_clear_error():
    r = CliRunner().invoke(cli, ["evaluate", "eyeriss_like"])
    assert r.exit_code == 2
    assert "expected ARCH WORKLOAD MAPPING" in r.output


def test_overflowing_mapping_names_file_level_and_fix(tmp_path):
    from loopscape.spaces.presets import preset_path
    text = preset_path("eyeriss_default_timeloop_best", "mapping").read_text()
    # Move DRAM's M4 into the 16-word psum scratchpad: 32 partial sums no longer fit.
    text = text.replace("temporal: {P: 8, Q: 2, M: 4}", "temporal: {P: 8, Q: 2}")
    text = text.replace("temporal: {M: 8}", "temporal: {M: 32}")
    path = tmp_path / "overflow.yaml"
    path.write_text(text)
    r = CliRunner().invoke(cli, ["evaluate", "eyeriss_like", "eyeriss_default", str(path)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    out = " ".join(r.output.split())
    assert "overflow.yaml" in out and "psum_spad" in out and "512 bits" in out
    assert "--no-check" in out
    ok = CliRunner().invoke(cli, ["evaluate", "eyeriss_like", "eyeriss_default", str(path),
                                  "--no-check", "--json"])
    assert ok.exit_code == 0, ok.output


def test_readme_main_command_on_presets():
    r = run("evaluate", "eyeriss_like", "eyeriss_default", "eyeriss_default_timeloop_best",
            "--json")
    d = json.loads(r.output)
    assert d["cycles"] == 86016 and d["utilization"] == 0.75
