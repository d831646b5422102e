"""Sweeping decoder LLMs: network options through the CLI and the API, deduplication of
identical blocks, and the per-phase bottleneck summary."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.mapper import SweepSettings, network_layers, sweep
from loopscape.mapper.bottlenecks import bottlenecks
from loopscape.spaces.errors import SpecError
from loopscape.spaces.presets import resolve_arch


def test_bottlenecks_by_hand():
    def e(step, name, cycles, energy):
        return {"cycles": cycles, "energy_pj": energy, "eyexam": {"step": step, "name": name}}
    b = bottlenecks([e(6, "average bandwidth", 700, 1.0), e(3, "number of PEs", 200, 2.0),
                     e(6, "average bandwidth", 50, 0.5), e(None, "none", 50, 4.0)])
    assert [(g["step"], g["layers"], g["cycles"], g["energy_pj"]) for g in b["by_step"]] == [
        (6, 2, 750, 1.5), (3, 1, 200, 2.0), (None, 1, 50, 4.0)]
    assert b["by_step"][0]["cycles_share"] == 0.75
    assert b["bandwidth_cycles_share"] == 0.75


def test_decode_sweep_dedups_blocks_and_is_dram_bound():
    arch = resolve_arch("tpu_like")
    name, layers, _ = network_layers("llama3_8b", phase="decode", context=256, blocks=2,
                                     lm_head=False)
    assert name == "llama3_8b[phase=decode,context=256,blocks=2,lm_head=False]"
    r = sweep(layers, arch, None, network=name,
              settings=SweepSettings(strategy="local", evaluations=300))
    s = r.summary
    # 2 blocks x 9 layers; q/o, k/v, gate/up share shapes: 6 searches for 18 layers
    assert len(s["layers"]) == 18 and s["unique_shapes"] == 6 == s["run"]["searched"]
    assert s["layers"][0]["energy_pj"] == s["layers"][9]["energy_pj"]   # block 1 = block 0
    # decode reads every weight once for one token: DRAM (48 words/cycle) bounds each
    # projection at >= weights / 48 cycles, far above weights / 65,536 PEs
    for e in s["layers"]:
        if e["name"].endswith("proj"):
            weights = e["dims"]["N"] * e["dims"]["K"]
            assert e["cycles"] >= weights / 48
            assert e["eyexam"]["step"] in (6, 7)
    assert s["bottlenecks"]["bandwidth_cycles_share"] == 1.0


def test_cli_zoo_and_sweep_take_network_options(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["zoo", "llama3_8b", "--phase", "decode", "--context", "4096",
                            "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["options"] == {"phase": "decode", "context": 4096}
    assert len(d["layers"]) == 32 * 9 + 1 and d["unique_shapes"] == 7
    scores = d["layers"][3]
    assert scores["name"] == "layers.0.self_attn.scores"
    assert scores["dims"] == {"B": 1, "G": 8, "H": 4, "M": 1, "N": 4096, "D": 128}
    r = runner.invoke(cli, ["sweep", "gpt2", "--phase", "prefill", "--seq", "64",
                            "--blocks", "1", "--arch", "tpu_like", "--budget", "200",
                            "--strategy", "local",
                            "--out", str(tmp_path / "s"), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["network"] == "gpt2[phase=prefill,seq=64,blocks=1]"
    assert s["macs"] == 64 * (4 * 768 * 768 + 2 * 768 * 3072 + 768 * 50257) \
        + 2 * 12 * 64 * 64 * 64
    assert {"by_step", "bandwidth_cycles_share"} <= set(s["bottlenecks"])
    r = runner.invoke(cli, ["sweep", "resnet18", "--phase", "decode", "--arch", "tpu_like",
                            "--out", str(tmp_path / "r")])
    assert r.exit_code != 0 and "takes no option 'phase'" in r.output


def test_options_refused_for_onnx(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    with pytest.raises(SpecError, match="applies to zoo networks"):
        network_layers(str(path), phase="decode")
