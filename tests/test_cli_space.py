"""``loopscape space``: sizes, JSON, Timeloop input, errors."""

import json
from pathlib import Path

from click.testing import CliRunner

from loopscape.cli.main import cli

EYERISS = Path(__file__).resolve().parent / "fixtures" / "timeloop" / "design_eyeriss_like"


def test_space_from_timeloop_reports_timeloops_factorization_count():
    r = CliRunner().invoke(cli, ["space", "--from-timeloop",
                                 str(EYERISS / "parsed-processed-input.yaml"), "--json",
                                 "--samples", "200"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["sizes"]["index_factorization"] == 2_041_200  # Timeloop's count for this case
    assert d["sizes"]["bypass"] == 1  # every keep choice is fixed by the constraints
    assert 0 < d["legal_fraction_estimate"] <= 1


def test_space_on_presets_prints_a_table():
    r = CliRunner().invoke(cli, ["space", "eyeriss_like", "resnet50_conv2_x_3x3",
                                 "--samples", "100"])
    assert r.exit_code == 0, r.output
    assert "index factorization" in r.output and "pruned" in r.output
    assert "legal fraction" in r.output


def test_space_argument_errors_are_clean():
    r = CliRunner().invoke(cli, ["space", "eyeriss_like"])
    assert r.exit_code == 2 and "expected ARCH WORKLOAD" in r.output


def test_space_with_our_constraints_file(tmp_path):
    # conv1d_ex04 (C32 K32 R3 P16) on simple_weight_stationary, with K, C and R kept
    # whole at DRAM: only P's splits remain, and an impossible factor is an error.
    path = tmp_path / "c.yaml"
    path.write_text("constraints:\n  levels:\n    - target: DRAM\n      temporal: {K: 32, C: 32, R: 3}\n")
    free = json.loads(CliRunner().invoke(cli, ["space", "simple_weight_stationary",
                                              "conv1d_ex04", "--json", "--samples", "0"]).output)
    r = CliRunner().invoke(cli, ["space", "simple_weight_stationary", "conv1d_ex04",
                                 "--constraints", str(path), "--json", "--samples", "0"])
    assert r.exit_code == 0, r.output
    fixed = json.loads(r.output)
    assert fixed["sizes"]["index_factorization"] < free["sizes"]["index_factorization"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("constraints:\n  levels:\n    - target: DRAM\n      temporal: {K: 5}\n")
    r = CliRunner().invoke(cli, ["space", "simple_weight_stationary", "conv1d_ex04",
                                 "--constraints", str(bad)])
    assert r.exit_code == 2 and "bad.yaml" in " ".join(r.output.split())
