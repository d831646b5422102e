"""The committed reference results are what their documented commands print today."""

import json
from pathlib import Path

from click.testing import CliRunner

from loopscape.cli.main import cli

RESULTS = Path(__file__).resolve().parent.parent / "results"


def test_eyeriss_default_result_is_current():
    r = CliRunner().invoke(cli, ["evaluate", "eyeriss_like", "eyeriss_default",
                                 "eyeriss_default_timeloop_best", "--json"])
    assert r.exit_code == 0, r.output
    committed = json.loads((RESULTS / "eyeriss_default_timeloop_best.json").read_text())
    assert json.loads(r.output) == committed
    # Independent check against Timeloop's statistics for this mapping.
    assert committed["cycles"] == 86016 and committed["utilization"] == 0.75
    assert abs(committed["energy_pj"] / (5469.65 * 10838016 / 1000) - 1) < 1e-6
