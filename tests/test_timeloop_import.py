"""Unit tests of the Timeloop importer on small inline specs.

A small design (DRAM, a dummy spatial level, four buffers, four MACs) and a 1-D
convolution with output channels are written to temporary files, changed one key at a
time, and read back: conversions are checked value by value, and every kind of bad
input must raise a SpecError that names the file and the key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from loopscape.costmodels import evaluate
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import TimeloopSpec, load_timeloop
from loopscape.spaces.mapping import Loop


def _base() -> dict:
    """A processed-input-like document: arch, problem and a fixed mapping."""
    return {
        "architecture": {
            "version": "0.4",
            "subtree": [{
                "name": "system",
                "attributes": {"technology": "40nm", "global_cycle_seconds": 1e-9},
                "local": [
                    {"name": "DRAM[1..1]", "class": "DRAM",
                     "attributes": {"width": 64, "datawidth": 8, "n_banks": 2,
                                    "cluster_size": 1, "meshX": 1, "meshY": 1}},
                    {"name": "spatial[1..1]", "class": "dummy_storage",
                     "attributes": {"width": 1, "depth": 1, "datawidth": 1, "meshX": 1,
                                    "meshY": 1}},
                    {"name": "Buffer[1..4]", "class": "regfile",
                     "attributes": {"depth": 16, "width": 16, "datawidth": 8, "meshX": 4,
                                    "read_bandwidth": 2, "write_bandwidth": 2,
                                    "multiple_buffering": 1, "min_utilization": 0},
                     "required_actions": ["read", "write"], "enabled": True},
                    {"name": "MAC[1..4]", "class": "intmac",
                     "attributes": {"width": 8, "meshX": 4}},
                ],
            }],
        },
        "problem": {
            "version": "0.4",
            "shape": {
                "name": "conv1d_oc",
                "dimensions": ["K", "R", "P"],
                "coefficients": [{"name": "Wstride", "default": 1}],
                "data_spaces": [
                    {"name": "Weights", "projection": [[["K"]], [["R"]]]},
                    {"name": "Inputs", "projection": [[["R"], ["P", "Wstride"]]]},
                    {"name": "Outputs", "projection": [[["K"]], [["P"]]], "read_write": True},
                ],
            },
            "instance": {"K": 8, "R": 3, "P": 4, "W": 6, "Hpad": 0, "densities": {}},
        },
        "mapping": [
            {"target": "DRAM", "type": "temporal", "factors": "K=2,R=1,P=1",
             "permutation": "PRK"},
            {"target": "spatial", "type": "spatial", "factors": "K=4 R=1 P=1",
             "permutation": "KRP"},
            {"target": "spatial", "type": "bypass", "bypass": ["Weights", "Inputs", "Outputs"]},
            {"target": "Buffer", "type": "temporal", "factors": "R3 P4", "permutation": "RPK"},
        ],
        "architecture_constraints": {"targets": [{"target": "DRAM", "type": "temporal",
                                                  "permutation": "K"}]},
        "mapper": {"algorithm": "random"},
    }


def _ert() -> dict:
    return {"ERT": {"version": "0.4", "tables": [
        {"name": "system.DRAM[1..1]", "actions": [
            {"name": "read", "energy": 100.0}, {"name": "write", "energy": 90.0},
            {"name": "update", "energy": 80.0}, {"name": "leak", "energy": 0.0}]},
        {"name": "system.Buffer[1..4]", "actions": [
            {"name": "read", "energy": 2.0}, {"name": "write", "energy": 1.5},
            {"name": "leak", "energy": 0.01}]},
        {"name": "system.MAC[1..4]", "actions": [{"name": "compute", "energy": 0.5},
                                                  {"name": "leak", "energy": 0.1}]},
    ]}}


def _write(tmp_path: Path, name: str, doc) -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return p


def _load(tmp_path: Path, doc: dict, ert: dict | None = None) -> TimeloopSpec:
    files = [_write(tmp_path, "input.yaml", doc)]
    if ert is not None:
        files.append(_write(tmp_path, "ert.yaml", ert))
    return load_timeloop(files)


def _error(tmp_path: Path, doc, key: str, ert: dict | None = None,
           file: str = "input.yaml") -> SpecError:
    """Load and return the SpecError, checking that it names the file and the key."""
    with pytest.raises(SpecError) as info:
        _load(tmp_path, doc, ert) if isinstance(doc, dict) else load_timeloop(doc)
    err = info.value
    assert err.source is not None and err.source.endswith(file), str(err)
    assert err.key == key, str(err)
    assert file in str(err) and key in str(err)
    return err


# ----------------------------------------------------------------------------------
# Conversions
# ----------------------------------------------------------------------------------

def test_base_design_converts_and_evaluates(tmp_path):
    spec = _load(tmp_path, _base(), _ert())
    w, a, m = spec.workload, spec.arch, spec.mapping
    assert w.dims == ("K", "R", "P") and w.bounds == (8, 3, 4)
    assert [t.name for t in w.tensors] == ["Weights", "Inputs", "Outputs"]
    assert w.tensor("Outputs").read_write and not w.tensor("Inputs").read_write
    assert a.name == "system"
    assert a.level_names == ("DRAM", "spatial", "Buffer")
    assert a.compute.name == "MAC" and a.compute.instances == 4
    assert a.fanout(1) == (4, 1)
    assert spec.constraints == {"targets": [{"target": "DRAM", "type": "temporal",
                                             "permutation": "K"}]}
    assert spec.sources == (str(tmp_path / "input.yaml"), str(tmp_path / "ert.yaml"))
    result = evaluate(w, a, m)
    assert result.macs == 96 and result.compute_cycles == 24
    assert result.level("Buffer").slowdown < 1  # read_bandwidth 2 words/cycle was read


def test_permutation_is_reversed_to_outermost_first(tmp_path):
    doc = _base()
    doc["mapping"][0] = {"target": "DRAM", "type": "temporal", "factors": "K=2 R=1 P=1",
                         "permutation": "KRP"}
    doc["mapping"][3] = {"target": "Buffer", "type": "temporal", "factors": "R=3 P=4",
                         "permutation": "RPK"}
    m = _load(tmp_path, doc).mapping
    # Timeloop lists R innermost; loopscape lists P (outer) first. Unit loops are dropped.
    assert m.level("Buffer").temporal == (Loop("P", 4), Loop("R", 3))
    assert m.level("DRAM").temporal == (Loop("K", 2),)


def test_incomplete_permutation_is_padded_outside(tmp_path):
    doc = _base()
    doc["mapping"][3]["permutation"] = "P"  # R not listed: Timeloop appends it (outermost)
    assert _load(tmp_path, doc).mapping.level("Buffer").temporal == (Loop("R", 3), Loop("P", 4))


@pytest.mark.parametrize("split, xs, ys", [
    (None, ("K", "P"), ()),  # no split: everything on X
    (1, ("P",), ("K",)),     # the first (innermost) dimension, P, goes on X
    (0, (), ("K", "P")),
    (2, ("K", "P"), ()),
    (999, ("K", "P"), ()),   # split >= number of dimensions: all X
])
def test_spatial_split_x_y(tmp_path, split, xs, ys):
    doc = _base()
    arch_local = doc["architecture"]["subtree"][0]["local"]
    arch_local[2]["name"] = "Buffer[1..16]"
    arch_local[2]["attributes"]["meshX"] = 4
    arch_local[3]["name"] = "MAC[1..16]"
    arch_local[3]["attributes"]["meshX"] = 4
    entry = {"target": "spatial", "type": "spatial", "factors": "K=2 R=1 P=2",
             "permutation": "PKR"}
    if split is not None:
        entry["split"] = split
    doc["mapping"][1] = entry
    doc["mapping"][0]["factors"] = "K=4 R=1 P=1"
    doc["mapping"][3]["factors"] = "R=3 P=2"
    m = _load(tmp_path, doc).mapping
    lm = m.level("spatial")
    # Outermost first within X and within Y: reversed from the permutation "PKR".
    assert tuple(l.dim for l in lm.spatial_x) == xs
    assert tuple(l.dim for l in lm.spatial_y) == ys


@pytest.mark.parametrize("factors", [
    "R=3,P=4,K=1", "R=3 P=4 K=1", "R3 P4 K1", "R = 3, P = 4", ["R=3", "P=4"],
    {"R": 3, "P": 4, "K": 1}, "R=3 P=0  # 0 means the whole bound",
])
def test_factor_spellings(tmp_path, factors):
    doc = _base()
    doc["mapping"][3]["factors"] = factors
    lm = _load(tmp_path, doc).mapping.level("Buffer")
    assert {l.dim: l.factor for l in lm.temporal} == {"R": 3, "P": 4}


def test_dimensions_without_factors_are_one(tmp_path):
    doc = _base()
    doc["mapping"][0]["factors"] = "K=2"
    doc["mapping"][1]["factors"] = "K4"
    assert _load(tmp_path, doc).mapping.level("DRAM").temporal == (Loop("K", 2),)


def test_keep_defaults_and_bypass(tmp_path):
    doc = _base()
    del doc["mapping"][2]  # no bypass entry for the dummy level: it still keeps nothing
    doc["mapping"].append({"target": "Buffer", "type": "datatype", "bypass": ["Inputs"]})
    m = _load(tmp_path, doc).mapping
    assert m.level("DRAM").keep == ("Weights", "Inputs", "Outputs")
    assert m.level("spatial").keep == ()
    assert m.level("Buffer").keep == ("Weights", "Outputs")


def test_keep_and_bypass_entries_accumulate(tmp_path):
    doc = _base()
    doc["mapping"] += [{"target": "Buffer", "type": "bypass", "bypass": ["Inputs", "Weights"]},
                       {"target": "Buffer", "type": "dataspace", "keep": ["Weights"],
                        "bypass": []}]
    assert _load(tmp_path, doc).mapping.level("Buffer").keep == ("Weights", "Outputs")


def test_dummy_level_and_sizes(tmp_path):
    a = _load(tmp_path, _base()).arch
    dram, dummy, buf = a.levels
    assert dummy.dummy and not dram.dummy and not buf.dummy
    assert dram.capacity_words is None and dram.technology == "DRAM"
    assert dram.block_size == 8 and dram.word_bits == 8
    assert buf.block_size == 2 and buf.capacity_words == 32  # depth x width/datawidth
    assert (buf.instances, buf.mesh_x, buf.mesh_y) == (4, 4, 1)
    assert buf.read_bandwidth == 2 and buf.write_bandwidth == 2
    assert buf.shared_bandwidth is None


@pytest.mark.parametrize("attrs, capacity, block", [
    ({"entries": 100, "datawidth": 8}, 100, 1),
    ({"depth": 10, "block_size": 4, "datawidth": 8}, 40, 4),
    ({"depth": 10, "width": 32, "block_size": 4, "datawidth": 8}, 40, 4),
    ({"depth": 10, "n_words": 2, "datawidth": 16}, 20, 2),
    ({"sizeKB": 1, "datawidth": 16}, 512, 1),
])
def test_capacity_forms(tmp_path, attrs, capacity, block):
    doc = _base()
    doc["architecture"]["subtree"][0]["local"][2]["attributes"] = {"meshX": 4, **attrs}
    buf = _load(tmp_path, doc).arch.levels[2]
    assert (buf.capacity_words, buf.block_size) == (capacity, block)


def test_mesh_from_instances(tmp_path):
    doc = _base()
    local = doc["architecture"]["subtree"][0]["local"]
    del local[2]["attributes"]["meshX"]
    local[2]["attributes"]["meshY"] = 2
    local[2]["name"] = "Buffer[0..3]"
    del local[3]["attributes"]["meshX"]
    local[3]["attributes"]["meshY"] = 2
    buf = _load(tmp_path, doc).arch.levels[2]
    assert (buf.instances, buf.mesh_x, buf.mesh_y) == (4, 2, 2)


def test_nested_subtrees_multiply_instances(tmp_path):
    doc = _base()
    root = doc["architecture"]["subtree"][0]
    inner = {"name": "PE[1..4]", "local": root["local"][2:]}
    inner["local"][0]["name"] = "Buffer"
    inner["local"][1]["name"] = "MAC"
    root["local"] = root["local"][:2]
    root["subtree"] = [inner]
    a = _load(tmp_path, doc).arch
    assert a.level_names == ("DRAM", "spatial", "Buffer")
    assert a.levels[2].instances == 4 and a.compute.instances == 4


def test_coefficients_resolve(tmp_path):
    doc = _base()
    doc["problem"]["instance"]["Wstride"] = 2
    w = _load(tmp_path, doc).workload
    assert w.tensor("Inputs").axes == (((1, "R"), (2, "P")),)
    assert dict(w.params) == {"Wstride": 2}
    assert w.tensor_words("Inputs") == (4 - 1) * 2 + 3
    doc2 = _base()
    doc2["problem"]["shape"]["data_spaces"][0]["projection"] = ["K", "R"]  # flat form
    assert _load(tmp_path, doc2).workload.tensor("Weights").axes == (((1, "K"),), ((1, "R"),))


def test_ert_action_names(tmp_path):
    ert = _ert()
    ert["ERT"]["tables"][0]["actions"] = [
        {"name": "read", "energy": 10.0}, {"name": "random_read", "energy": 11.0},
        {"name": "write", "energy": 5.0}, {"name": "random_write", "energy": 6.0},
        {"name": "update", "energy": 7.0}, {"name": "leak", "energy": 0.5},
        {"name": "random_update", "arguments": {"data_delta": 0}, "energy": 8.0},
        {"name": "random_update", "arguments": {"data_delta": 1}, "energy": 9.0},
    ]
    ert["ERT"]["tables"][2]["actions"] = [{"name": "compute", "energy": 0.3},
                                          {"name": "mac_random", "energy": 0.4}]
    a = _load(tmp_path, _base(), ert).arch
    dram, dummy, buf = a.levels
    assert (dram.read_energy_pj, dram.fill_energy_pj, dram.update_energy_pj,
            dram.leak_energy_pj) == (11.0, 6.0, 9.0, 0.5)  # random_* first; max over arguments
    # Buffer: no update action -> write; no fill action -> write.
    assert (buf.read_energy_pj, buf.fill_energy_pj, buf.update_energy_pj,
            buf.leak_energy_pj) == (2.0, 1.5, 1.5, 0.01)
    assert dummy.read_energy_pj == 0.0
    assert a.compute.energy_pj == 0.4


def test_ert_missing_action_falls_back_to_largest(tmp_path):
    ert = _ert()
    ert["ERT"]["tables"][1]["actions"] = [{"name": "read", "energy": 3.0},
                                          {"name": "fill", "energy": 1.0}]
    buf = _load(tmp_path, _base(), ert).arch.levels[2]
    assert (buf.read_energy_pj, buf.fill_energy_pj, buf.update_energy_pj,
            buf.leak_energy_pj) == (3.0, 1.0, 3.0, 0.0)


def test_no_ert_means_zero_energy(tmp_path):
    a = _load(tmp_path, _base()).arch
    assert all(l.read_energy_pj == 0 for l in a.levels) and a.compute.energy_pj == 0


def test_map_file_fills_empty_mapping_in_either_order(tmp_path):
    doc = _base()
    mapping = doc.pop("mapping")
    doc["mapping"] = []
    main = _write(tmp_path, "input.yaml", doc)
    mapfile = _write(tmp_path, "best.map.yaml", {"mapping": mapping})
    ert = _write(tmp_path, "ert.yaml", _ert())
    for order in ([main, ert, mapfile], [mapfile, main, ert]):
        spec = load_timeloop(order)
        assert spec.mapping is not None
        assert spec.mapping.level("Buffer").temporal == (Loop("P", 4), Loop("R", 3))
    spec = load_timeloop([main, ert])
    assert spec.mapping is None


def test_descriptive_keys_are_accepted(tmp_path):
    doc = _base()
    doc["globals"] = {"environment_variables": {}}
    # A user's own Accelergy attribute passes when a compound-component class declares it
    # (an undeclared one is a typo: tests/test_timeloop_strict.py).
    doc["compound_components"] = {"classes": [{"name": "knobbed_buffer",
                                               "attributes": {"some_accelergy_knob": 0}}]}
    doc["dumped_by_timeloop_front_end"] = True
    attrs = doc["architecture"]["subtree"][0]["local"][2]["attributes"]
    attrs.update({"technology": "32nm", "n_banks": 4, "update_fifo_depth": 2,
                  "has_power_gating": False, "power_gated_at": None, "allow_overbooking": False,
                  "reduction_supported": True, "cluster_size": 1, "some_accelergy_knob": 7})
    doc["problem"]["instance"]["densities"] = {"Weights": 1.0}
    assert _load(tmp_path, doc).arch.levels[2].capacity_words == 32


# ----------------------------------------------------------------------------------
# Bad inputs: each names the file and the key
# ----------------------------------------------------------------------------------

def test_same_key_in_two_files(tmp_path):
    a = _write(tmp_path, "a.yaml", _base())
    b = _write(tmp_path, "b.yaml", {"problem": _base()["problem"]})
    with pytest.raises(SpecError) as info:
        load_timeloop([a, b])
    err = info.value
    assert err.key == "problem" and str(a) in str(err) and str(b) in str(err)


def test_two_nonempty_mappings_conflict(tmp_path):
    a = _write(tmp_path, "a.yaml", _base())
    b = _write(tmp_path, "b.map.yaml", {"mapping": _base()["mapping"]})
    with pytest.raises(SpecError) as info:
        load_timeloop([a, b])
    assert info.value.key == "mapping" and str(a) in str(info.value) and str(b) in str(info.value)


def _mutated(path: str, value=None, delete: bool = False) -> dict:
    """The base document with one value (a path of keys and indices) replaced or removed."""
    doc = _base()
    parts = path.split("/")
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if delete:
        del node[last]
    else:
        node[last] = copy.deepcopy(value)
    return doc


A = "architecture/subtree/0/local"  # path of the change
AK = "architecture.subtree[0].local"  # the same place as the error names it

BAD = [
    # (change to the base document, key the error must name, words in the message)
    (("bogus", 1), "bogus", "unknown top-level key"),
    (("sparse_optimizations", {"targets": [{"name": "Buffer", "bogus": 1}]}),
     "sparse_optimizations.targets[0]", "unknown keys"),
    (("problem/instance/P", None, True), "problem.instance.P", "no bound"),
    (("problem/instance/P", 0), "problem.instance.P", "at least 1"),
    (("problem/instance/P", "four"), "problem.instance.P", "number"),
    (("problem/instance/densities", {"Weights": 1.5}), "problem.instance.densities.Weights",
     "density must be in [0, 1]"),
    (("problem/shape/flatten", []), "problem.shape.flatten", "flatten"),
    (("problem/shape/data_spaces/0/projection", [[["X"]]]),
     "problem.shape.data_spaces[0].projection[0][0]", "unknown dimension"),
    (("problem/shape/data_spaces/1/projection", [[["R"], ["P", "Hstride"]]]),
     "problem.shape.data_spaces[1].projection[0][1]", "unknown coefficient"),
    (("problem/shape", "cnn-layer"), "problem.shape", "named shapes"),
    ((f"{A}/2/class", "crossbar"), f"{AK}[2].class", "unknown component class"),
    ((f"{A}/2/class", "XY_NoC"), f"{AK}[2].class", "network"),
    ((f"{A}/2/attributes/cluster_size", 3), f"{AK}[2].attributes.width", "cluster_size 3"),
    ((f"{A}/2/attributes/allow_overbooking", True), f"{AK}[2].attributes.allow_overbooking",
     "overbooking"),
    ((f"{A}/2/attributes/width", 12), f"{AK}[2].attributes.width", "multiple"),
    ((f"{A}/2/attributes/meshY", 3), f"{AK}[2].attributes", "meshX * meshY"),
    ((f"{A}/2/attributes/depth", -1), f"{AK}[2].attributes.depth", "at least 0"),
    ((f"{A}/2/enabled", False), f"{AK}[2].enabled", "disabled"),
    ((f"{A}/2/bogus", 1), f"{AK}[2].bogus", "unknown component key"),
    (("architecture/nodes", []), "architecture.nodes", "nodes"),
    (("mapping/3/target", "L2"), "mapping[3].target", "unknown target"),
    (("mapping/3/type", "fancy"), "mapping[3].type", "unknown mapping type"),
    (("mapping/3/type", "skew"), "mapping[3].type", "skew"),
    (("mapping/3/factors", "R=3 P=4 Z=1"), "mapping[3].factors", "unknown dimension"),
    (("mapping/3/factors", "R=3,2 P=4"), "mapping", "outermost loop of R"),
    (("mapping/3/factors", "R=3,4 P=4"), "mapping[3].factors", "outside 1..3"),
    (("mapping/3/factors", "R:three"), "mapping[3].factors", "cannot read factors"),
    (("mapping/3/factors", "R=3 R=1 P=4"), "mapping[3].factors", "two factors"),
    (("mapping/3/factors", "R=3 P=2"), "mapping", "multiply to 2"),
    (("mapping/3/permutation", "RPZ"), "mapping[3].permutation", "unknown dimension"),
    (("mapping/3/permutation", "RPR"), "mapping[3].permutation", "repeats"),
    (("mapping/3/no_temporal_reuse", ["Weights"]), "mapping[3].no_temporal_reuse",
     "not supported"),
    (("mapping/1/no_reuse", ["Inputs"]), "mapping[1].no_reuse", "not supported"),
    (("mapping/3/split", 1), "mapping[3].split", "unknown key"),
    (("mapping/2/keep", ["Psums"]), "mapping[2].keep", "unknown data space"),
    (("mapping/2/keep", ["Weights"]), "mapping[2]", "both kept and bypassed"),
    (("mapping/0", {"target": "DRAM", "type": "spatial", "factors": "K=2"}),
     "mapping[0].target", "no spatial fanout"),
    (("architecture_constraints", {"targets": [], "extra": 1}), "architecture_constraints.extra",
     "unknown constraints key"),
]


@pytest.mark.parametrize("change, key, words", BAD, ids=[f"{b[1]}:{b[2]}" for b in BAD])
def test_bad_input_names_file_and_key(tmp_path, change, key, words):
    doc = _mutated(*change)
    err = _error(tmp_path, doc, key)
    assert words in str(err)


def test_second_temporal_entry(tmp_path):
    doc = _base()
    doc["mapping"].append(copy.deepcopy(doc["mapping"][3]))
    err = _error(tmp_path, doc, "mapping[4]")
    assert "second temporal entry" in str(err)


def test_missing_problem(tmp_path):
    doc = _base()
    del doc["problem"]
    with pytest.raises(SpecError) as info:
        _load(tmp_path, doc)
    assert info.value.key == "problem" and "input.yaml" in str(info.value)


def test_ert_errors_name_the_ert_file(tmp_path):
    ert = _ert()
    ert["ERT"]["tables"][1]["actions"][0]["energy"] = "lots"
    _error(tmp_path, _base(), "ERT.tables[1].actions[0].energy", ert=ert, file="ert.yaml")


def test_file_level_errors(tmp_path):
    bad = _write(tmp_path, "bad.yaml", "architecture: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML") as info:
        load_timeloop([bad])
    assert info.value.source == str(bad)
    dup = _write(tmp_path, "dup.yaml", "problem: {}\nproblem: {}\n")
    with pytest.raises(SpecError, match="duplicate key") as info:
        load_timeloop([dup])
    assert info.value.source == str(dup)
    empty = _write(tmp_path, "empty.yaml", "")
    with pytest.raises(SpecError, match="empty") as info:
        load_timeloop([empty])
    assert info.value.source == str(empty)
    with pytest.raises(SpecError, match="no such file") as info:
        load_timeloop([tmp_path / "missing.yaml"])
    assert info.value.source == str(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="no Timeloop files"):
        load_timeloop([])
