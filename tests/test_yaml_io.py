"""Round trips of loopscape's YAML format: every preset, every builder, and mappings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import (dump_arch, dump_mapping, dump_workload, load_arch,
                                 load_mapping, load_workload, load_yaml, save_arch,
                                 save_mapping, save_workload, to_yaml)
from loopscape.spaces.mapping import LevelMapping, Loop, Mapping
from loopscape.spaces.presets import list_presets, load_arch_preset, load_layer_preset
from loopscape.spaces.workload import (Tensor, Workload, batched_matmul, conv2d,
                                       depthwise_conv2d, einsum, fully_connected, gemm)

ARCH_PRESETS = [p.name for p in list_presets("architecture")]
LAYER_PRESETS = [p.name for p in list_presets("layer")]

BUILDERS = {
    "conv2d": conv2d(N=2, C=8, M=16, P=7, Q=5, R=3, S=3, name="conv"),
    "conv2d_stride_dilation": conv2d(C=4, M=4, P=6, Q=6, R=3, S=3, stride=(2, 1),
                                     dilation=(1, 2), name="conv_sd"),
    "grouped_conv2d": conv2d(C=8, M=12, P=4, Q=4, R=3, S=3, groups=4, stride=2,
                             name="grouped"),
    "depthwise": depthwise_conv2d(C=16, P=8, Q=8, R=3, S=3, stride=2, name="dw"),
    "depthwise_asym": depthwise_conv2d(N=2, C=3, P=5, Q=4, R=3, S=1, stride=(1, 2),
                                       dilation=(2, 1), name="dw_asym"),
    "gemm": gemm(M=64, N=32, K=16, name="mm"),
    "fc": fully_connected(N=4, C=100, M=10, name="fc"),
    "bmm": batched_matmul(B=12, M=64, N=64, K=32, name="attn"),
    "einsum": einsum("O[k, p] += W[c, k, r] * I[c, 2*p + r]", {"c": 4, "k": 2, "r": 3, "p": 5},
                     name="conv1d_s2"),
    "einsum_negative": einsum("O[m] += A[m, k] * B[k - m]", {"m": 3, "k": 4}, name="neg"),
}

EYERISS_MAPPING = [
    {"target": "DRAM", "temporal": {"P": 8, "Q": 2, "M": 4},
     "keep": ["Weights", "Inputs", "Outputs"]},
    {"target": "shared_glb", "temporal": {"P": 14, "Q": 4}, "keep": ["Inputs", "Outputs"]},
    {"target": "inter_PE_column_spatial", "spatial_x": {"Q": 14}},
    {"target": "inter_PE_spatial", "spatial_y": {"C": 3, "S": 3}},
    {"target": "ifmap_spad", "keep": ["Inputs"]},
    {"target": "weights_spad", "temporal": {"R": 3}, "keep": ["Weights"]},
    {"target": "psum_spad", "temporal": {"M": 8}, "keep": ["Outputs"]},
]


@pytest.mark.parametrize("name", ARCH_PRESETS)
def test_arch_preset_round_trip(name, tmp_path):
    a = load_arch_preset(name)
    assert load_arch(dump_arch(a)) == a
    assert load_arch(dump_arch(a)).description == a.description
    path = tmp_path / f"{name}.yaml"
    save_arch(a, path)
    assert load_arch(path) == a


@pytest.mark.parametrize("name", LAYER_PRESETS)
def test_layer_preset_round_trip(name, tmp_path):
    w = load_layer_preset(name)
    assert load_workload(dump_workload(w)) == w
    path = tmp_path / f"{name}.yaml"
    save_workload(w, path)
    assert load_workload(path) == w


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_round_trip(name, tmp_path):
    w = BUILDERS[name]
    doc = dump_workload(w)
    assert load_workload(doc) == w
    path = tmp_path / "layer.yaml"
    save_workload(w, path)
    assert load_workload(path) == w


def test_builders_are_written_in_builder_form():
    assert dump_workload(BUILDERS["grouped_conv2d"])["layer"] == {
        "name": "grouped", "type": "conv2d", "N": 1, "C": 8, "M": 12, "P": 4, "Q": 4, "R": 3,
        "S": 3, "stride": 2, "dilation": 1, "groups": 4}
    assert dump_workload(BUILDERS["conv2d_stride_dilation"])["layer"]["stride"] == [2, 1]
    assert dump_workload(BUILDERS["fc"])["layer"]["type"] == "fc"
    assert dump_workload(BUILDERS["bmm"])["layer"]["type"] == "bmm"
    assert dump_workload(BUILDERS["einsum"])["layer"] == {
        "name": "conv1d_s2", "type": "einsum",
        "expression": "O[k, p] += W[c, k, r] * I[c, 2*p+r]",
        "bounds": {"k": 2, "p": 5, "c": 4, "r": 3}}


def test_arbitrary_workload_is_written_as_einsum():
    # Dimensions in an order no builder uses, coefficients, a kind of its own.
    w = Workload("odd", ("c", "p", "r"), (3, 4, 2), (
        Tensor("In", (((1, "c"),), ((3, "p"), (-1, "r")))),
        Tensor("Out", (((1, "p"),),), True)), kind="custom")
    body = dump_workload(w)["layer"]
    assert body["type"] == "einsum"
    assert body["expression"] == "Out[p] += In[c, 3*p-r]"
    back = load_workload({"layer": body})
    assert (back.dims, back.bounds, back.tensors) == (w.dims, w.bounds, w.tensors)
    assert back.kind == "einsum"


def test_conv2d_not_in_builder_order_falls_back_to_einsum():
    c = conv2d(C=2, M=2, P=3, Q=3, R=1, S=1)
    order = ("C", "M", "R", "S", "N", "P", "Q")  # Timeloop's order
    w = Workload(c.name, order, tuple(c.shape[d] for d in order), c.tensors, c.kind, c.params)
    body = dump_workload(w)["layer"]
    assert body["type"] == "einsum"
    assert list(body["bounds"]) == list(order)


def test_unwritable_workload_raises():
    w = Workload("two_outs", ("m",), (2,), (Tensor("A", (((1, "m"),),), True),
                                          Tensor("B", (((1, "m"),),), True)))
    with pytest.raises(SpecError, match="exactly one read-write tensor"):
        dump_workload(w)


def test_einsum_keeps_bounds_order():
    w = load_workload({"layer": {"name": "x", "type": "einsum",
                                 "expression": "Outputs[K, P] += Weights[C, K, R] * Inputs[C, R+P]",
                                 "bounds": {"C": 32, "K": 32, "R": 3, "P": 16}}})
    assert w.dims == ("C", "K", "R", "P")
    assert w.tensor_names == ("Weights", "Inputs", "Outputs")
    assert w.tensor("Inputs").axes == (((1, "C"),), ((1, "R"), (1, "P")))


def test_conv2d_accepts_k_for_m():
    body = {"name": "c", "type": "conv2d", "C": 4, "K": 8, "P": 2, "Q": 2, "R": 1, "S": 1}
    assert load_workload({"layer": body}) == conv2d(C=4, M=8, P=2, Q=2, R=1, S=1, name="c")


@given(n=st.integers(1, 3), c=st.integers(1, 9), m=st.integers(1, 9), p=st.integers(1, 9),
       q=st.integers(1, 9), r=st.integers(1, 5), s=st.integers(1, 5),
       stride=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       dilation=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       groups=st.sampled_from([1, 1, 2, 3]))
def test_conv2d_round_trip_property(n, c, m, p, q, r, s, stride, dilation, groups):
    w = conv2d(N=n, C=c * groups, M=m * groups, P=p, Q=q, R=r, S=s, stride=stride,
               dilation=dilation, groups=groups, name="prop")
    assert load_workload(yaml.safe_load(to_yaml(dump_workload(w)))) == w


# ----------------------------------------------------------------------------------
# Mappings and files
# ----------------------------------------------------------------------------------

def _eyeriss():
    return load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")


def test_mapping_round_trip(tmp_path):
    w, a = _eyeriss()
    m = load_mapping({"mapping": EYERISS_MAPPING}, w, a)
    assert m.level("DRAM").temporal == (Loop("P", 8), Loop("Q", 2), Loop("M", 4))
    assert m.level("inter_PE_spatial").spatial_y == (Loop("C", 3), Loop("S", 3))
    assert m.level("inter_PE_spatial").keep == ()  # dummy level: keep may be omitted
    assert load_mapping(dump_mapping(m), w, a) == m
    assert load_mapping(dump_mapping(m)) == m
    path = tmp_path / "map.yaml"
    save_mapping(m, path)
    assert load_mapping(path, w, a) == m


def test_mapping_dump_is_outermost_first_and_ordered():
    m = Mapping((LevelMapping("L0", (Loop("Q", 2), Loop("P", 3)), (Loop("C", 2),), (),
                              ("A",)),))
    assert dump_mapping(m) == {"mapping": [
        {"target": "L0", "temporal": {"Q": 2, "P": 3}, "spatial_x": {"C": 2}, "keep": ["A"]}]}
    text = to_yaml(dump_mapping(m))
    assert "temporal: {Q: 2, P: 3}" in text


def test_one_file_holds_layer_architecture_and_mapping(tmp_path):
    w, a = _eyeriss()
    doc = {**dump_workload(w), **dump_arch(a), "mapping": EYERISS_MAPPING}
    path = tmp_path / "all.yaml"
    path.write_text(to_yaml(doc))
    assert load_workload(path) == w
    assert load_arch(path) == a
    assert load_mapping(path, load_workload(path), load_arch(path)).levels[0].target == "DRAM"


def test_capacity_check_can_be_skipped():
    w, a = _eyeriss()
    entries = [dict(e) for e in EYERISS_MAPPING]
    entries[0] = {**entries[0], "temporal": {"P": 8, "Q": 2}}
    entries[6] = {**entries[6], "temporal": {"M": 32}}  # 32 psums > 16 words
    with pytest.raises(SpecError, match="kept tiles need"):
        load_mapping({"mapping": entries}, w, a)
    m = load_mapping({"mapping": entries}, w, a, check_capacity=False)
    assert m.level("psum_spad").temporal == (Loop("M", 32),)


def test_saved_text_is_plain_yaml_and_readable(tmp_path):
    a = load_arch_preset("eyeriss_like")
    path = tmp_path / "a.yaml"
    save_arch(a, path)
    text = path.read_text()
    assert text.startswith("# loopscape architecture")
    assert "mesh: [14, 12]" in text
    assert "&id" not in text and "!!" not in text
    assert yaml.safe_load(text) == dump_arch(a)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    w = BUILDERS["gemm"]
    path = tmp_path / "layer.yaml"
    path.write_text("old")
    os.chmod(path, 0o640)
    save_workload(w, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.yaml"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert load_workload(path) == w


def test_save_into_missing_directory_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="directory does not exist"):
        save_workload(BUILDERS["gemm"], tmp_path / "nope" / "layer.yaml")


def test_scientific_notation_reads_as_float(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1e-3\nb: 2.5e3\nc: 1.0e+2\nd: '1e-3'\n")
    assert load_yaml(path) == {"a": 0.001, "b": 2500.0, "c": 100.0, "d": "1e-3"}


def test_memory_source_is_named():
    with pytest.raises(SpecError) as e:
        load_workload({"layer": {"name": "x", "type": "gemm", "M": 1, "N": 1}})
    assert e.value.source == "<memory>"
    assert "<memory>: layer: missing required key 'K'" in str(e.value)


FIXTURES = Path(__file__).parent / "fixtures" / "timeloop"
TIMELOOP_CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) \
    if FIXTURES.is_dir() else []


@pytest.mark.parametrize("case", TIMELOOP_CASES)
def test_imported_timeloop_specs_round_trip(case, tmp_path):
    """Anything the Timeloop importer builds can be saved in our format and read back."""
    from loopscape.spaces.io import load_timeloop
    spec = load_timeloop([str(p) for p in sorted((FIXTURES / case).glob("*.yaml"))])
    assert load_workload(dump_workload(spec.workload)) == spec.workload
    assert load_arch(dump_arch(spec.arch)) == spec.arch
    if spec.mapping is not None:
        path = tmp_path / "map.yaml"
        save_mapping(spec.mapping, path)
        assert load_mapping(path, spec.workload, spec.arch,
                            check_capacity=False) == spec.mapping


DOCS = Path(__file__).parent.parent / "docs" / "formats.md"


def _doc_blocks() -> list[str]:
    if not DOCS.is_file():
        return []
    parts = DOCS.read_text().split("```yaml\n")[1:]
    return [p.split("```")[0] for p in parts]


@pytest.mark.parametrize("index", range(len(_doc_blocks())))
def test_docs_examples_load(index, tmp_path):
    """Every YAML example in docs/formats.md is a valid file."""
    path = tmp_path / "example.yaml"
    path.write_text(_doc_blocks()[index])
    data = load_yaml(path)
    w = load_workload(path) if "layer" in data else None
    a = load_arch(path) if "architecture" in data else None
    if "mapping" in data:
        m = load_mapping(path, w, a)
        if w is not None and a is not None:
            from loopscape.costmodels import evaluate
            assert evaluate(w, a, m).utilization == 1.0
