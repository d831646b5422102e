"""Built-in presets: they load, match the designs they come from, and the CLI lists them.

Expected numbers are copied from the reference designs (timeloop-accelergy-exercises,
see reference/timeloop/README.md): sizes from parsed-processed-input.yaml, energies from
timeloop-mapper.ERT.yaml, totals from timeloop-mapper.stats.txt of the mapping the
Timeloop mapper found.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_mapping, load_yaml
from loopscape.spaces.presets import (PresetInfo, list_presets, load_arch_preset,
                                      load_layer_preset, preset_path, resolve_arch,
                                      resolve_layer, resolve_mapping)
from loopscape.spaces.workload import conv2d, depthwise_conv2d, gemm

PRESET_DIR = Path(preset_path("eyeriss_like", "architecture")).parent
FIXTURES = Path(__file__).parent / "fixtures" / "timeloop"

ARCHS = {"eyeriss_like", "simba_like", "simple_output_stationary",
         "simple_weight_stationary", "tpu_like", "eyexam_conv1d_array",
         "sparse_tensor_core_like"}
LAYERS = {"resnet50_conv2_x_3x3", "eyeriss_default", "conv1d_ex04", "bert_base_ffn1",
          "mobilenet_v2_features3_dw", "eyexam_conv1d"}
MAPPINGS = {"eyeriss_default_timeloop_best", "eyexam_conv1d_mapping"}
CONSTRAINTS = {"eyeriss_like_constraints", "eyexam_conv1d_constraints"}
SPARSITY = {"eyeriss_like_sparse", "sparse_tensor_core_2to4"}


def test_every_preset_is_listed_with_description_and_source():
    items = list_presets()
    assert {p.name for p in items if p.kind == "architecture"} == ARCHS
    assert {p.name for p in items if p.kind == "layer"} == LAYERS
    assert {p.name for p in items if p.kind == "mapping"} == MAPPINGS
    assert {p.name for p in items if p.kind == "constraints"} == CONSTRAINTS
    assert {p.name for p in items if p.kind == "sparsity"} == SPARSITY
    for p in items:
        assert isinstance(p, PresetInfo)
        assert p.description and p.source, p
        assert "\n" not in p.description and len(p.description) < 100
        assert Path(p.path).name == f"{p.name}.yaml"
    rank = {"architecture": 0, "layer": 1, "mapping": 2, "constraints": 3, "sparsity": 4}
    assert [rank[p.kind] for p in items] == sorted(rank[p.kind] for p in items)


def test_every_yaml_file_is_a_preset_and_starts_with_its_source():
    files = sorted(PRESET_DIR.glob("*.yaml"))
    assert {f.stem for f in files} == ARCHS | LAYERS | MAPPINGS | CONSTRAINTS | SPARSITY
    for f in files:
        assert f.read_text().startswith("# Source: "), f


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_arch_presets_load_and_are_named_after_their_file(name):
    a = load_arch_preset(name)
    assert a.name == name
    assert a.description
    assert a.levels[0].capacity_words is None  # the outermost level is unbounded


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_presets_load_and_are_named_after_their_file(name):
    assert load_layer_preset(name).name == name


def test_layer_presets_have_the_published_shapes():
    assert load_layer_preset("resnet50_conv2_x_3x3") == conv2d(
        N=1, C=64, M=64, P=56, Q=56, R=3, S=3, stride=1, name="resnet50_conv2_x_3x3")
    assert load_layer_preset("eyeriss_default") == conv2d(
        N=1, C=3, M=32, P=112, Q=112, R=3, S=3, stride=2, name="eyeriss_default")
    assert load_layer_preset("bert_base_ffn1") == gemm(M=512, N=3072, K=768,
                                                       name="bert_base_ffn1")
    assert load_layer_preset("mobilenet_v2_features3_dw") == depthwise_conv2d(
        C=144, P=56, Q=56, R=3, S=3, name="mobilenet_v2_features3_dw")
    w = load_layer_preset("conv1d_ex04")
    assert w.shape == {"C": 32, "K": 32, "R": 3, "P": 16} and w.macs == 49152
    assert w.tensor("Inputs").axes == (((1, "C"),), ((1, "R"), (1, "P")))
    assert w.tensor("Outputs").read_write


def test_eyeriss_like_matches_the_reference_design():
    a = load_arch_preset("eyeriss_like")
    assert a.level_names == ("DRAM", "shared_glb", "inter_PE_column_spatial",
                             "inter_PE_spatial", "ifmap_spad", "weights_spad", "psum_spad")
    assert [l.instances for l in a.levels] == [1, 1, 1, 14, 168, 168, 168]
    assert [(l.mesh_x, l.mesh_y) for l in a.levels] == [
        (1, 1), (1, 1), (1, 1), (14, 1), (14, 12), (14, 12), (14, 12)]
    assert [a.fanout(i) for i in range(len(a.levels))] == [
        (1, 1), (1, 1), (14, 1), (1, 12), (1, 1), (1, 1), (1, 1)]
    assert (a.compute.name, a.compute.instances, a.compute.energy_pj) == ("mac", 168, 0.207692)
    assert [l.dummy for l in a.levels] == [False, False, True, True, False, False, False]
    lv = {l.name: l for l in a.levels}
    # capacity = depth x (width / datawidth); Timeloop's stats print the same sizes.
    assert [lv[n].capacity_words for n in ("shared_glb", "ifmap_spad", "weights_spad",
                                           "psum_spad")] == [131072, 24, 384, 16]
    assert [lv[n].block_size for n in ("DRAM", "shared_glb", "ifmap_spad", "weights_spad",
                                       "psum_spad")] == [8, 8, 2, 2, 1]
    assert lv["psum_spad"].bits("Outputs") == 16 and lv["ifmap_spad"].bits("Inputs") == 8
    assert lv["shared_glb"].keeps == ("Inputs", "Outputs")
    assert (lv["ifmap_spad"].keeps, lv["weights_spad"].keeps, lv["psum_spad"].keeps) == (
        ("Inputs",), ("Weights",), ("Outputs",))
    assert (lv["shared_glb"].read_energy_pj, lv["shared_glb"].fill_energy_pj,
            lv["shared_glb"].leak_energy_pj) == (18.183829, 14.137929, 0.005652)
    assert (lv["shared_glb"].read_bandwidth, lv["psum_spad"].write_bandwidth) == (16, 2)
    assert lv["DRAM"].read_energy_pj == 512.0 and lv["DRAM"].read_bandwidth is None


# The mapping the Timeloop mapper found for each design's default problem, with its
# totals from timeloop-mapper.stats.txt (energy printed in uJ with two decimals).
REFERENCE_RUNS = {
    "eyeriss_like": ([
        {"target": "DRAM", "temporal": {"P": 8, "Q": 2, "M": 4},
         "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "shared_glb", "temporal": {"P": 14, "Q": 4}, "keep": ["Inputs", "Outputs"]},
        {"target": "inter_PE_column_spatial", "spatial_x": {"Q": 14}},
        {"target": "inter_PE_spatial", "spatial_y": {"C": 3, "S": 3}},
        {"target": "ifmap_spad", "keep": ["Inputs"]},
        {"target": "weights_spad", "temporal": {"R": 3}, "keep": ["Weights"]},
        {"target": "psum_spad", "temporal": {"M": 8}, "keep": ["Outputs"]},
    ], 59.28, 86016),
    "simple_output_stationary": ([
        {"target": "DRAM", "temporal": {"P": 2, "Q": 8, "M": 2},
         "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "shared_glb", "temporal": {"Q": 14, "R": 3}, "keep": ["Weights", "Inputs"]},
        {"target": "inter_PE_spatial", "spatial_y": {"M": 16}},
        {"target": "pe_spad", "temporal": {"C": 3, "P": 4, "S": 3}, "keep": ["Outputs"]},
        {"target": "weight_reg", "temporal": {"P": 14}, "keep": ["Weights"]},
        {"target": "input_activation_reg", "keep": ["Inputs"]},
        {"target": "output_activation_reg", "keep": ["Outputs"]},
    ], 118.46, 677376),
    "simple_weight_stationary": ([
        {"target": "DRAM", "temporal": {"Q": 14}, "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "shared_glb", "temporal": {"S": 3, "P": 2, "M": 8},
         "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "inter_PE_spatial", "spatial_y": {"M": 4, "C": 3}},
        {"target": "pe_spad", "temporal": {"R": 3, "Q": 2, "P": 2}, "keep": ["Weights"]},
        {"target": "weight_reg", "temporal": {"P": 28, "Q": 4}, "keep": ["Weights"]},
        {"target": "input_activation_reg", "keep": ["Inputs"]},
        {"target": "output_activation_reg", "keep": ["Outputs"]},
    ], 151.67, 903168),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_RUNS))
def test_preset_reproduces_timeloop_totals(name):
    entries, energy_uj, cycles = REFERENCE_RUNS[name]
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset(name)
    # Timeloop's mapper statistics predate its PR #297.
    result = evaluate(w, a, load_mapping({"mapping": entries}, w, a),
                      options=ModelOptions(semantics="timeloop-pre297", link_transfers=True))
    assert result.cycles == cycles
    assert round(result.energy_pj * 1e-6, 2) == energy_uj


def test_simba_like_matches_its_reference():
    a = load_arch_preset("simba_like")
    assert [(l.name, l.mesh_x, l.mesh_y) for l in a.levels] == [
        ("DRAM", 1, 1), ("GlobalBuffer", 1, 1), ("inter_PE_spatial", 1, 1),
        ("PEInputBuffer", 16, 1), ("inter_distributed_buffers_spatial", 16, 1),
        ("PEWeightBuffer", 16, 4), ("PEAccuBuffer", 16, 4), ("inter_reg_mac_spatial", 16, 4),
        ("PEWeightRegs", 16, 16)]
    assert [a.fanout(i) for i in range(len(a.levels))] == [
        (1, 1), (1, 1), (16, 1), (1, 1), (1, 4), (1, 1), (1, 1), (1, 4), (1, 1)]
    assert a.num_pes == 256
    entries = [
        {"target": "DRAM", "temporal": {"Q": 28}, "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "GlobalBuffer", "temporal": {"P": 4}, "keep": ["Inputs", "Outputs"]},
        {"target": "inter_PE_spatial", "spatial_x": {"C": 3, "M": 4}},
        {"target": "PEInputBuffer", "temporal": {"Q": 4}, "keep": ["Inputs"]},
        {"target": "inter_distributed_buffers_spatial", "spatial_y": {"M": 4}},
        {"target": "PEWeightBuffer", "temporal": {"R": 3, "P": 4, "S": 3}, "keep": ["Weights"]},
        {"target": "PEAccuBuffer", "temporal": {"M": 2, "P": 7}, "keep": ["Outputs"]},
        {"target": "inter_reg_mac_spatial"},
        {"target": "PEWeightRegs", "keep": ["Weights"]},
    ]
    w = load_layer_preset("eyeriss_default")
    r = evaluate(w, a, load_mapping({"mapping": entries}, w, a))
    assert r.cycles == 225792
    # fJ per compute from the reference stats summary.
    expected = {"DRAM": 3272.35, "GlobalBuffer": 404.87, "PEInputBuffer": 9512.16,
                "PEWeightBuffer": 2273.35, "PEAccuBuffer": 6264.98, "PEWeightRegs": 22.78}
    for name, fj in expected.items():
        assert round(r.level(name).energy_pj * 1000 / r.macs, 2) == fj, name
    # The clustered register: 48 instances busy, spread over all 4 clusters of 64.
    regs = r.level("PEWeightRegs")
    assert (regs.utilized_instances, regs.utilized_clusters) == (48, 4)
    assert round(r.energy_pj * 1e-6, 2) == 239.15  # Timeloop's total in uJ


def test_tpu_like_has_the_tpu_v1_sizes():
    a = load_arch_preset("tpu_like")
    lv = {l.name: l for l in a.levels}
    assert a.num_pes == 256 * 256
    assert lv["UnifiedBuffer"].capacity_words * lv["UnifiedBuffer"].word_bits == 24 * 2**20 * 8
    acc = lv["Accumulators"]
    assert acc.capacity_words * acc.instances * acc.word_bits == 4 * 2**20 * 8
    assert acc.bits("Outputs") == 32
    assert lv["WeightFIFO"].capacity_words == 4 * 256 * 256
    assert a.fanout(a.index("WeightFIFO")) == (256, 1)
    assert a.fanout(a.index("Accumulators")) == (1, 256)
    assert lv["PEWeightReg"].effective_capacity_bits == 8  # double-buffered weight
    # The scaling rule stated in the file: 32 shared_glb-sized banks per 256-byte access.
    assert math.isclose(lv["UnifiedBuffer"].read_energy_pj, 32 * 18.183829)
    w = load_layer_preset("bert_base_ffn1")
    entries = [
        {"target": "DRAM", "temporal": {"N": 12}, "keep": ["Weights", "Inputs", "Outputs"]},
        {"target": "UnifiedBuffer", "temporal": {"K": 3}, "keep": ["Inputs", "Outputs"]},
        {"target": "WeightFIFO", "spatial_x": {"N": 256}, "keep": ["Weights"]},
        {"target": "Accumulators", "temporal": {"M": 512}, "spatial_y": {"K": 256},
         "keep": ["Outputs"]},
        {"target": "PEWeightReg", "keep": ["Weights"]},
    ]
    r = evaluate(w, a, load_mapping({"mapping": entries}, w, a))
    assert r.compute_cycles == 512 * 12 * 3


@pytest.mark.skipif(not (FIXTURES / "design_eyeriss_like").is_dir(),
                    reason="Timeloop reference fixtures not present")
@pytest.mark.parametrize("name", ["eyeriss_like", "simple_output_stationary",
                                  "simple_weight_stationary"])
def test_presets_agree_with_the_timeloop_importer(name):
    """Every number the importer reads from the reference equals the preset's."""
    from loopscape.spaces.io import load_timeloop
    folder = FIXTURES / f"design_{name}"
    imported = load_timeloop([str(folder / "parsed-processed-input.yaml"),
                              str(folder / "timeloop-mapper.ERT.yaml")]).arch
    preset = load_arch_preset(name)
    assert imported.level_names == preset.level_names
    assert imported.compute == preset.compute
    fields = ("instances", "mesh_x", "mesh_y", "dummy", "read_bandwidth", "write_bandwidth",
              "shared_bandwidth", "multiple_buffering", "min_utilization")
    stored = ("capacity_words", "word_bits", "block_size", "read_energy_pj",
              "fill_energy_pj", "update_energy_pj", "leak_energy_pj")
    for got, want in zip(imported.levels, preset.levels):
        assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
        if not want.dummy:  # a dummy level stores nothing, so its sizes do not matter
            assert [getattr(got, f) for f in stored] == [getattr(want, f) for f in stored]


# ----------------------------------------------------------------------------------
# Resolving names and paths (used by the CLI)
# ----------------------------------------------------------------------------------

def test_resolve_by_name_and_by_path(tmp_path):
    assert resolve_arch("eyeriss_like") is load_arch_preset("eyeriss_like")
    assert resolve_layer("conv1d_ex04") == load_layer_preset("conv1d_ex04")
    path = preset_path("simba_like", "architecture")
    assert resolve_arch(str(path)) == load_arch_preset("simba_like")
    assert resolve_arch(Path(path)) == load_arch_preset("simba_like")


def test_an_existing_file_wins_over_a_preset_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eyeriss_default").write_text(
        "layer: {name: mine, type: gemm, M: 2, N: 2, K: 2}\n")
    assert resolve_layer("eyeriss_default").name == "mine"


def test_unknown_name_lists_the_presets():
    with pytest.raises(SpecError) as e:
        resolve_arch("eyeriss")
    text = str(e.value)
    assert "neither an architecture preset nor an existing file" in text
    for name in ARCHS:
        assert name in text


def test_missing_path_says_so():
    with pytest.raises(SpecError, match="no such file"):
        resolve_layer("layers/missing.yaml")


def test_wrong_kind_of_preset():
    with pytest.raises(SpecError, match="'eyeriss_like' is an architecture preset, not a layer"):
        resolve_layer("eyeriss_like")
    with pytest.raises(SpecError, match="is a layer preset, not an architecture"):
        load_arch_preset("bert_base_ffn1")


def test_resolve_mapping_checks_but_leaves_capacity_to_evaluation(tmp_path):
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")
    entries = [dict(e) for e in REFERENCE_RUNS["eyeriss_like"][0]]
    entries[0] = {**entries[0], "temporal": {"P": 8, "Q": 2}}
    entries[6] = {**entries[6], "temporal": {"M": 32}}  # overflows psum_spad
    path = tmp_path / "map.yaml"
    path.write_text(json.dumps({"mapping": entries}))  # JSON is YAML
    assert resolve_mapping(path, w, a).level("psum_spad").temporal[0].factor == 32
    with pytest.raises(SpecError, match="no such file"):
        resolve_mapping(tmp_path / "absent.yaml", w, a)


def test_preset_files_hold_one_section_each():
    for p in list_presets():
        assert list(load_yaml(p.path)) == [p.kind]


# ----------------------------------------------------------------------------------
# The CLI command
# ----------------------------------------------------------------------------------

def _command():
    """The registered ``loopscape presets`` group entry, or the command object itself."""
    from loopscape.cli.main import cli
    if "presets" in cli.commands:
        return cli, ["presets"]
    from loopscape.cli.presets import presets
    return presets, []


def test_presets_command_prints_a_table():
    cmd, prefix = _command()
    result = CliRunner().invoke(cmd, prefix, terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ARCHS | LAYERS | MAPPINGS | CONSTRAINTS:
        assert name in result.output
    assert "source" in result.output and "Jouppi" in result.output


def test_presets_command_json():
    cmd, prefix = _command()
    result = CliRunner().invoke(cmd, prefix + ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {d["name"] for d in data} == ARCHS | LAYERS | MAPPINGS | CONSTRAINTS | SPARSITY
    assert all(set(d) >= {"name", "kind", "description", "source"} for d in data)


def test_presets_command_filters_by_kind():
    cmd, prefix = _command()
    result = CliRunner().invoke(cmd, prefix + ["--json", "--kind", "layer"])
    assert {d["name"] for d in json.loads(result.output)} == LAYERS


def test_cli_module_imports_on_its_own():
    import importlib
    mod = importlib.import_module("loopscape.cli.presets")
    assert mod.presets.name == "presets"


def test_mapping_preset_reproduces_timeloop_on_its_layer_and_architecture():
    # Timeloop's stats for this mapping (tests/fixtures/timeloop/design_eyeriss_like):
    # 5469.65 fJ/Compute x 10,838,016 computes, 86,016 cycles, 75% utilization.
    info = {p.name: p for p in list_presets("mapping")}["eyeriss_default_timeloop_best"]
    assert (info.architecture, info.layer) == ("eyeriss_like", "eyeriss_default")
    from loopscape.costmodels import ModelOptions, evaluate
    from loopscape.spaces.presets import resolve_mapping
    w, a = load_layer_preset(info.layer), load_arch_preset(info.architecture)
    r = evaluate(w, a, resolve_mapping(info.name, w, a),
                 options=ModelOptions(semantics="timeloop-pre297", link_transfers=True))  # Timeloop pre-#297 stats
    assert r.cycles == 86016 and r.utilization == 0.75
    assert abs(r.energy_pj - 5469.65 * 10838016 / 1000) / r.energy_pj < 1e-6


def test_unknown_mapping_name_lists_the_mapping_presets():
    from loopscape.spaces.presets import resolve_mapping
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")
    with pytest.raises(SpecError, match="eyeriss_default_timeloop_best"):
        resolve_mapping("no_such_mapping", w, a)


def test_eyeriss_constraints_preset_gives_timeloops_factorization_count():
    # With the design's default problem, Timeloop counts 2,041,200 index factorizations.
    from loopscape.spaces.mapspace import Mapspace
    from loopscape.spaces.presets import resolve_constraints
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")
    c = resolve_constraints("eyeriss_like_constraints", w, a)
    assert Mapspace(w, a, c).sizes()["index_factorization"] == 2_041_200
