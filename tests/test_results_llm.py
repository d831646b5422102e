"""results/llm_decoder_block: the committed sweeps are consistent with today's cost model
(every recorded mapping re-evaluated, not re-searched), their MACs with an independent
count, and phases.csv with the summaries."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from loopscape.costmodels import evaluate
from loopscape.mapper.sweep import SweepSettings
from loopscape.spaces.io import dump_arch, load_mapping
from loopscape.spaces.presets import resolve_arch
from loopscape.spaces.workloads.zoo import network

DIR = Path(__file__).resolve().parent.parent / "results" / "llm_decoder_block"
RUNS = [(arch, phase) for arch in ("simba_like", "tpu_like") for phase in ("prefill", "decode")]
OPTIONS = {"prefill": {"phase": "prefill", "seq": 2048},
           "decode": {"phase": "decode", "context": 4096}}
# One Llama 3 8B block: parameters that do MACs (q, k, v, o, gate, up, down; config.json)
BLOCK_PARAMS = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336
EXPECTED_MACS = {"prefill": 2048 * BLOCK_PARAMS + 2 * 32 * 2048 * 2048 * 128,
                 "decode": BLOCK_PARAMS + 2 * 32 * 1 * 4096 * 128}


def _summary(arch: str, phase: str) -> dict:
    return json.loads((DIR / arch / phase / "summary.json").read_text())


def _settings(arch: str, phase: str) -> SweepSettings:
    recorded = json.loads((DIR / arch / phase / "sweep.json").read_text())["settings"]
    settings = SweepSettings.from_dict(recorded)
    assert settings.to_dict() == recorded
    return settings


@pytest.mark.parametrize("arch_name, phase", RUNS)
def test_recorded_mappings_evaluate_to_the_recorded_numbers(arch_name, phase):
    arch = resolve_arch(arch_name)
    layers = network("llama3_8b", **OPTIONS[phase], blocks=1, lm_head=False)
    s = _summary(arch_name, phase)
    model = _settings(arch_name, phase).model  # the model options the sweep recorded
    assert [e["name"] for e in s["layers"]] == [x.name for x in layers]
    seen = {}
    for layer, e in zip(layers, s["layers"]):
        assert e["dims"] == layer.workload.shape
        if e["shape_key"] not in seen:
            m = load_mapping({"mapping": e["mapping"]}, layer.workload, arch)
            ev = evaluate(layer.workload, arch, m, options=model)
            seen[e["shape_key"]] = (ev.energy_pj, ev.cycles, ev.macs)
        assert (e["energy_pj"], e["cycles"], e["macs"]) == seen[e["shape_key"]]
    assert len(seen) == s["unique_shapes"] == 6  # q=o, k=v, gate=up share shapes
    assert s["macs"] == sum(e["macs"] for e in s["layers"]) == EXPECTED_MACS[phase]
    assert s["energy_pj"] == pytest.approx(sum(e["energy_pj"] for e in s["layers"]))
    assert s["cycles"] == sum(e["cycles"] for e in s["layers"])


@pytest.mark.parametrize("arch_name, phase", RUNS)
def test_spec_is_what_the_script_writes(arch_name, phase):
    spec = json.loads((DIR / arch_name / phase / "sweep.json").read_text())
    tag = ",".join(f"{k}={v}" for k, v in {**OPTIONS[phase], "blocks": 1,
                                            "lm_head": False}.items())
    assert spec["network"] == f"llama3_8b[{tag}]"
    assert spec["architecture"] == dump_arch(resolve_arch(arch_name))
    assert spec["constraints"] is None
    # today's settings; the model options are the recorded ones (the coordinator
    # regenerates results/ when a default changes; the test above re-evaluates with them)
    settings = _settings(arch_name, phase)
    assert dataclasses.replace(settings, model=SweepSettings().model) == \
        SweepSettings(strategy="local")  # the strategy the script pins
    script = (DIR / "regenerate.sh").read_text()
    assert script.count('--arch "$arch" --strategy local') == 2
    assert "--seq 2048 --blocks 1 --no-lm-head" in script
    assert "--context 4096 --blocks 1 --no-lm-head" in script


def test_decode_is_dram_bound():
    for arch in ("simba_like", "tpu_like"):
        s = _summary(arch, "decode")
        # each weight word is used once per token: DRAM dominates the energy
        assert s["energy_breakdown_pj"]["DRAM"] > 0.9 * s["energy_pj"]
    # tpu_like's DRAM moves 48 words a cycle: each projection's weights bound its cycles
    s = _summary("tpu_like", "decode")
    for e in s["layers"]:
        if e["name"].endswith("proj"):
            assert e["cycles"] >= e["dims"]["N"] * e["dims"]["K"] / 48
    assert s["bottlenecks"]["bandwidth_cycles_share"] == 1.0


def test_phases_csv_matches_the_summaries():
    with open(DIR / "phases.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["arch"], r["phase"]) for r in rows] == RUNS
    for r in rows:
        s = _summary(r["arch"], r["phase"])
        assert int(r["macs"]) == s["macs"] and int(r["cycles"]) == s["cycles"]
        assert float(r["energy_pj"]) == pytest.approx(s["energy_pj"])
        assert float(r["dram_energy_share"]) == pytest.approx(
            s["energy_breakdown_pj"]["DRAM"] / s["energy_pj"])
        assert float(r["bandwidth_cycles_share"]) == pytest.approx(
            s["bottlenecks"]["bandwidth_cycles_share"])
