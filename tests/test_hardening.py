"""Hostile inputs: every case ends in our clean error (or the right result), never a
traceback, a hang or an overflow. The limits are those of docs/limits.md."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.mapper import search
from loopscape.spaces import conv2d
from loopscape.spaces.arch import StorageLevel
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_arch, load_workload
from loopscape.spaces.io.timeloop import load_timeloop
from loopscape.spaces.limits import LIMITS, MAX_BOUND
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

FIX = Path(__file__).resolve().parent / "fixtures" / "timeloop"

CONV = """\
layer:
  name: c
  type: conv2d
  C: {C}
  M: 8
  P: 4
  Q: 4
  R: 3
  S: 3
  stride: {stride}
"""

ARCH = """\
architecture:
  name: two
  levels:
    - name: DRAM
      word_bits: {word_bits}
      energy_pj: {{read: 100, fill: 100, update: 100}}
    - name: Buffer
      capacity_words: {cap}
      word_bits: 8
      energy_pj: {{read: 1.5, fill: 1.5, update: 1.5}}
      bandwidth: {{read: {bw}}}
  compute:
    name: MAC
    mesh: [4, 1]
    energy_pj: 0.2
"""


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _conv(tmp_path, C=8, stride=1):
    return _write(tmp_path, CONV.format(C=C, stride=stride), "layer.yaml")


def _arch(tmp_path, word_bits=8, cap=1024, bw=4):
    return _write(tmp_path, ARCH.format(word_bits=word_bits, cap=cap, bw=bw), "arch.yaml")


def _error(fn, *args) -> str:
    with pytest.raises(SpecError) as e:
        fn(*args)
    return str(e.value)


# -- limits -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [10 ** 30, 2 ** 31, MAX_BOUND + 1])
def test_a_huge_bound_is_refused_at_load_time_naming_file_key_value_limit(tmp_path, value):
    path = _conv(tmp_path, C=value)
    t0 = time.perf_counter()
    msg = _error(load_workload, path)
    assert time.perf_counter() - t0 < 1.0  # no trial division over 10**15 candidates
    assert str(path) in msg and "layer.C" in msg and str(value) in msg
    assert "2**31 - 1" in msg and "docs/limits.md" in msg


def test_the_largest_allowed_bound_loads_and_its_space_is_sized_quickly(tmp_path):
    w = load_workload(_conv(tmp_path, C=MAX_BOUND))  # 2**31 - 1 is prime
    a = load_arch_preset("simple_weight_stationary")
    t0 = time.perf_counter()
    sizes = Mapspace(w, a).sizes()
    assert time.perf_counter() - t0 < 2.0
    assert sizes["total"] > 0


@pytest.mark.parametrize("stride", [10 ** 30, 2 ** 16 + 1])
def test_stride_beyond_the_limit(tmp_path, stride):
    msg = _error(load_workload, _conv(tmp_path, stride=stride))
    assert "layer.stride" in msg and "2**16" in msg


def test_total_macs_and_tensor_words_are_limited_in_python_too():
    with pytest.raises(SpecError, match="2\\*\\*48 on total MACs"):
        conv2d(C=2 ** 20, M=2 ** 20, P=2 ** 10, Q=1, R=1, S=1)
    with pytest.raises(SpecError, match="2\\*\\*16"):
        conv2d(C=3, M=4, P=5, Q=5, R=3, S=3, dilation=2 ** 17)
    with pytest.raises(SpecError, match="2\\*\\*31 - 1 on a dimension bound"):
        conv2d(C=2 ** 31, M=1, P=1, Q=1, R=1, S=1)


@pytest.mark.parametrize("field,value,limit", [
    ("cap", 10 ** 30, "2**48"), ("cap", 2 ** 48 + 1, "2**48"),
    ("word_bits", 2 ** 62, "1024"), ("word_bits", 1025, "1024"),
    ("bw", 1e-9, "2**-10"), ("bw", 1e30, "2**48")])
def test_architecture_values_beyond_their_limits(tmp_path, field, value, limit):
    path = _arch(tmp_path, **{field: value})
    msg = _error(load_arch, path)
    assert str(path) in msg and limit in msg and "docs/limits.md" in msg


@pytest.mark.parametrize("value", [".inf", ".nan", "-1"])
def test_energies_must_be_finite_and_non_negative(tmp_path, value):
    text = ARCH.format(word_bits=8, cap=1024, bw=4).replace("read: 1.5", f"read: {value}")
    msg = _error(load_arch, _write(tmp_path, text))
    assert "energy_pj.read" in msg


def test_python_constructors_check_the_same_limits():
    base = load_arch_preset("simple_weight_stationary")
    for kw, pat in (({"capacity_words": 10 ** 30}, "2\\*\\*48"), ({"word_bits": 2 ** 62}, "1024"),
                    ({"read_energy_pj": float("nan")}, "finite"),
                    ({"read_bandwidth": float("inf")}, "finite")):
        lvl = StorageLevel(**{**base.levels[-1].__dict__, **kw})
        with pytest.raises(SpecError, match=pat):
            type(base)(base.name, base.levels[:-1] + (lvl,), base.compute)


def test_timeloop_reader_checks_the_limits(tmp_path):
    src = (FIX / "ex00_conv1d_1level" / "parsed-processed-input.yaml").read_text()
    bad = re.sub(r"(\n\s+P: )16\n", r"\g<1>1000000000000000000000000000000\n", src, count=1)
    assert bad != src
    p = _write(tmp_path, bad, "input.yaml")
    msg = _error(load_timeloop, [p, FIX / "ex00_conv1d_1level" / "timeloop-model.ERT.yaml"])
    assert str(p) in msg and "2**31 - 1" in msg


def test_the_limits_keep_int64_arithmetic_exact_at_their_extremes():
    # The largest capacity in bits and a large layer: the vectorized legality and the
    # scalar evaluator agree (word_bits 2**62 once let the vectorized check accept a
    # mapping the scalar one rejected).
    w = conv2d(C=2 ** 10, M=2 ** 10, P=2 ** 8, Q=2 ** 8, R=3, S=3, name="big")
    a = load_arch_preset("simple_weight_stationary")
    lv = a.levels[-1]
    big = StorageLevel(**{**lv.__dict__, "capacity_words": 2 ** 48, "word_bits": 1024})
    a2 = type(a)(a.name, a.levels[:-1] + (big,), a.compute)
    r = search(w, a2, strategy="local", evaluations=800, seed=0, batch_size=200)
    assert r.front
    for p in r.front:
        ev = evaluate(w, a2, p.mapping, check=True)
        assert ev.cycles == p.objectives["cycles"] > 0
        assert np.isfinite(ev.energy_pj) and ev.energy_pj > 0


# -- YAML aliases --------------------------------------------------------------------------

LAUGHS = "\n".join([f'{chr(97)}: &{chr(97)} ["lol","lol","lol","lol","lol","lol","lol","lol"]']
                   + [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]"
                      for i in range(1, 9)]) + "\n"


def test_billion_laughs_is_refused_quickly(tmp_path):
    p = _write(tmp_path, LAUGHS)
    assert p.stat().st_size < 500
    t0 = time.perf_counter()
    msg = _error(load_workload, p)
    assert time.perf_counter() - t0 < 1.0
    assert str(p) in msg and "aliases" in msg and "1,000,000" in msg


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [[1, [*a]]]\n"])
def test_self_referencing_alias_is_a_clean_error(tmp_path, text):
    msg = _error(load_arch, _write(tmp_path, text))
    assert "refers to the map or list that contains it" in msg


def test_deep_nesting_is_a_clean_error(tmp_path):
    msg = _error(load_arch, _write(tmp_path, "a: " + "[" * 3000 + "]" * 3000 + "\n"))
    assert "nests" in msg


def test_small_aliases_still_work(tmp_path):
    text = ARCH.format(word_bits=8, cap=1024, bw=4).replace(
        "energy_pj: {read: 100, fill: 100, update: 100}",
        "energy_pj: &dram {read: 100, fill: 100, update: 100}")
    a = load_arch(_write(tmp_path, text))
    assert a.levels[0].read_energy_pj == 100


# -- command line ---------------------------------------------------------------------------

def _run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("args", [
    ("space", "eyeriss_like", "conv1d_ex04", "--samples", "-1"),
    ("space", "eyeriss_like", "conv1d_ex04", "--seed", "-3"),
    ("search", "eyeriss_like", "conv1d_ex04", "--budget", "0"),
    ("search", "eyeriss_like", "conv1d_ex04", "--time", "-1"),
    ("search", "eyeriss_like", "conv1d_ex04", "--budget", "10", "--jobs", "0"),
    ("search", "eyeriss_like", "conv1d_ex04", "--budget", "10", "--patience", "0"),
    ("eyexam", "eyeriss_like", "conv1d_ex04", "--budget", "-5"),
    ("sweep", "resnet18", "--arch", "eyeriss_like", "--out", "x", "--budget", "0"),
])
def test_numeric_options_are_range_checked(args):
    r = _run(*args)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: --"), r.output
    assert "is not an integer" in r.output or "is not a number" in r.output


def test_search_out_through_a_file_fails_before_searching(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    t0 = time.perf_counter()
    r = _run("search", "eyeriss_like", "resnet50_conv2_x_3x3", "--time", "30",
             "--out", str(afile / "x"))
    assert time.perf_counter() - t0 < 10  # not after a 30 s search
    assert r.exit_code == 2 and f"{afile} is a file" in r.output and "--out" in r.output


def test_sweep_out_that_is_a_file_fails_before_work(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = _run("sweep", "resnet18", "--arch", "eyeriss_like", "--out", str(afile / "x"))
    assert r.exit_code == 2 and f"{afile} is a file" in r.output and "--out" in r.output
    r = _run("sweep", "resnet18", "--arch", "eyeriss_like", "--out", str(afile))
    assert r.exit_code == 2 and "is a file" in r.output


def test_eyexam_plot_into_a_missing_directory_fails_before_work(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "no" / "such" / "x.png"
    r = _run("eyexam", "eyeriss_like", "conv1d_ex04", "--plot", str(target))
    assert r.exit_code == 2 and "does not exist" in r.output and "mkdir -p" in r.output


def test_output_file_check_accepts_an_existing_file_and_names_a_read_only_directory(
        tmp_path):
    # A second run may reuse the first run's file name (it is replaced); before, the
    # existing file was taken for a parent directory that "is a file".
    from loopscape.cli.outputs import check_output_file
    done = tmp_path / "plot.png"
    done.write_bytes(b"first run")
    assert check_output_file(done, "--plot") == done
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        (ro / "plot.png").write_bytes(b"x")
        ro.chmod(0o500)
        try:
            with pytest.raises(SpecError, match="not writable"):
                check_output_file(ro / "plot.png", "--plot")
        finally:
            ro.chmod(0o700)


def test_a_finished_search_is_rescued_when_its_output_cannot_be_written(tmp_path, monkeypatch):
    # The directory passes the up-front check, then becomes unwritable (a file takes its
    # place) while the search runs: the result goes to a temporary directory instead.
    import loopscape.cli.search as cli_search
    out = tmp_path / "run"
    real = cli_search.run_search

    def search_then_break(*a, **k):
        result = real(*a, **k)
        out.write_text("now a file")
        return result
    monkeypatch.setattr(cli_search, "run_search", search_then_break)
    r = _run("search", "simple_weight_stationary", "conv1d_ex04", "--budget", "300",
             "--out", str(out))
    assert r.exit_code == 0, r.output
    m = re.search(r"saved to (\S+) instead", " ".join(r.output.split()))
    assert m, r.output
    rescued = Path(m.group(1))
    data = json.loads((rescued / "front.json").read_text())
    stats = data["stats"]  # auto: mappings scored plus optimal's bounding work
    assert stats["evaluated"] > 0 and stats["evaluated"] + stats["work"] >= 300 and data["front"]


def test_search_defaults_to_auto_and_reports_no_progress_when_piped():
    r = _run("search", "simple_weight_stationary", "conv1d_ex04", "--budget", "300", "--json")
    assert r.exit_code == 0
    data = json.loads(r.output)  # nothing but the JSON on stdout
    assert data["stats"]["strategy"] == "auto"
    assert data["stats"]["optimal"] is False and data["stats"]["gap"] > 0  # 300: not enough


def test_progress_callback_reports_evaluations_and_best_edp():
    w = load_layer_preset("conv1d_ex04")
    a = load_arch_preset("simple_weight_stationary")
    seen = []
    r = search(w, a, evaluations=1200, seed=0, batch_size=100, progress=seen.append)
    assert seen and seen[-1].evaluated == r.stats.evaluated > 0
    assert seen[-1].work == r.stats.work and r.stats.evaluated + r.stats.work >= 1200
    assert seen[-1].streams_done == seen[-1].streams
    assert [p.evaluated for p in seen] == sorted(p.evaluated for p in seen)
    best = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in r.front)
    assert seen[-1].best_edp_j_cycles == pytest.approx(best, rel=1e-12)


def test_limits_page_lists_every_limit():
    text = (Path(__file__).resolve().parents[1] / "docs" / "limits.md").read_text()
    for lim in LIMITS.values():
        assert lim.text in text, lim.text


def test_a_control_character_is_a_one_line_error(tmp_path):
    p = tmp_path / "nul.yaml"
    p.write_bytes(b"\x00architecture: {}\n")
    msg = _error(load_arch, p)
    assert "\n" not in msg and "offset 0" in msg and str(p) in msg
