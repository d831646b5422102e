"""ONNX import: small models built in-process with onnx.helper, shapes checked by hand."""

import pytest

onnx = pytest.importorskip("onnx", reason="onnx is an optional extra: "
                           "pip install 'loopscape[onnx]' to run the ONNX import tests")
from onnx import TensorProto, helper  # noqa: E402

from loopscape.spaces.workloads.onnx import OnnxImport, load_onnx  # noqa: E402
from loopscape.spaces.errors import SpecError  # noqa: E402

F = TensorProto.FLOAT


def _init(name, dims):
    return helper.make_tensor(name, F, dims, [0.0] * _prod(dims))


def _prod(dims):
    out = 1
    for d in dims:
        out *= d
    return out


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, F, s)
                                           for n, s in inputs],
                              [helper.make_tensor_value_info(n, F, None) for n in outputs],
                              initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def mixed_model():
    """conv (pads, stride 2, groups 2) -> relu -> depthwise conv -> maxpool ->
    flatten -> Gemm (transB) ; a batched MatMul; an unsupported ConvTranspose."""
    nodes = [
        # X 1x8x32x30, W 16x4x3x5: pads (h 1/1, w 2/2), stride 2, groups 2
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv_a", group=2,
                         strides=[2, 2], pads=[1, 2, 1, 2], kernel_shape=[3, 5]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu_a"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", group=16,
                         strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1]),
        helper.make_node("MaxPool", ["c2"], ["p2"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wg"], ["g"], name="fc", transB=1),
        helper.make_node("MatMul", ["qa", "qb"], ["qk"], name="scores"),
        helper.make_node("ConvTranspose", ["x", "wt"], ["up"], name="deconv",
                         strides=[2, 2]),
    ]
    inits = [_init("w1", [16, 4, 3, 5]), _init("w2", [16, 1, 3, 3]),
             _init("wg", [10, 16 * 8 * 7]), _init("wt", [8, 4, 2, 2])]
    inputs = [("x", [1, 8, 32, 30]), ("qa", [2, 12, 128, 64]), ("qb", [2, 12, 64, 128])]
    return _model(nodes, inputs, ["g", "qk", "up"], inits)


def test_mixed_model(mixed_model):
    imp = load_onnx(mixed_model)
    assert isinstance(imp, OnnxImport)
    by = {x.name: x.workload for x in imp.layers}
    assert [x.name for x in imp.layers] == ["conv_a", "dw", "fc", "scores"]
    # Output H = (32 + 1 + 1 - 3) // 2 + 1 = 16; W = (30 + 2 + 2 - 5) // 2 + 1 = 15.
    conv = by["conv_a"]
    assert conv.kind == "grouped_conv2d"
    assert conv.shape == {"N": 1, "G": 2, "C": 4, "M": 8, "P": 15, "Q": 16, "R": 5, "S": 3}
    assert dict(conv.params)["Wstride"] == 2 and dict(conv.params)["Hstride"] == 2
    assert conv.macs == 16 * 15 * 16 * 4 * 3 * 5
    dw = by["dw"]
    assert dw.kind == "depthwise"
    assert dw.shape == {"N": 1, "C": 16, "P": 15, "Q": 16, "R": 3, "S": 3}
    # MaxPool 2x2/2 of 16x16x15 -> 16x8x7; Flatten -> 896. transB: wg is N x K.
    assert by["fc"].shape == {"M": 1, "N": 10, "K": 896}
    assert imp.unsupported == [("deconv", "ConvTranspose")]
    assert "ConvTranspose" in imp.reasons["deconv"]
    assert imp.ignored == {"Relu": 1, "MaxPool": 1, "Flatten": 1}
    assert by["scores"].shape == {"B": 24, "M": 128, "N": 128, "K": 64}
    assert imp.macs == sum(w.macs for w in by.values())
    assert "deconv" in imp.report()


def test_gemm_transA_and_matmuls(tmp_path):
    nodes = [
        helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm_tA", transA=1),
        helper.make_node("MatMul", ["m2a", "m2b"], ["m2"], name="mm2d"),
        helper.make_node("MatMul", ["h", "wproj"], ["proj"], name="proj"),  # shared weight
        helper.make_node("MatMul", ["m2b", "bb"], ["sh"], name=""),         # A shared
    ]
    inputs = [("a", [64, 32]), ("b", [64, 48]), ("m2a", [5, 7]), ("m2b", [7, 9]),
              ("h", [2, 128, 768]), ("bb", [4, 9, 3])]
    model = _model(nodes, inputs, ["y", "m2", "proj", "sh"], [_init("wproj", [768, 256])])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    imp = load_onnx(path)
    by = {x.name: x.workload for x in imp.layers}
    assert by["gemm_tA"].shape == {"M": 32, "N": 48, "K": 64}  # A is K x M
    assert by["mm2d"].shape == {"M": 5, "N": 9, "K": 7}
    assert by["proj"].kind == "gemm"
    assert by["proj"].shape == {"M": 256, "N": 256, "K": 768}  # batch folded into M
    shared = by["MatMul_3"]  # unnamed node: op_type and index
    assert shared.shape == {"b": 4, "m": 7, "n": 3, "k": 9}
    assert shared.tensor("Weights").dims == {"b", "k", "n"}
    assert not imp.unsupported and imp.ignored == {}
    assert imp.source == str(path) and all(str(path) in x.source for x in imp.layers)


def test_conv_dilation_1d_and_auto_pad():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2, 3],
                         strides=[1, 2], pads=[2, 3, 2, 3]),
        helper.make_node("Conv", ["s", "w1"], ["t"], name="c1d", strides=[2], pads=[1, 1]),
        helper.make_node("Conv", ["x", "w"], ["z"], name="same", auto_pad="SAME_UPPER"),
    ]
    inits = [_init("w", [6, 3, 3, 3]), _init("w1", [4, 2, 3])]
    model = _model(nodes, [("x", [2, 3, 20, 21]), ("s", [1, 2, 10])], ["y", "t", "z"], inits)
    by = {x.name: x.workload for x in load_onnx(model).layers}
    # H: (20 + 4 - 2*2 - 1) // 1 + 1 = 20 ; W: (21 + 6 - 3*2 - 1) // 2 + 1 = 11
    d = by["dil"]
    assert d.shape == {"N": 2, "C": 3, "M": 6, "P": 11, "Q": 20, "R": 3, "S": 3}
    assert dict(d.params) == {"Wstride": 2, "Hstride": 1, "Wdilation": 3,
                                   "Hdilation": 2, "groups": 1}
    # 1-D conv: height 1; W = (10 + 2 - 3) // 2 + 1 = 5
    assert by["c1d"].shape == {"N": 1, "C": 2, "M": 4, "P": 5, "Q": 1, "R": 3, "S": 1}
    assert by["same"].shape["P"] == 21 and by["same"].shape["Q"] == 20


def test_symbolic_shapes_and_other_mac_ops_are_listed():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="dyn"),
        helper.make_node("Einsum", ["a", "b", "a"], ["e"], name="ein",
                         equation="ij,jk,kl->il"),  # three operands: not supported
        helper.make_node("Add", ["a", "a"], ["s"], name="add"),
        helper.make_node("Custom", ["a"], ["c"], name="mystery", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", F, ["batch", 16]),
         helper.make_tensor_value_info("a", F, [4, 4]),
         helper.make_tensor_value_info("b", F, [4, 4])],
        [helper.make_tensor_value_info("y", F, None)], initializer=[_init("w", [16, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    imp = load_onnx(model)
    assert imp.layers == []
    assert imp.unsupported == [("dyn", "MatMul"), ("ein", "Einsum"), ("mystery", "Custom")]
    assert "symbolic" in imp.reasons["dyn"] and "static shapes" in imp.reasons["dyn"]
    assert "3 operand" in imp.reasons["ein"]
    assert imp.ignored == {"Add": 1}
    with pytest.raises(SpecError, match="3 node.*dyn.*ein.*mystery"):
        load_onnx(model, strict=True)


def test_user_errors(tmp_path, monkeypatch):
    with pytest.raises(SpecError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(SpecError):
        load_onnx(bad)
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.raises(SpecError, match=r"loopscape\[onnx\]"):
        load_onnx(bad)


def _by_name(nodes, inputs, outputs, inits=()):
    imp = load_onnx(_model(nodes, inputs, outputs, inits))
    return {x.name: x.workload for x in imp.layers}, imp


def test_matmul_broadcast_batch_dimensions():
    nodes = [
        # [2,1,5,7] x [3,7,4]: axis 0 only A (2), axis 1 only B (3) -> A's 2 fold into M
        helper.make_node("MatMul", ["a1", "b1"], ["y1"], name="mixed"),
        # [2,8,5,7] x [2,1,7,4]: axis 0 shared, axis 1 only A -> bmm B=2, M=8*5
        helper.make_node("MatMul", ["a2", "b2"], ["y2"], name="shared_a"),
        # [6,1,5,7] x [6,3,7,4]: axis 0 shared, axis 1 only B (GQA-like K shared by 3)
        helper.make_node("MatMul", ["a3", "b3"], ["y3"], name="shared_b"),
        # [2,5,7] x [3,7,4]: 2 vs 3 does not broadcast
        helper.make_node("MatMul", ["a4", "b4"], ["y4"], name="bad"),
    ]
    inputs = [("a1", [2, 1, 5, 7]), ("b1", [3, 7, 4]), ("a2", [2, 8, 5, 7]),
              ("b2", [2, 1, 7, 4]), ("a3", [6, 1, 5, 7]), ("b3", [6, 3, 7, 4]),
              ("a4", [2, 5, 7]), ("b4", [3, 7, 4])]
    by, imp = _by_name(nodes, inputs, ["y1", "y2", "y3", "y4"])
    # MACs: numpy's output shape x K: [2,3,5,4] x 7, [2,8,5,4] x 7, [6,3,5,4] x 7
    assert by["mixed"].macs == 2 * 3 * 5 * 4 * 7
    assert by["mixed"].shape == {"b": 3, "m": 10, "n": 4, "k": 7}
    assert by["mixed"].tensor("Inputs").dims == {"m", "k"}
    assert by["shared_a"].kind == "batched_matmul"
    assert by["shared_a"].shape == {"B": 2, "M": 40, "N": 4, "K": 7}
    w = by["shared_b"]
    assert w.shape == {"s": 6, "b": 3, "m": 5, "n": 4, "k": 7}
    assert w.tensor("Inputs").dims == {"s", "m", "k"}      # read once for all 3 b
    assert w.tensor("Weights").dims == {"s", "b", "k", "n"}
    assert w.tensor_words("Outputs") == 6 * 3 * 5 * 4
    assert imp.unsupported == [("bad", "MatMul")]
    assert "does not broadcast: 2 and 3" in imp.reasons["bad"]


def test_einsum_nodes():
    nodes = [
        # attention scores, grouped: q [b,g,h,m,d], k [b,g,n,d] -> [b,g,h,m,n]
        helper.make_node("Einsum", ["q", "k"], ["s"], name="gqa", equation="bghmd,bgnd->bghmn"),
        # implicit output: letters seen once, sorted -> "ik"
        helper.make_node("Einsum", ["x", "w"], ["y"], name="implicit", equation="ij, jk"),
        helper.make_node("Einsum", ["x", "x"], ["z"], name="diag", equation="ii,ij->j"),
        helper.make_node("Einsum", ["x", "w"], ["e"], name="ell", equation="...j,jk->...k"),
        helper.make_node("Einsum", ["q"], ["t"], name="one", equation="bghmd->bgd"),
    ]
    inputs = [("q", [1, 2, 4, 3, 8]), ("k", [1, 2, 5, 8]), ("x", [3, 3]), ("w", [3, 6])]
    by, imp = _by_name(nodes, inputs, ["s", "y", "z", "e", "t"])
    g = by["gqa"]
    assert g.shape == {"b": 1, "g": 2, "h": 4, "m": 3, "n": 5, "d": 8}
    assert g.macs == 1 * 2 * 4 * 3 * 5 * 8
    assert g.tensor("Weights").dims == {"b", "g", "n", "d"}   # K: no query-head index
    assert g.tensor("Outputs").read_write and g.tensor_words("Inputs") == 2 * 4 * 3 * 8
    assert by["implicit"].shape == {"i": 3, "k": 6, "j": 3}
    assert [n for n, _ in imp.unsupported] == ["diag", "ell", "one"]
    assert "repeats an index" in imp.reasons["diag"]
    assert "ellipsis" in imp.reasons["ell"]
    assert "1 operand" in imp.reasons["one"]
