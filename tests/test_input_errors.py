"""Every kind of bad input gives one SpecError naming the file, the key path and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_arch, load_mapping, load_workload, load_yaml
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

GEMM = """\
layer:
  name: mm
  type: gemm
  M: 64
  N: 32
  K: 16
"""

ARCH = """\
architecture:
  name: two_level
  levels:
    - name: DRAM
      word_bits: 8
      block_size: 4
      energy_pj: {read: 100, fill: 100, update: 100}
    - name: Buffer
      capacity_words: 1024
      word_bits: 8
      energy_pj: {read: 1.5, fill: 1.5, update: 1.5, leak: 0.01}
      bandwidth: {read: 4, write: 4}
      mesh: [4, 1]
      keeps: [Inputs, Outputs]
  compute:
    name: MAC
    mesh: [4, 4]
    energy_pj: 0.2
"""

MAPPING = """\
mapping:
  - target: DRAM
    temporal: {M: 16, N: 8}
    spatial_x: {N: 4}
    keep: [Weights, Inputs, Outputs]
  - target: Buffer
    temporal: {K: 16, M: 4}
    keep: [Inputs, Outputs]
"""


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(load, path: Path, *args) -> SpecError:
    with pytest.raises(SpecError) as info:
        load(path, *args)
    return info.value


def check(err: SpecError, path: Path, key: str, *words: str) -> None:
    """The message names the file, the key path, carries a fix, and says ``words``."""
    text = str(err)
    assert path.name in text and err.source == str(path), text
    assert err.key == key and key in text, text
    assert err.fix and "(fix: " in text, text
    for w in words:
        assert w in text, text


def _mapping_error(tmp_path, text):
    w = load_workload(_write(tmp_path, GEMM, "layer.yaml"))
    a = load_arch(_write(tmp_path, ARCH, "arch.yaml"))
    path = _write(tmp_path, text, "map.yaml")
    return path, _error(load_mapping, path, w, a)


def test_good_files_load(tmp_path):
    w = load_workload(_write(tmp_path, GEMM, "layer.yaml"))
    a = load_arch(_write(tmp_path, ARCH, "arch.yaml"))
    m = load_mapping(_write(tmp_path, MAPPING, "map.yaml"), w, a)
    assert a.fanout(0) == (4, 1) and a.fanout(1) == (1, 4)
    assert a.levels[0].capacity_words is None
    assert m.level("DRAM").spatial_x[0].factor == 4


# ---- unknown keys -----------------------------------------------------------------

def test_unknown_layer_key_lists_the_allowed_ones(tmp_path):
    path = _write(tmp_path, GEMM + "  stride: 2\n")
    check(_error(load_workload, path), path, "layer.stride", "unknown key 'stride'",
          "allowed keys here: name, type, M, N, K")


def test_unknown_level_key(tmp_path):
    path = _write(tmp_path, ARCH.replace("capacity_words: 1024", "capacity: 1024"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.capacity",
          "unknown key 'capacity'", "capacity_words")


def test_unknown_top_level_key(tmp_path):
    path = _write(tmp_path, GEMM + "layers: []\n")
    check(_error(load_workload, path), path, "layers", "unknown top-level key",
          "layer, architecture, mapping")


def test_timeloop_file_gets_a_pointer_to_the_importer(tmp_path):
    path = _write(tmp_path, "architecture:\n  version: 0.4\n  nodes: []\n")
    check(_error(load_arch, path), path, "architecture.version", "load_timeloop")


# ---- wrong types ------------------------------------------------------------------

def test_string_where_integer(tmp_path):
    path = _write(tmp_path, GEMM.replace("M: 64", "M: '64'"))
    check(_error(load_workload, path), path, "layer.M", "expected an integer",
          "a string ('64')", "without quotes")


def test_list_where_map(tmp_path):
    path = _write(tmp_path, ARCH.replace("energy_pj: {read: 1.5, fill: 1.5, update: 1.5, "
                                         "leak: 0.01}", "energy_pj: [1.5, 1.5, 1.5]"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.energy_pj",
          "expected a map", "got a list")


def test_map_where_list(tmp_path):
    path = _write(tmp_path, ARCH.replace("keeps: [Inputs, Outputs]", "keeps: {Inputs: 1}"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.keeps",
          "expected a list of tensors", "got a map")


def test_float_where_integer(tmp_path):
    path = _write(tmp_path, ARCH.replace("capacity_words: 1024", "capacity_words: 1024.0"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.capacity_words",
          "expected an integer", "1024")


def test_string_where_number(tmp_path):
    path = _write(tmp_path, ARCH.replace("energy_pj: 0.2", "energy_pj: cheap"))
    check(_error(load_arch, path), path, "architecture.compute.energy_pj",
          "expected a number", "'cheap'")


def test_layer_is_not_a_map(tmp_path):
    path = _write(tmp_path, "layer: [1, 2]\n")
    check(_error(load_workload, path), path, "layer", "expected a map")


def test_unknown_layer_type(tmp_path):
    path = _write(tmp_path, GEMM.replace("type: gemm", "type: conv3d"))
    check(_error(load_workload, path), path, "layer.type", "unknown layer type",
          "conv2d, depthwise, gemm, fc, bmm, einsum")


# ---- non-positive sizes, factors and bounds ---------------------------------------

def test_zero_bound(tmp_path):
    path = _write(tmp_path, GEMM.replace("K: 16", "K: 0"))
    check(_error(load_workload, path), path, "layer.K", "must be positive, got 0")


def test_negative_einsum_bound(tmp_path):
    path = _write(tmp_path, "layer:\n  name: e\n  type: einsum\n"
                            "  expression: 'O[m] += A[m, k]'\n  bounds: {m: 4, k: -2}\n")
    check(_error(load_workload, path), path, "layer.bounds.k", "must be positive")


def test_zero_capacity(tmp_path):
    path = _write(tmp_path, ARCH.replace("capacity_words: 1024", "capacity_words: 0"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.capacity_words",
          "must be positive")


def test_zero_bandwidth(tmp_path):
    path = _write(tmp_path, ARCH.replace("bandwidth: {read: 4, write: 4}",
                                         "bandwidth: {read: 0, write: 4}"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.bandwidth.read",
          "must be positive")


def test_zero_factor(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("temporal: {K: 16, M: 4}",
                                                         "temporal: {K: 16, M: 0}"))
    check(err, path, "mapping.Buffer.temporal.M", "must be positive, got 0")


def test_zero_mesh(tmp_path):
    path = _write(tmp_path, ARCH.replace("mesh: [4, 1]", "mesh: [4, 0]"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.mesh[1]",
          "must be positive")


# ---- booleans used as integers ----------------------------------------------------

def test_bool_as_bound(tmp_path):
    path = _write(tmp_path, GEMM.replace("N: 32", "N: yes"))
    check(_error(load_workload, path), path, "layer.N", "got a boolean (true)",
          "booleans in YAML")


def test_bool_as_word_bits(tmp_path):
    path = _write(tmp_path, ARCH.replace("word_bits: 8\n      energy_pj: {read: 1.5",
                                         "word_bits: true\n      energy_pj: {read: 1.5"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.word_bits",
          "got a boolean")


def test_bool_as_factor(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("{K: 16, M: 4}", "{K: 16, M: on}"))
    check(err, path, "mapping.Buffer.temporal.M", "got a boolean")


# ---- negative energies ------------------------------------------------------------

def test_negative_read_energy(tmp_path):
    path = _write(tmp_path, ARCH.replace("read: 1.5", "read: -1.5"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.energy_pj.read",
          "must be non-negative, got -1.5")


def test_negative_mac_energy(tmp_path):
    path = _write(tmp_path, ARCH.replace("energy_pj: 0.2", "energy_pj: -2e-1"))
    check(_error(load_arch, path), path, "architecture.compute.energy_pj", "non-negative")


def test_timeloop_write_energy_name(tmp_path):
    path = _write(tmp_path, ARCH.replace("fill: 1.5,", "write: 1.5,"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.energy_pj.write",
          "called fill here")


# ---- unknown tensor and dimension names -------------------------------------------

def test_unknown_dimension_in_mapping(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("{K: 16, M: 4}", "{X: 16, M: 4}"))
    check(err, path, "mapping.Buffer.temporal.X", "unknown dimension 'X'", "['M', 'N', 'K']")


def test_unknown_tensor_in_keep(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("keep: [Inputs, Outputs]",
                                                         "keep: [Inputs, Output]"))
    check(err, path, "mapping.Buffer.keep", "unknown tensor 'Output'",
          "['Weights', 'Inputs', 'Outputs']")


def test_tensor_the_level_may_not_keep(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("keep: [Inputs, Outputs]",
                                                         "keep: [Inputs, Outputs, Weights]"))
    check(err, path, "mapping.Buffer.keep", "cannot keep Weights",
          "may only keep ['Inputs', 'Outputs']")


def test_unknown_dimension_in_einsum(tmp_path):
    path = _write(tmp_path, "layer:\n  name: e\n  type: einsum\n"
                            "  expression: 'O[m] += A[m, k]'\n  bounds: {m: 4, k: 2, z: 3}\n")
    check(_error(load_workload, path), path, "layer.bounds", "['z']")


def test_unknown_level_in_mapping(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("target: Buffer", "target: GLB"))
    check(err, path, "mapping.GLB.target", "has no level 'GLB'", "DRAM, Buffer")


def test_mapping_levels_out_of_order(tmp_path):
    text = ("mapping:\n  - target: Buffer\n    keep: [Inputs]\n"
            "  - target: DRAM\n    keep: [Weights, Inputs, Outputs]\n")
    path, err = _mapping_error(tmp_path, text)
    check(err, path, "mapping.Buffer.target", "level 0 of 'two_level' is 'DRAM'")


# ---- meshes -----------------------------------------------------------------------

def test_mesh_not_a_multiple_of_the_level_above(tmp_path):
    path = _write(tmp_path, ARCH.replace("mesh: [4, 4]", "mesh: [6, 4]"))
    check(_error(load_arch, path), path, "architecture.compute.MAC",
          "not a multiple of the mesh 4x1")


def test_mesh_disagrees_with_instances(tmp_path):
    path = _write(tmp_path, ARCH.replace("mesh: [4, 1]", "mesh: [4, 1]\n      instances: 8"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.instances",
          "instances = 8 but mesh 4x1 has 4")


def test_mesh_with_three_extents(tmp_path):
    path = _write(tmp_path, ARCH.replace("mesh: [4, 1]", "mesh: [4, 1, 1]"))
    check(_error(load_arch, path), path, "architecture.levels.Buffer.mesh",
          "two positive integers", "length 3")


def test_spatial_factors_exceed_fanout(tmp_path):
    text = MAPPING.replace("temporal: {M: 16, N: 8}\n    spatial_x: {N: 4}",
                           "temporal: {M: 16, N: 4}\n    spatial_x: {N: 8}")
    path, err = _mapping_error(tmp_path, text)
    check(err, path, "mapping.DRAM.spatial_x", "multiply to 8", "X fanout is 4")


# ---- factor products --------------------------------------------------------------

def test_factor_product_below_bound(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("{K: 16, M: 4}", "{K: 8, M: 4}"))
    check(err, path, "mapping", "factors of K multiply to 8", "(Buffer 8)",
          "K = 16", "multiply to exactly 16")


def test_factor_product_above_bound(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("{M: 16, N: 8}", "{M: 32, N: 8}"))
    check(err, path, "mapping", "factors of M multiply to 128", "DRAM 32 x Buffer 4")


# ---- duplicate keys ---------------------------------------------------------------

def test_duplicate_key_in_layer(tmp_path):
    path = _write(tmp_path, GEMM + "  M: 32\n")
    check(_error(load_workload, path), path, "layer.M", "duplicate key 'M'",
          "line 4, column 3 and line 7, column 3")


def test_duplicate_key_in_flow_map(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("{K: 16, M: 4}", "{K: 16, K: 4}"))
    check(err, path, "mapping.Buffer.temporal.K", "duplicate key 'K'")


def test_duplicate_level_name(tmp_path):
    path = _write(tmp_path, ARCH.replace("name: Buffer", "name: DRAM"))
    check(_error(load_arch, path), path, "architecture.levels.DRAM", "used twice")


def test_duplicate_top_level_key(tmp_path):
    path = _write(tmp_path, GEMM + GEMM)
    check(_error(load_yaml, path), path, "layer", "duplicate key 'layer'")


# ---- missing required keys --------------------------------------------------------

def test_missing_bound(tmp_path):
    path = _write(tmp_path, GEMM.replace("  K: 16\n", ""))
    check(_error(load_workload, path), path, "layer", "missing required key 'K'")


def test_missing_energy(tmp_path):
    path = _write(tmp_path, ARCH.replace("      energy_pj: {read: 1.5, fill: 1.5, update: 1.5, "
                                         "leak: 0.01}\n", ""))
    check(_error(load_arch, path), path, "architecture.levels.Buffer",
          "missing required key 'energy_pj'")


def test_missing_keep(tmp_path):
    path, err = _mapping_error(tmp_path, MAPPING.replace("    keep: [Inputs, Outputs]\n", ""))
    check(err, path, "mapping.Buffer", "missing required key 'keep'", "keep: []")


def test_missing_section(tmp_path):
    path = _write(tmp_path, GEMM)
    check(_error(load_arch, path), path, "architecture",
          "missing required top-level key 'architecture'", "holds 'layer'")


def test_missing_mapping_level(tmp_path):
    text = MAPPING.split("  - target: Buffer")[0]
    path, err = _mapping_error(tmp_path, text)
    check(err, path, "mapping", "has 1 levels but architecture 'two_level' has 2",
          "missing ['Buffer']")


# ---- empty files and files that are not YAML --------------------------------------

def test_empty_file(tmp_path):
    path = _write(tmp_path, "")
    check(_error(load_workload, path), path, "layer", "the file is empty")


def test_comment_only_file(tmp_path):
    path = _write(tmp_path, "# nothing here\n")
    check(_error(load_arch, path), path, "architecture", "the file is empty")


def test_not_yaml(tmp_path):
    path = _write(tmp_path, "layer:\n  name: [mm\n  type: gemm\n")
    check(_error(load_workload, path), path, "line 3, column 7", "not valid YAML")


def test_tabs_are_not_yaml(tmp_path):
    path = _write(tmp_path, "layer:\n\tname: mm\n")
    check(_error(load_workload, path), path, "line 2, column 1", "not valid YAML")


def test_plain_text_is_not_a_spec(tmp_path):
    path = _write(tmp_path, "this is not a layer\n")
    check(_error(load_workload, path), path, "layer", "expected a YAML map",
          "a string ('this is not a layer')")


def test_binary_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01layer")
    err = _error(load_workload, path)
    assert path.name in str(err) and "not a text file" in str(err) and err.fix


def test_missing_file(tmp_path):
    err = _error(load_workload, tmp_path / "absent.yaml")
    assert "absent.yaml: no such file" in str(err) and err.fix


# ---- errors raised while building objects carry the file and the full key ----------

def test_groups_must_divide_channels(tmp_path):
    path = _write(tmp_path, "layer:\n  name: g\n  type: conv2d\n  C: 6\n  M: 8\n  P: 4\n"
                            "  Q: 4\n  R: 3\n  S: 3\n  groups: 4\n")
    check(_error(load_workload, path), path, "layer.groups", "not divisible by groups = 4")


def test_einsum_expression_syntax(tmp_path):
    path = _write(tmp_path, "layer:\n  name: e\n  type: einsum\n"
                            "  expression: 'O[m] = A[m]'\n  bounds: {m: 4}\n")
    check(_error(load_workload, path), path, "layer.expression", "+=")


def test_capacity_overflow_names_the_level(tmp_path):
    text = MAPPING.replace("{M: 16, N: 8}", "{N: 8}").replace("{K: 16, M: 4}",
                                                              "{K: 16, M: 64}")
    path, err = _mapping_error(tmp_path, text)
    check(err, path, "mapping.Buffer", "kept tiles need", "holds 8192 bits")


def test_problems_are_reported_for_presets_too(tmp_path):
    """A preset-based mapping file with a wrong factor names the file and key."""
    path = _write(tmp_path, "mapping:\n  - target: DRAM\n    temporal: {P: 3}\n"
                            "    keep: [Weights, Inputs, Outputs]\n")
    err = _error(load_mapping, path, load_layer_preset("eyeriss_default"),
                 load_arch_preset("eyeriss_like"))
    check(err, path, "mapping", "has 1 levels but architecture 'eyeriss_like' has 7")
