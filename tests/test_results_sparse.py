"""The committed sparse ResNet-50 sweep (results/resnet50_eyeriss_like_sparse) is what
the sparse model gives today for its recorded mappings."""

import json
from pathlib import Path

import pytest

from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.mapper.sweep import SweepSettings, network_layers
from loopscape.spaces.io import load_mapping, load_sparsity
from loopscape.spaces.presets import resolve_arch

DIR = Path(__file__).resolve().parent.parent / "results" / "resnet50_eyeriss_like_sparse"


@pytest.fixture(scope="module")
def data():
    arch = resolve_arch("eyeriss_like")
    spec = load_sparsity(DIR / "sparsity.yaml")
    _, layers, _ = network_layers("resnet50")
    summary = json.loads((DIR / "sweep" / "summary.json").read_text())
    compare = json.loads((DIR / "compare.json").read_text())
    return arch, spec, layers, summary, compare


def test_recorded_mappings_evaluate_to_the_recorded_numbers(data):
    arch, spec, layers, s, _ = data
    assert [e["name"] for e in s["layers"]] == [l.name for l in layers]
    recorded = json.loads((DIR / "sweep" / "sweep.json").read_text())["settings"]
    model = SweepSettings.from_dict(recorded).model  # the model options the sweep used
    seen = {}
    for layer, e in zip(layers, s["layers"]):
        if e["shape_key"] not in seen:
            # compressed tiles may not fit uncompressed: evaluate_sparse checks capacity
            m = load_mapping({"mapping": e["mapping"]}, layer.workload, arch,
                             check_capacity=False)
            ev = evaluate_sparse(layer.workload, arch, m, spec.for_layer(layer.name),
                                 options=model)
            seen[e["shape_key"]] = (ev.energy_pj, ev.cycles, ev.actual_computes)
        assert (e["energy_pj"], e["cycles"], e["actual_computes"]) == seen[e["shape_key"]]
    # conv1 is dense (its own densities), every other layer has weights 0.3, inputs 0.56
    assert s["layers"][0]["densities"] == {"Weights": 1.0, "Inputs": 1.0}
    assert all(e["densities"] == {"Weights": 0.3, "Inputs": 0.56} for e in s["layers"][1:])
    assert s["energy_pj"] == pytest.approx(sum(e["energy_pj"] for e in s["layers"]))
    assert s["cycles"] == sum(e["cycles"] for e in s["layers"])


def test_spec_names_the_sparsity(data):
    _, spec, _, _, _ = data
    sweep_spec = json.loads((DIR / "sweep" / "sweep.json").read_text())
    assert sweep_spec["sparsity"] == spec.key()
    assert "--sparsity sparsity.yaml" in (DIR / "regenerate.sh").read_text()


def test_comparison_agrees_with_the_sweeps(data):
    arch, spec, layers, s, c = data
    dense = json.loads((DIR.parent / "resnet50_eyeriss_like" / "sweep" / "summary.json")
                       .read_text())
    recorded = json.loads((DIR / "sweep" / "sweep.json").read_text())["settings"]
    model = SweepSettings.from_dict(recorded).model  # the model options the sweep used
    for layer, row, a, d in list(zip(layers, c["layers"], s["layers"], dense["layers"]))[:6]:
        assert row["aware"]["energy_pj"] == a["energy_pj"]
        m = load_mapping({"mapping": d["mapping"]}, layer.workload, arch)
        ev = evaluate_sparse(layer.workload, arch, m, spec.for_layer(layer.name),
                             options=model)
        assert row["dense_committed"]["energy_pj"] == pytest.approx(ev.energy_pj)
        assert row["dense_committed"]["cycles"] == ev.cycles
    tot = c["totals_with_sparsity"]["aware"]
    assert tot["energy_pj"] == pytest.approx(s["energy_pj"]) and tot["cycles"] == s["cycles"]


def test_compression_admits_mappings_the_dense_capacity_rejects(data):
    from loopscape.spaces.mapping import mapping_problems
    arch, _, layers, s, _ = data
    overflow = 0
    for layer, e in zip(layers, s["layers"]):
        m = load_mapping({"mapping": e["mapping"]}, layer.workload, arch, check_capacity=False)
        overflow += bool(mapping_problems(layer.workload, arch, m))
    # results/README.md states how many of the chosen mappings fit only compressed; the
    # recorded mappings, checked against the dense capacity here, must bear it out.
    import re
    stated = re.search(r"(\d+) of its (\d+) choices fit the global\s+buffer only compressed",
                       (DIR.parent / "README.md").read_text())
    assert stated, "results/README.md no longer states the count"
    assert (overflow, len(s["layers"])) == (int(stated[1]), int(stated[2]))


def test_sparse_result_directories_read_back(data):
    """Exports read result directories back; a sparse front's mappings may fit only
    compressed, so their dense capacity is not re-checked there."""
    from loopscape.mapper.result_dir import read_result_dir
    _, _, _, s, _ = data
    for key in {e["shape_key"] for e in s["layers"]}:
        rd = read_result_dir(DIR / "sweep" / "layers" / key)
        assert len(rd.mappings) == len(rd.data["front"]) >= 1
        assert all(p["metrics"]["sparse"] for p in rd.data["front"])
