"""Eyexam (costmodels/eyexam/, ``loopscape eyexam``): hand-computed cases where each
step is the one that loses, brute force of steps 2 to 5 against the mapspace,
monotonicity, the CLI and the worked example of docs/eyexam.md."""

from __future__ import annotations

import json
import math
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from loopscape.cli.main import cli
from loopscape.costmodels import EyexamReport, evaluate, eyexam
from loopscape.costmodels.eyexam import STEP_NAMES, spatial_bounds
from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapping import LevelMapping, Loop, Mapping, mapping_problems
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import (load_arch_preset, load_layer_preset,
                                      resolve_constraints, resolve_mapping)
from loopscape.spaces.workload import gemm

from strategies import architectures, layers

DOCS = Path(__file__).resolve().parent.parent / "docs"


# ----------------------------------------------------------------------------------
# Small hand-built cases (gemm: Outputs[M][N] += Inputs[M][K] * Weights[K][N])
# ----------------------------------------------------------------------------------

def _arch(levels: list[StorageLevel], mesh: tuple[int, int]) -> Architecture:
    return Architecture("hand", tuple(levels), ComputeLevel("MAC", mesh[0] * mesh[1], *mesh))


def _dram(**kw) -> StorageLevel:
    return StorageLevel("DRAM", **kw)


def _mapping(*levels: LevelMapping) -> Mapping:
    return Mapping(tuple(levels))


ALL = ("Weights", "Inputs", "Outputs")


def _bounds(report: EyexamReport) -> list[float]:
    return list(report.bounds)


def test_step3_number_of_pes_is_the_loss():
    # M = 8 on 5 PEs (one fanout of 5 in X): the divisors of 8 are 1, 2, 4, 8, so at
    # most 4 of the 5 PEs work (fragmentation). Mapping: M4 spatial, M2 temporal.
    w = gemm(M=8, N=1, K=1)
    a = _arch([_dram()], (5, 1))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2),), (Loop("M", 4),), (), ALL))
    r = eyexam(w, a, m)
    # 1: 8 MACs; 2: M 8 (fanout size ignored); 3: largest divisor of 8 <= 5 is 4;
    # 4: X 5 -> 4; 5: DRAM unbounded -> 4; 6: 8 MACs / 2 cycles = 4; 7: 4.
    assert _bounds(r) == [8, 8, 4, 4, 4, 4, 4]
    assert "fragmentation" in r.step(3).cause and "M 4" in r.step(3).cause
    # the 5-PE array loses 5/4 at step 3 (bounds capped at 5 PEs: 5, 5, 4, ...)
    assert r.summary()["step"] == 3 and r.summary()["loss_ratio"] == 1.25


def test_step4_array_dimensions_is_the_loss():
    # M = 6 on a 2 x 3 array: 6 PEs as one pool take M 6, but one dimension takes one
    # mesh axis per level, so at most max(2, 3) = 3 PEs.
    w = gemm(M=6, N=1, K=1)
    a = _arch([_dram()], (2, 3))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2),), (), (Loop("M", 3),), ALL))
    r = eyexam(w, a, m)
    assert _bounds(r) == [6, 6, 6, 3, 3, 3, 3]
    assert "DRAM Y 3 of 3" in r.step(4).cause and "DRAM X 1 of 2" in r.step(4).cause
    assert r.summary()["step"] == 4


def _buffered(cap: int) -> Architecture:
    # DRAM -> Buf (cap words, fans out 4 in X) -> RF (one per PE, unbounded) -> 4 MACs
    return _arch([_dram(), StorageLevel("Buf", capacity_words=cap),
                  StorageLevel("RF", instances=4, mesh_x=4)], (4, 1))


def test_step5_storage_capacity_is_the_loss():
    # M = 4 over 4 PEs, but Buf (5 words, must keep all three tensors) holds the tiles
    # of all its children: with M m-way spatial, Inputs m + Outputs m + Weights 1 words
    # = 2m + 1 <= 5, so m <= 2 (m = 4 needs 9 words = 72 bits of 40).
    w = gemm(M=4, N=1, K=1)
    a = _buffered(5)
    c = Constraints((LevelConstraints("Buf", keep=ALL),))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2),), (), (), ALL),
                 LevelMapping("Buf", (), (Loop("M", 2),), (), ALL),
                 LevelMapping("RF", (), (), (), ALL))
    r = eyexam(w, a, m, c)
    assert _bounds(r) == [4, 4, 4, 4, 2, 2, 2]
    assert "Buf needs at least 72 bits" in r.step(5).cause and "holds 40" in r.step(5).cause
    assert r.summary() == {"step": 5, "name": "storage capacity", "cause": r.step(5).cause,
                           "loss_ratio": 2.0, "final_macs_per_cycle": 2.0, "pes": 4,
                           "final_utilization": 0.5}
    # Without the keep rule Buf may bypass: 4 PEs fit (the smallest completion keeps
    # nothing at Buf).
    assert spatial_bounds(w, a).capacity == 4


def _four_pe_dram(**bandwidth) -> Architecture:
    return _arch([_dram(**bandwidth)], (4, 1))


M4 = _mapping(LevelMapping("DRAM", (), (Loop("M", 4),), (), ALL))


def test_step6_average_bandwidth_is_the_loss():
    # M = 4 on 4 PEs in one cycle. DRAM serves: Weights 1 read (multicast to the 4
    # PEs), Inputs 4 reads, Outputs 4 updates and 4 - 4 = 0 reads: 5 reads + 4 writes
    # = 9 words. Read 2.5 + write 2 = 4.5 words/cycle: 9 / 4.5 = 2 cycles -> 4 / 2 = 2.
    # Per port: 5 / 2.5 = 2 and 4 / 2 = 2 cycles, so step 7 loses nothing more.
    w = gemm(M=4, N=1, K=1)
    r = eyexam(w, _four_pe_dram(read_bandwidth=2.5, write_bandwidth=2), M4)
    assert _bounds(r) == [4, 4, 4, 4, 4, 2, 2]
    assert "DRAM moves 9 words" in r.step(6).cause and "read 2.5 + write 2" in r.step(6).cause
    assert r.step(7).cause.startswith("no further loss")


def test_step6_mapping_that_unrolls_fewer_pes():
    w = gemm(M=4, N=1, K=1)
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2),), (Loop("M", 2),), (), ALL))
    r = eyexam(w, _four_pe_dram(), m)
    # 4 MACs / 2 PEs = 2 cycles -> 2 MACs/cycle where step 5 reaches 4.
    assert _bounds(r) == [4, 4, 4, 4, 4, 2, 2]
    assert "unrolls 2 PEs where step 5 reaches 4" in r.step(6).cause


def test_step7_port_imbalance_is_the_loss():
    # The same 9 words: read 8 + write 1 = 9 words/cycle on average -> 1 cycle, no
    # loss; but the 4 writes through a 1-word write port take 4 cycles -> 1 MAC/cycle.
    w = gemm(M=4, N=1, K=1)
    r = eyexam(w, _four_pe_dram(read_bandwidth=8, write_bandwidth=1), M4)
    assert _bounds(r) == [4, 4, 4, 4, 4, 4, 1]
    assert "DRAM write port" in r.step(7).cause and "4 cycles" in r.step(7).cause
    assert evaluate(w, _four_pe_dram(read_bandwidth=8, write_bandwidth=1), M4).cycles == 4


def test_step2_dataflow_limited_by_the_constraints():
    # M = 8 on 8 PEs, but the constraints let M be at most 2-way spatial.
    w = gemm(M=8, N=1, K=1)
    a = _arch([_dram()], (8, 1))
    c = Constraints((LevelConstraints("DRAM", spatial=(("M", FactorRule(max=2)),)),))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 4),), (Loop("M", 2),), (), ALL))
    r = eyexam(w, a, m, c)
    assert _bounds(r) == [8, 2, 2, 2, 2, 2, 2]
    assert "M 2 of 8" in r.step(2).cause
    # With no axis allowed for M nothing is spatial: 1 MAC per cycle.
    c0 = Constraints((LevelConstraints("DRAM", spatial_x=(), spatial_y=()),))
    m0 = _mapping(LevelMapping("DRAM", (Loop("M", 8),), (), (), ALL))
    assert _bounds(eyexam(w, a, m0, c0)) == [8, 1, 1, 1, 1, 1, 1]


def test_no_loss_names_the_layer_size():
    # M = 4 on 4 PEs, unlimited bandwidth: every step keeps 4, the layer is the limit.
    r = eyexam(gemm(M=4, N=1, K=1), _four_pe_dram(), M4)
    assert _bounds(r) == [4] * 7
    assert r.summary()["step"] is None and r.summary()["loss_ratio"] == 1.0


def test_no_fanout_means_one_mac_per_cycle():
    w = gemm(M=2, N=2, K=2)
    a = _arch([_dram()], (1, 1))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2), Loop("N", 2), Loop("K", 2)), (), (), ALL))
    r = eyexam(w, a, m)
    assert _bounds(r) == [8, 1, 1, 1, 1, 1, 1]
    assert "no spatial fanout" in r.step(2).cause


def test_report_to_dict_and_names():
    r = eyexam(gemm(M=4, N=1, K=1), _four_pe_dram(read_bandwidth=8, write_bandwidth=1), M4)
    d = r.to_dict()
    assert set(d) == {"steps", "macs", "pes"} and (d["macs"], d["pes"]) == (4, 4)
    assert [s["step"] for s in d["steps"]] == list(range(1, 8))
    assert [s["name"] for s in d["steps"]] == list(STEP_NAMES)
    for s in d["steps"]:
        assert set(s) == {"step", "name", "bound_macs_per_cycle", "cause", "method"}
        assert isinstance(s["bound_macs_per_cycle"], float) and s["cause"] and s["method"]
    json.dumps(d)


def test_eyeriss_reference_mapping_by_hand():
    # eyeriss_default (C3 M32 P112 Q112 R3 S3, 10,838,016 MACs) under the design's own
    # constraints: C, M, S on the 12 rows (Y); M, Q on the 14 columns (X); P, R never
    # spatial. Step 2: C 3 x M 32 x Q 112 x S 3 = 32,256. Step 3: 168 = 2^3 x 3 x 7:
    # Q gives 7 (112 = 16 x 7), S or C gives 3, M or Q gives 8. Step 4: X 14 = M2 x Q7,
    # Y 12 = C3 x M4. Step 5: the scratchpads sit below the fanout and the global
    # buffer holds 128 Ki words: 168. Step 6: Timeloop's mapping uses Q14 x C3 x S3 =
    # 126 PEs (75% utilization, 86,016 cycles): 10,838,016 / 86,016 = 126.
    a = load_arch_preset("eyeriss_like")
    w = load_layer_preset("eyeriss_default")
    c = resolve_constraints("eyeriss_like_constraints", w, a)
    m = resolve_mapping("eyeriss_default_timeloop_best", w, a)
    r = eyexam(w, a, m, c)
    assert _bounds(r) == [10_838_016, 32_256, 168, 168, 168, 126, 126]
    assert "P, R may not be spatial" in r.step(2).cause
    assert "outside" not in r.step(6).cause  # Timeloop's mapping obeys its constraints


def test_mapping_outside_the_constraints_is_noted():
    # The step-2 case's mapping unrolls M 4 where the constraints allow 2: the bound
    # stays at step 5's 2 and the cause says why.
    w = gemm(M=8, N=1, K=1)
    a = _arch([_dram()], (8, 1))
    c = Constraints((LevelConstraints("DRAM", spatial=(("M", FactorRule(max=2)),)),))
    m = _mapping(LevelMapping("DRAM", (Loop("M", 2),), (Loop("M", 4),), (), ALL))
    r = eyexam(w, a, m, c)
    assert _bounds(r)[5:] == [2, 2]
    assert "outside the constrained mapspace" in r.step(6).cause


def test_no_legal_mapping_is_a_spec_error():
    # Buf must keep all three tensors in 2 words: even M 1 needs 3 words.
    w = gemm(M=4, N=1, K=1)
    c = Constraints((LevelConstraints("Buf", keep=ALL),))
    with pytest.raises(SpecError):
        spatial_bounds(w, _buffered(2), c)


# ----------------------------------------------------------------------------------
# Brute force: steps 2 to 5 against a walk of the mapspace
# ----------------------------------------------------------------------------------

def _spatial(m: Mapping) -> int:
    return math.prod(l.factor for lm in m.levels for l in lm.spatial)


def _uncapped_arch(a: Architecture, big: int) -> Architecture:
    """``a`` with every fanout axis of size > 1 widened to ``big``: spatial factors are
    then limited by the constraints and the bounds only (steps 2 and 3)."""
    levels, mx, my = [], 1, 1
    for i, lvl in enumerate(a.levels):
        fx, fy = a.fanout(i)
        levels.append(replace(lvl, instances=mx * my, mesh_x=mx, mesh_y=my))
        mx, my = mx * (big if fx > 1 else 1), my * (big if fy > 1 else 1)
    return Architecture("uncapped", tuple(levels), ComputeLevel("MAC", mx * my, mx, my))


def _factorizations(ms: Mapspace):
    """One mapping per point of the factorization sub-space (loop orders and keep
    choices fixed at their first value)."""
    step = ms.permutation_size * ms.bypass_size
    for fi in range(ms.factorization_size):
        yield ms.mapping(fi * step)


@st.composite
def _buffered_arrays(draw):
    """DRAM -> a small buffer that fans out to an X x Y array of PEs: the shape where
    the buffer's capacity limits the spatial factors (step 5)."""
    fx, fy = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return Architecture("buffered", (
        StorageLevel("L0"), StorageLevel("L1"),
        StorageLevel("L2", instances=fx * fy, mesh_x=fx, mesh_y=fy)),
        ComputeLevel("MAC", fx * fy, fx, fy))


@st.composite
def constrained_problems(draw, buffered: bool = False):
    """A small layer, a 2-3 level architecture (``buffered``: always a buffer over the
    PE array) with random capacities, bit widths and min_utilization, and random
    constraints (axis lists, spatial and temporal caps, keep/bypass,
    default_max_factor, min_pe_utilization)."""
    w = draw(layers(max_macs=48))
    a0 = draw(_buffered_arrays() if buffered else
              architectures(max_levels=3, max_fanout=3, max_pes=9))
    levels = []
    for i, lvl in enumerate(a0.levels):
        if buffered and i == 1:
            cap = draw(st.integers(2, 12))
        else:
            cap = draw(st.one_of(st.none(), st.integers(1, 24))) \
                if i > 0 and not lvl.dummy else None
        levels.append(replace(
            lvl, capacity_words=cap,
            min_utilization=draw(st.sampled_from([0.0, 0.0, 0.25])) if cap else 0.0,
            tensor_bits=draw(st.sampled_from([(), (("Outputs", 16),)]))))
    a = Architecture("random", tuple(levels), a0.compute)
    rules = []
    for i, lvl in enumerate(a.levels):
        kw: dict = {}
        if a.fanout(i) != (1, 1):
            if draw(st.booleans()):
                kw["spatial_x"] = tuple(d for d in w.dims if draw(st.booleans()))
                kw["spatial_y"] = tuple(d for d in w.dims if draw(st.booleans()))
            if draw(st.booleans()):
                kw["spatial"] = ((draw(st.sampled_from(w.dims)),
                                  FactorRule(max=draw(st.integers(1, 3)))),)
        if draw(st.booleans()):
            kw["temporal"] = ((draw(st.sampled_from(w.dims)),
                               FactorRule(max=draw(st.integers(1, 3)))),)
        if i > 0 and not lvl.dummy and (buffered and i == 1 or draw(st.booleans())):
            # Forced keeps make the capacity of a fanout's parent bind (step 5).
            kw["keep"] = tuple(t for t in w.tensor_names
                               if draw(st.sampled_from([True, True, False])))
            kw["bypass"] = tuple(t for t in w.tensor_names
                                 if t not in kw["keep"] and draw(st.booleans()))
        if kw:
            rules.append(LevelConstraints(lvl.name, **kw))
    c = Constraints(tuple(rules), default_max_factor=draw(st.sampled_from([None, 2, 4])),
                    min_pe_utilization=draw(st.sampled_from([0.0, 0.0, 0.25])))
    return w, a, c


@settings(max_examples=40)
@given(st.booleans().flatmap(lambda b: constrained_problems(buffered=b)))
def test_spatial_steps_match_brute_force(problem):
    w, a, c = problem
    try:
        ms = Mapspace(w, a, c)
    except SpecError:
        with pytest.raises(SpecError):
            spatial_bounds(w, a, c)
        return
    # Step 5: the most PEs any legal mapping uses (enumerate() walks every canonical
    # legal mapping; loop orders cannot change legality, so the walk over factorizations
    # and keep choices finds the same maximum in bigger spaces).
    if ms.pruned_size <= 3000:
        best5 = max((_spatial(m) for _, m in ms.enumerate()), default=0)
    else:
        step = ms.permutation_size * ms.bypass_size
        best5 = max((_spatial(m) for fi in range(ms.factorization_size)
                     for by in range(ms.bypass_size)
                     for m in [ms.mapping(fi * step + by)] if ms.is_legal(m)), default=0)
    # Step 4: the same without capacities and min_pe_utilization (fanout per axis only).
    best4 = max((_spatial(m) for m in _factorizations(ms)
                 if not mapping_problems(w, a, m, check_capacity=False)), default=0)
    # Steps 2 and 3: the fanouts widened beyond the layer; step 3 keeps the products
    # within the PE count.
    wide = Mapspace(w, _uncapped_arch(a, w.macs), replace(c, min_pe_utilization=0.0))
    products = {_spatial(m) for m in _factorizations(wide)}
    best2 = max(products)
    best3 = max((p for p in products if p <= a.compute.instances), default=0)
    if best5 == 0:
        with pytest.raises(SpecError):
            spatial_bounds(w, a, c)
        return
    sb = spatial_bounds(w, a, c)
    assert (sb.dataflow, sb.flat, sb.array, sb.capacity) == (best2, best3, best4, best5)
    assert sb.dataflow >= sb.flat >= sb.array >= sb.capacity >= 1


@settings(max_examples=25)
@given(constrained_problems(), st.integers(0, 2**16),
       st.sampled_from([None, 0.5, 1, 3]), st.sampled_from([None, 0.5, 2]))
def test_bounds_never_increase(problem, seed, read_bw, write_bw):
    w, a, c = problem
    a = Architecture(a.name, tuple(replace(l, read_bandwidth=read_bw, write_bandwidth=write_bw)
                                   if not l.dummy else l for l in a.levels), a.compute)
    try:
        ms = Mapspace(w, a, c)
        (_, m), = ms.sample(1, seed=seed, max_draws=2000)
        r = eyexam(w, a, m, c)
    except SpecError:
        return  # contradictory constraints or no legal mapping: covered above
    b = r.bounds
    assert b[0] == w.macs and all(x > 0 for x in b)
    assert all(later <= earlier for earlier, later in zip(b, b[1:]))
    ev = evaluate(w, a, m)
    assert b[4] >= ev.utilized_pes  # a legal mapping never beats step 5
    assert b[6] == min(b[5], w.macs / ev.cycles)


# ----------------------------------------------------------------------------------
# The worked example of docs/eyexam.md and the CLI
# ----------------------------------------------------------------------------------

EXAMPLE = ["eyexam", "eyexam_conv1d_array", "eyexam_conv1d", "eyexam_conv1d_mapping",
           "--constraints", "eyexam_conv1d_constraints"]
# By hand (docs/eyexam.md): 1: C6 K6 R3 P16 = 1,728 MACs; 2: C 6 x K 6 = 36 (R, P are
# temporal); 3: products of {1,2,3,6} x {1,2,3,6} <= 16: 12; 4: C <= 4 on X and K <= 4 on
# Y: 3 x 3 = 9; 5: with C3 x K3 the buffer holds Weights 27 + Inputs 3 x 18 + Outputs
# 3 x 16 = 129 words > 112, C3 x K2 needs 18 + 54 + 32 = 104: 6; 6: DRAM moves
# 108 + 324 + 96 = 528 words at 1 + 0.5 words/cycle = 352 cycles > 288 compute cycles:
# 1,728 / 352; 7: DRAM reads 432 words through a 1-word port: 432 cycles: 1,728 / 432 = 4.
EXAMPLE_BOUNDS = [1728, 36, 12, 9, 6, 1728 / 352, 4]


def test_cli_json_is_the_report_dict():
    r = CliRunner().invoke(cli, EXAMPLE + ["--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert [s["bound_macs_per_cycle"] for s in d["steps"]] == pytest.approx(EXAMPLE_BOUNDS,
                                                                          rel=1e-12)
    assert (d["macs"], d["pes"]) == (1728, 16)
    assert d.pop("model") == {"semantics": "timeloop", "link_transfers": True}  # the default
    a = load_arch_preset("eyexam_conv1d_array")
    w = load_layer_preset("eyexam_conv1d")
    report = eyexam(w, a, resolve_mapping("eyexam_conv1d_mapping", w, a),
                    resolve_constraints("eyexam_conv1d_constraints", w, a))
    assert d == json.loads(json.dumps(report.to_dict()))


def test_cli_table():
    r = CliRunner().invoke(cli, EXAMPLE, terminal_width=200)
    assert r.exit_code == 0, r.output
    for name in STEP_NAMES:
        assert name in r.output
    for text in ("% of step 1", "% of previous", "4.909", "mapping: eyexam_conv1d_mapping",
                 "DRAM read port", "loses most at step 5"):
        assert text in r.output, text


def test_cli_without_mapping_searches_and_says_so():
    args = ["eyexam", "eyexam_conv1d_array", "eyexam_conv1d", "--constraints",
            "eyexam_conv1d_constraints", "--budget", "300", "--seed", "1"]
    r = CliRunner().invoke(cli, args, terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "no mapping given" in r.output and "seed 1" in r.output
    assert "GlobalBuffer:" in r.output  # the mapping used, one line per level
    j = CliRunner().invoke(cli, args + ["--json"])
    assert j.exit_code == 0
    out = j.stdout if hasattr(j, "stdout") else j.output
    d = json.loads(out[out.index("{"):])
    assert d["steps"][4]["bound_macs_per_cycle"] == 6  # steps 1-5 do not depend on it


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_plot_writes_an_image(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"waterfall{suffix}"
    r = CliRunner().invoke(cli, EXAMPLE + ["--plot", str(path)])
    assert r.exit_code == 0, r.output
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert ET.fromstring(data).tag.endswith("svg")


def _one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert lines and lines[0].startswith("error:") and "Traceback" not in r.output
    return " ".join(r.output.split())


def test_cli_bad_inputs_exit_2(tmp_path):
    run = CliRunner().invoke
    assert "expected ARCH WORKLOAD" in _one_line_error(run(cli, ["eyexam", "eyexam_conv1d_array"]))
    assert "no_such" in _one_line_error(run(cli, ["eyexam", "no_such", "eyexam_conv1d"]))
    assert ".png or .svg" in _one_line_error(run(cli, EXAMPLE + ["--plot",
                                                                 str(tmp_path / "x.pdf")]))
    assert "--budget" in _one_line_error(run(cli, EXAMPLE[:3] + ["--budget", "0"]))
    # A mapping whose tiles overflow the 112-word buffer (C6 x K3 at the buffer).
    bad = tmp_path / "big.yaml"
    bad.write_text("mapping:\n"
                   "  - {target: DRAM, temporal: {K: 2}, keep: [Weights, Inputs, Outputs]}\n"
                   "  - {target: GlobalBuffer, temporal: {C: 6}, spatial_y: {K: 3},"
                   " keep: [Weights, Inputs, Outputs]}\n"
                   "  - {target: RegFile, temporal: {R: 3, P: 16},"
                   " keep: [Weights, Inputs, Outputs]}\n")
    assert "GlobalBuffer" in _one_line_error(run(cli, EXAMPLE[:3] + [str(bad)]))


def test_cli_plot_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    r = CliRunner().invoke(cli, EXAMPLE + ["--plot", str(tmp_path / "w.png")])
    assert "pip install 'loopscape[plot]'" in _one_line_error(r)


def _table_rows(text: str) -> list[list[str]]:
    """(step, name, bound, % of step 1, % of previous) of each step row of the table."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) >= 6 and cells[0].isdigit():
            rows.append(cells[:5])
    return rows


def test_docs_example_output_is_what_the_command_prints():
    page = (DOCS / "eyexam.md").read_text()
    command = ("loopscape eyexam eyexam_conv1d_array eyexam_conv1d eyexam_conv1d_mapping "
               "--constraints eyexam_conv1d_constraints")
    assert command in page
    pasted = page.split(command + "\n```\n\n```text\n", 1)[1].split("```", 1)[0]
    live = CliRunner().invoke(cli, command.split()[1:], terminal_width=150).output
    assert _table_rows(pasted) == _table_rows(live)
    assert [r[2] for r in _table_rows(live)] == ["1,728", "36", "12", "9", "6", "4.909", "4"]
