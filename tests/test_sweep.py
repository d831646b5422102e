"""Network sweeps: dedupe, totals, selection, resume (also after SIGKILL), spec changes,
the Dask backend, ONNX input and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels import evaluate
from loopscape.mapper.sweep import SweepSettings, layer_seed, shape_key, sweep
from loopscape.spaces.workloads.zoo import ZooLayer
from loopscape.spaces import restrict_constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_mapping
from loopscape.spaces.presets import resolve_arch, resolve_constraints
from loopscape.spaces.workload import conv2d, depthwise_conv2d, fully_connected

FAST = SweepSettings(strategy="local", evaluations=1500, seed=3)


def _net() -> list[ZooLayer]:
    a = conv2d(C=16, M=16, P=14, Q=14, R=3, S=3, name="a")
    b = conv2d(C=16, M=32, P=7, Q=7, R=1, S=1, name="b")
    fc = fully_connected(C=64, M=10, name="fc")
    layers = [("l0", a), ("l1", b), ("l2", a), ("l3", fc), ("l4", b)]
    return [ZooLayer(n, dataclasses.replace(w, name=f"net.{n}"), "test") for n, w in layers]


@pytest.fixture(scope="module")
def eyeriss():
    arch = resolve_arch("eyeriss_like")
    return arch, resolve_constraints("eyeriss_like_constraints", None, arch)


def _stable(summary: dict) -> dict:
    """summary.json without the run's timing (which differs between runs)."""
    s = {k: v for k, v in summary.items() if k not in ("run", "searches")}
    s["searches"] = {k: {kk: vv for kk, vv in v.items() if kk not in ("seconds", "resumed")}
                     for k, v in summary["searches"].items()}
    return s


@pytest.fixture(scope="module")
def reference(eyeriss, tmp_path_factory):
    arch, c = eyeriss
    out = tmp_path_factory.mktemp("ref")
    return sweep(_net(), arch, c, network="net", settings=FAST, out=out), out


def test_summary_layers_totals_and_mappings(reference, eyeriss):
    arch, _ = eyeriss
    result, out = reference
    s = json.loads((out / "summary.json").read_text())
    assert s == json.loads(json.dumps(result.summary))
    assert (s["network"], s["arch"], s["select"]) == ("net", "eyeriss_like", "edp")
    # every network layer, in order, duplicates included; three unique shapes searched
    assert [e["name"] for e in s["layers"]] == ["l0", "l1", "l2", "l3", "l4"]
    assert s["unique_shapes"] == 3 and len(list((out / "layers").iterdir())) == 3
    keys = [e["shape_key"] for e in s["layers"]]
    assert keys[0] == keys[2] and keys[1] == keys[4] and len(set(keys)) == 3
    assert s["layers"][0]["dims"] == {"N": 1, "C": 16, "M": 16, "P": 14, "Q": 14, "R": 3, "S": 3}
    # MACs by hand: 16*16*14*14*3*3, 16*32*7*7, 64*10
    macs = [451_584, 25_088, 451_584, 640, 25_088]
    assert [e["macs"] for e in s["layers"]] == macs and s["macs"] == sum(macs)
    assert s["energy_pj"] == pytest.approx(sum(e["energy_pj"] for e in s["layers"]), rel=1e-12)
    assert s["cycles"] == sum(e["cycles"] for e in s["layers"])
    assert s["utilization"] == pytest.approx(sum(macs) / (168 * s["cycles"]))
    for e in s["layers"]:
        assert sum(e["energy_breakdown_pj"].values()) == pytest.approx(e["energy_pj"], rel=1e-9)
        front = json.loads((out / e["result_dir"] / "front.json").read_text())["front"]
        # the chosen point has the least EDP of its front
        edps = [p["metrics"]["energy_pj"] * p["metrics"]["cycles"] for p in front]
        assert edps[e["front_index"]] == min(edps)
        # the recorded mapping evaluates to the recorded numbers with the scalar model
        layer = next(l for l in _net() if l.name == e["name"])
        m = load_mapping({"mapping": e["mapping"]}, layer.workload, arch)
        ev = evaluate(layer.workload, arch, m)
        assert ev.energy_pj == pytest.approx(e["energy_pj"], rel=1e-12)
        assert ev.cycles == e["cycles"]
        # Eyexam's last step is the model's cycles: its bound over the PEs is the
        # layer's utilization; a layer with idle PEs names a losing step
        assert e["eyexam"]["final_utilization"] == pytest.approx(e["utilization"], rel=1e-12)
        assert (e["eyexam"]["step"] is None) == (e["utilization"] == pytest.approx(1.0))
    for part in ("DRAM", "shared_glb", arch.compute.name):
        assert s["energy_breakdown_pj"][part] == pytest.approx(
            sum(e["energy_breakdown_pj"][part] for e in s["layers"]))


def test_seeds_depend_on_shape_not_order(eyeriss, reference):
    arch, c = eyeriss
    result, _ = reference
    net = _net()
    assert shape_key(net[0].workload) == shape_key(net[2].workload)
    assert layer_seed(3, "abc") != layer_seed(4, "abc")
    again = sweep(list(reversed(net)), arch, c, network="net", settings=FAST)
    by_name = {e["name"]: e for e in again.layers}
    for e in result.layers:
        assert by_name[e["name"]]["energy_pj"] == e["energy_pj"]
        assert by_name[e["name"]]["mapping"] == e["mapping"]


def test_parallel_sweeps_hand_out_the_largest_spaces_first(eyeriss, reference, monkeypatch):
    """With several jobs the shapes go to the workers largest pruned mapspace first (the
    sizes counted here apart, one Mapspace per shape), so a long search does not start
    last; the results equal the one-job run's, whatever the order."""
    import importlib

    from loopscape.spaces.mapspace import Mapspace

    sweep_module = importlib.import_module("loopscape.mapper.sweep")

    arch, c = eyeriss
    order: list[str] = []
    real = sweep_module._run_parallel

    def spy(tasks, jobs, backend):
        order.extend(t[4] for t in tasks)
        return real(tasks, jobs, backend)
    monkeypatch.setattr(sweep_module, "_run_parallel", spy)
    result, _ = reference
    net = list(reversed(_net()))  # shapes in network order: b, fc, a
    again = sweep(net, arch, c, network="net", settings=FAST, jobs=2)
    sizes = {}
    for layer in net:
        w = layer.workload
        sizes[shape_key(w)] = Mapspace(w, arch, restrict_constraints(c, w)).pruned_size
    assert sorted(order) == sorted(sizes) and len(set(sizes.values())) == 3
    assert [sizes[k] for k in order] == sorted(sizes.values(), reverse=True)
    assert order[0] == shape_key(net[2].workload) != shape_key(net[0].workload)  # a, not b
    by_name = {e["name"]: e["mapping"] for e in again.layers}
    assert all(by_name[e["name"]] == e["mapping"] for e in result.layers)


def test_rerun_resumes_and_spec_change_is_refused(eyeriss, reference, tmp_path):
    arch, c = eyeriss
    result, out = reference
    again = sweep(_net(), arch, c, network="net", settings=FAST, out=out)
    assert again.summary["run"]["resumed"] == 3 and again.summary["run"]["searched"] == 0
    assert _stable(again.summary) == _stable(result.summary)
    with pytest.raises(SpecError, match=r"changed: the search settings\)"):
        sweep(_net(), arch, c, network="net", settings=SweepSettings(evaluations=1000), out=out)
    with pytest.raises(SpecError, match=r"changed: the constraints\)"):
        sweep(_net(), arch, None, network="net", settings=FAST, out=out)
    other = resolve_arch("simple_weight_stationary")
    with pytest.raises(SpecError, match=r"changed: the architecture, the constraints\)"):
        sweep(_net(), other, None, network="net", settings=FAST, out=out)
    # a different selection rule re-totals the same searches without searching again
    by_energy = sweep(_net(), arch, c, network="net", settings=FAST, out=out, select="energy_pj")
    assert by_energy.summary["run"]["searched"] == 0
    assert by_energy.energy_pj <= result.energy_pj


def test_fresh_discards_old_results(eyeriss, tmp_path):
    arch, c = eyeriss
    net = _net()[:2]
    sweep(net, arch, c, network="net", settings=FAST, out=tmp_path)
    r = sweep(net, arch, c, network="net", settings=SweepSettings(evaluations=800), out=tmp_path,
              fresh=True)
    assert r.summary["run"]["searched"] == 2
    assert json.loads((tmp_path / "sweep.json").read_text())["settings"]["evaluations"] == 800


def test_latency_budget_selection(eyeriss, reference):
    arch, c = eyeriss
    result, out = reference
    fastest = sweep(_net(), arch, c, network="net", settings=FAST, out=out, select="cycles")
    budget = fastest.cycles
    r = sweep(_net(), arch, c, network="net", settings=FAST, out=out,
              select=f"latency<={budget}")
    assert r.cycles <= budget
    assert r.summary["select"] == f"latency<={budget}"
    with pytest.raises(SpecError, match="latency budget"):
        sweep(_net(), arch, c, network="net", settings=FAST, out=out,
              select=f"latency<={budget - 1}")


def test_bad_inputs(eyeriss, tmp_path):
    arch, c = eyeriss
    with pytest.raises(SpecError, match="no layers"):
        sweep([], arch, c)
    with pytest.raises(SpecError, match="selection rule"):
        sweep(_net(), arch, c, select="fastest")
    # a layer that fits no mapping (all 4096 channels' weights in a 192-word scratchpad)
    ws = resolve_arch("simple_weight_stationary")
    from loopscape.spaces.io import load_constraints
    whole_c = load_constraints({"constraints": {"levels": [
        {"target": "pe_spad", "temporal": {"C": "all"},
         "keep": ["Weights"]}]}}, None, ws)
    big = ZooLayer("net.big", conv2d(C=4096, M=8, P=1, Q=1, R=1, S=1, name="big"), "t")
    small = ZooLayer("net.small", conv2d(C=64, M=8, P=1, Q=1, R=1, S=1, name="small"), "t")
    with pytest.raises(SpecError, match="layer net.big"):
        sweep([small, big], ws, whole_c, settings=FAST)


def test_restrict_constraints_for_layers_without_a_dimension(eyeriss):
    arch, c = eyeriss
    fc = fully_connected(C=64, M=10, name="fc")
    dw = depthwise_conv2d(C=8, P=7, Q=7, R=3, S=3, name="dw")
    for w in (fc, dw):
        r = restrict_constraints(c, w)
        used = {d for lc in r.levels for d, _ in lc.temporal + lc.spatial}
        used |= {d for lc in r.levels for k in ("spatial_x", "spatial_y", "outer", "inner")
                 for d in (getattr(lc, k) or ())}
        assert used <= set(w.dims)
    from loopscape.spaces.io import load_constraints
    strict = load_constraints({"constraints": {"levels": [
        {"target": "shared_glb", "temporal": {"P": 7}}]}}, None, arch)
    with pytest.raises(SpecError, match="no dimension P"):
        restrict_constraints(strict, fc)


def test_dask_local_cluster_matches_local_run(eyeriss, reference):
    distributed = pytest.importorskip("distributed")
    arch, c = eyeriss
    result, _ = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        r = sweep(_net(), arch, c, network="net", settings=FAST, backend="dask")
    assert r.summary["run"]["backend"] == "dask"
    assert _stable(r.summary) == _stable(result.summary)


def _onnx_net(path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    F = TensorProto.FLOAT

    def init(name, dims):
        n = 1
        for d in dims:
            n *= d
        return helper.make_tensor(name, F, dims, [0.0] * n)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="c2", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c2", "w3"], ["c3"], name="c3"),
             helper.make_node("ConvTranspose", ["c3", "wt"], ["up"], name="deconv")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, 8, 12, 12])],
        [helper.make_tensor_value_info("up", F, None)],
        initializer=[init("w1", [8, 8, 3, 3]), init("w2", [8, 8, 3, 3]),
                     init("w3", [16, 8, 1, 1]), init("wt", [16, 4, 2, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_cli_sweep_onnx_and_dask_local(tmp_path):
    model = tmp_path / "tiny.onnx"
    _onnx_net(model)
    runner = CliRunner()
    args = ["sweep", str(model), "--arch", "eyeriss_like", "--constraints",
            "eyeriss_like_constraints", "--budget", "1000"]
    r = runner.invoke(cli, args + ["--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "deconv (ConvTranspose)" in r.output  # unsupported nodes are listed
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert s["network"] == "tiny" and [e["name"] for e in s["layers"]] == ["c1", "c2", "c3"]
    assert s["unique_shapes"] == 2  # c1 and c2 have the same shape
    # 8*8*12*12*3*3 twice, 16*8*12*12
    assert s["macs"] == 2 * 82_944 + 18_432
    pytest.importorskip("distributed")
    r = runner.invoke(cli, args + ["--out", str(tmp_path / "b"), "--dask-local", "1", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert d["run"]["backend"] == "dask"
    assert _stable(d) == _stable(s)


def test_cli_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["sweep", "resnet-51", "--arch", "eyeriss_like", "--out",
                            str(tmp_path)])
    assert r.exit_code == 2 and "no network named" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["sweep", "resnet18", "--arch", "eyeriss_like", "--out",
                            str(tmp_path), "--select", "quickest"])
    assert r.exit_code == 2 and "unknown selection rule" in r.output
    r = runner.invoke(cli, ["sweep", "resnet18", "--arch", "eyeriss_like", "--out",
                            str(tmp_path), "--scheduler", "x", "--dask-local", "1"])
    assert r.exit_code == 2 and "not both" in r.output


def test_sigkill_loses_only_layers_in_flight(tmp_path):
    """Kill a CLI sweep with SIGKILL after some layers finished; the rerun keeps them,
    searches only the rest, and ends with the same summary as an uninterrupted run."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "loopscape.cli.main", "sweep", "resnet18", "--arch",
           "eyeriss_like", "--constraints", "eyeriss_like_constraints", "--budget", "3000",
           "--strategy", "local", "--out", str(out), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    layers = out / "layers"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            done = list(layers.glob("*/front.json")) if layers.exists() else []
            if len(done) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail("the sweep finished before it could be killed")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = {p.parent.name for p in layers.glob("*/front.json")}
    assert 2 <= len(finished) < 12 and not (out / "summary.json").exists()
    for name in finished:  # every finished layer is complete, valid JSON
        json.loads((layers / name / "front.json").read_text())
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["run"]["resumed"] == len(finished)
    assert resumed["run"]["searched"] == 12 - len(finished)
    whole = tmp_path / "whole"
    subprocess.run(cmd[:-2] + [str(whole), "--json"], capture_output=True, check=True,
                   timeout=300)
    assert _stable(resumed) == _stable(json.loads((whole / "summary.json").read_text()))


def test_cli_scheduler_address(tmp_path):
    """--scheduler connects to a running cluster (here an in-process one) by address."""
    distributed = pytest.importorskip("distributed")
    model = tmp_path / "tiny.onnx"
    _onnx_net(model)
    args = ["sweep", str(model), "--arch", "eyeriss_like", "--constraints",
            "eyeriss_like_constraints", "--budget", "1000", "--json"]
    runner = CliRunner()
    local = runner.invoke(cli, args + ["--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        r = runner.invoke(cli, args + ["--out", str(tmp_path / "remote"), "--scheduler",
                                       cluster.scheduler_address])
    assert r.exit_code == 0, r.output
    remote = json.loads((tmp_path / "remote" / "summary.json").read_text())
    assert remote["run"]["backend"] == "dask"
    assert _stable(remote) == _stable(json.loads((tmp_path / "local" / "summary.json").read_text()))


def test_settings_read_back_from_their_dict():
    """A sweep's recorded settings (sweep.json, summary.json) give the same settings back,
    model options included; older files without them read as the defaults, except link
    transfers: those sweeps ran without them."""
    from loopscape.costmodels.options import ModelOptions
    s = SweepSettings(strategy="random", objectives=("edp",), evaluations=7, seed=3,
                      model=ModelOptions(semantics="timeloop-pre297", link_transfers=True))
    assert SweepSettings.from_dict(s.to_dict()) == s
    old = {k: v for k, v in s.to_dict().items() if k not in ("semantics", "link_transfers")}
    assert SweepSettings.from_dict(old).model == ModelOptions(link_transfers=False)
