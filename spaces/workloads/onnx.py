"""Import the MAC-carrying layers of an ONNX model as zoo layers.

``load_onnx(path)`` runs ONNX shape inference and turns each ``Conv`` (groups, strides,
dilations, pads), ``Gemm`` (transA/transB), ``MatMul`` (2-D and N-D with numpy batch
broadcasting) and two-operand ``Einsum`` node into a Workload named after the node.
Nothing is silently dropped: operators that do multiply-accumulates but are not
supported (ConvTranspose, LSTM, Attention, ...), nodes
whose shapes could not be inferred, and control-flow nodes are listed in
``OnnxImport.unsupported``; operators without MACs (element-wise, pooling, reshapes)
are ignored but counted in ``OnnxImport.ignored``. ``onnx`` is an optional extra:
``pip install 'loopscape[onnx]'``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from loopscape.spaces.errors import SpecError
from loopscape.spaces.workload import (Workload, batched_matmul, conv2d, depthwise_conv2d,
                                       einsum, gemm)

from .zoo.layer import ZooLayer

__all__ = ["MAC_OPS", "OnnxImport", "load_onnx"]

# Operators of the default domain that do multiply-accumulates but are not imported.
MAC_OPS = frozenset({
    "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv", "MatMulInteger",
    "QLinearMatMul", "LSTM", "GRU", "RNN", "Attention", "MultiHeadAttention",
    "Conv", "Gemm", "MatMul", "Einsum",  # only when their shapes are not usable
})
# Nodes whose subgraphs may hold MACs; never imported.
CONTROL_FLOW_OPS = frozenset({"If", "Loop", "Scan"})

_FIX = "pip install 'loopscape[onnx]'"


@dataclass(frozen=True)
class OnnxImport:
    """What ``load_onnx`` found: the imported layers (graph order), the nodes it could not
    import as ``(node name, op_type)`` (with a reason per node name in ``reasons``), and
    how many MAC-free nodes were ignored per op_type."""

    layers: list[ZooLayer]
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    source: str = "<memory>"

    @property
    def macs(self) -> int:
        return sum(layer.workload.macs for layer in self.layers)

    def report(self) -> str:
        """A short human-readable summary, one line per unsupported node."""
        lines = [f"{self.source}: {len(self.layers)} layers imported "
                 f"({self.macs / 1e9:.3f} G MACs), {len(self.unsupported)} unsupported, "
                 f"{sum(self.ignored.values())} MAC-free nodes ignored"]
        for name, op in self.unsupported:
            lines.append(f"  unsupported {op} node {name!r}: {self.reasons.get(name, '')}")
        return "\n".join(lines)


def _require_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SpecError(f"ONNX import needs the 'onnx' package ({e})", key="onnx",
                        fix=_FIX) from None
    return onnx


class _Unsupported(Exception):
    """Raised inside a node handler: the node is listed, with this reason."""


def _attrs(node) -> dict[str, Any]:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _shapes(model) -> dict[str, tuple[int | None, ...]]:
    """Value name -> shape (None for unknown/symbolic dims) from inference and initializers."""
    g = model.graph
    out: dict[str, tuple[int | None, ...]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                             else None for d in t.shape.dim)
    for init in g.initializer:
        out[init.name] = tuple(int(d) for d in init.dims)
    return out


def _known(shapes: dict, name: str, what: str) -> tuple[int, ...]:
    if not name:
        raise _Unsupported(f"{what} is missing")
    s = shapes.get(name)
    if s is None:
        raise _Unsupported(f"shape of {what} {name!r} is not known after shape inference "
                           f"(give the model's inputs static shapes)")
    if any(d is None for d in s):
        raise _Unsupported(f"{what} {name!r} has symbolic or unknown dimensions {list(s)} "
                           f"(give the model's inputs static shapes, e.g. a fixed batch)")
    return tuple(int(d) for d in s)


def _conv(node, name: str, shapes: dict) -> Workload:
    a = _attrs(node)
    x = _known(shapes, node.input[0], "input X")
    w = _known(shapes, node.input[1], "weight W")
    spatial = len(x) - 2
    if spatial not in (1, 2):
        raise _Unsupported(f"{spatial}-D convolutions are not supported (1-D and 2-D are)")
    n, c = x[0], x[1]
    m, kernel = w[0], w[2:]
    groups = int(a.get("group", 1))
    strides = list(a.get("strides", [1] * spatial))
    dilations = list(a.get("dilations", [1] * spatial))
    if node.output and shapes.get(node.output[0]) and None not in shapes[node.output[0]]:
        out = shapes[node.output[0]][2:]
    else:  # infer the output size the way ONNX does
        pads = list(a.get("pads", [0] * 2 * spatial))
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        out = []
        for i in range(spatial):
            size = x[2 + i]
            eff = dilations[i] * (kernel[i] - 1) + 1
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                out.append(math.ceil(size / strides[i]))
            elif auto == "VALID":
                out.append((size - eff) // strides[i] + 1)
            else:
                out.append((size + pads[i] + pads[i + spatial] - eff) // strides[i] + 1)
    if spatial == 1:  # a 1-D conv is a 2-D one of height 1
        out, kernel = (1, out[0]), (1, kernel[0])
        strides, dilations = [1, strides[0]], [1, dilations[0]]
    if w[1] * groups != c:
        raise _Unsupported(f"weight has {w[1]} input channels per group but the input has "
                           f"{c} channels and group={groups}")
    # ONNX is (height, width); conv2d's P/R are the width, Q/S the height.
    Q, P = int(out[0]), int(out[1])
    S, R = int(kernel[0]), int(kernel[1])
    stride, dilation = (strides[0], strides[1]), (dilations[0], dilations[1])
    if groups > 1 and groups == c == m:
        return depthwise_conv2d(N=n, C=c, P=P, Q=Q, R=R, S=S, stride=stride,
                                dilation=dilation, name=name)
    return conv2d(N=n, C=c, M=m, P=P, Q=Q, R=R, S=S, stride=stride, dilation=dilation,
                  groups=groups, name=name)


def _gemm(node, name: str, shapes: dict) -> Workload:
    a = _attrs(node)
    sa = _known(shapes, node.input[0], "input A")
    sb = _known(shapes, node.input[1], "input B")
    if len(sa) != 2 or len(sb) != 2:
        raise _Unsupported(f"Gemm needs 2-D inputs, got {list(sa)} and {list(sb)}")
    M, K = (sa[1], sa[0]) if a.get("transA", 0) else sa
    K2, N = (sb[1], sb[0]) if a.get("transB", 0) else sb
    if K != K2:
        raise _Unsupported(f"inner dimensions differ: {K} and {K2}")
    return gemm(M=M, N=N, K=K, name=name)


def _matmul(node, name: str, shapes: dict) -> Workload:
    sa = list(_known(shapes, node.input[0], "input A"))
    sb = list(_known(shapes, node.input[1], "input B"))
    if len(sa) == 1:  # numpy semantics: a 1-D operand gains (and then loses) a unit dim
        sa = [1] + sa
    if len(sb) == 1:
        sb = sb + [1]
    (M, K), (K2, N) = sa[-2:], sb[-2:]
    if K != K2:
        raise _Unsupported(f"inner dimensions differ: {K} and {K2}")
    ba, bb = sa[:-2], sb[:-2]
    width = max(len(ba), len(bb))
    ba, bb = [1] * (width - len(ba)) + ba, [1] * (width - len(bb)) + bb
    # numpy broadcasting per batch axis: equal sizes index both operands (shared, S);
    # a size only A has is more rows of A (folded into M); one only B has indexes B
    # and the output (B-only, b). Other pairs do not broadcast.
    shared = a_only = b_only = 1
    for i, (x, y) in enumerate(zip(ba, bb)):
        if x == y:
            shared *= x
        elif y == 1:
            a_only *= x
        elif x == 1:
            b_only *= y
        else:
            raise _Unsupported(f"batch dimension {i} does not broadcast: {x} and {y} "
                               f"(shapes {sa} and {sb})")
    M *= a_only
    if shared == 1 and b_only == 1:  # B shared by every batch entry (e.g. a projection)
        return gemm(M=M, N=N, K=K, name=name)
    if b_only == 1:
        return batched_matmul(B=shared, M=M, N=N, K=K, name=name)
    if shared == 1:  # A shared, B batched
        return einsum("Outputs[b, m, n] += Inputs[m, k] * Weights[b, k, n]",
                      {"b": b_only, "m": M, "n": N, "k": K}, name=name)
    return einsum("Outputs[s, b, m, n] += Inputs[s, m, k] * Weights[s, b, k, n]",
                  {"s": shared, "b": b_only, "m": M, "n": N, "k": K}, name=name)


def _einsum(node, name: str, shapes: dict) -> Workload:
    """A two-operand Einsum with explicit letters (no ellipsis, no repeated letter in one
    operand, sizes equal wherever a letter appears) as an einsum workload: the first
    operand is ``Inputs``, the second ``Weights``, the result ``Outputs``."""
    equation = _attrs(node).get("equation", "")
    if isinstance(equation, bytes):
        equation = equation.decode()
    equation = equation.replace(" ", "")
    if len(node.input) != 2:
        raise _Unsupported(f"Einsum with {len(node.input)} operand(s) is not supported "
                           f"(two operands are)")
    if "..." in equation:
        raise _Unsupported(f"Einsum {equation!r} uses an ellipsis; write every index out")
    lhs, arrow, out = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        raise _Unsupported(f"Einsum equation {equation!r} does not name two operands")
    if not arrow:  # implicit output: the letters that appear once, alphabetically
        out = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
    sizes: dict[str, int] = {}
    for term, value, what in zip(terms, node.input, ("input 0", "input 1")):
        shape = _known(shapes, value, what)
        if len(term) != len(shape) or not term.isalpha():
            raise _Unsupported(f"Einsum term {term!r} does not match {what}'s shape "
                               f"{list(shape)}")
        if len(set(term)) != len(term):
            raise _Unsupported(f"Einsum term {term!r} repeats an index (a diagonal)")
        for letter, size in zip(term, shape):
            if sizes.setdefault(letter, size) != size:
                raise _Unsupported(f"index {letter!r} has sizes {sizes[letter]} and {size} "
                                   f"(broadcasting inside Einsum is not supported)")
    if not out or len(set(out)) != len(out) or any(c not in sizes for c in out):
        raise _Unsupported(f"Einsum output {out!r} is empty, repeats an index or names one "
                           f"no operand has")

    def ref(tensor: str, letters: str) -> str:
        return f"{tensor}[{', '.join(letters)}]"
    spec = f"{ref('Outputs', out)} += {ref('Inputs', terms[0])} * {ref('Weights', terms[1])}"
    return einsum(spec, sizes, name=name)


_HANDLERS = {"Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Einsum": _einsum}


def _load_model(path):
    onnx = _require_onnx()
    if isinstance(path, onnx.ModelProto):
        return path, "<memory>"
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise SpecError("no such file", source=source, key="onnx",
                        fix="give the path of an .onnx model file")
    try:
        return onnx.load(source), source
    except Exception as e:  # protobuf raises several types for a bad file
        raise SpecError(f"cannot read the ONNX model: {e}", source=source,
                        fix="check that the file is an ONNX model (onnx.checker)") from None


def load_onnx(path: str | os.PathLike | Any, *, strict: bool = False) -> OnnxImport:
    """Import the Conv, Gemm, MatMul and Einsum nodes of an ONNX model (a file path or an
    ``onnx.ModelProto``) as ZooLayers in graph order.

    Unsupported MAC-carrying nodes are listed in the result; with ``strict=True`` any
    such node raises a SpecError that lists them all instead.
    """
    onnx = _require_onnx()
    model, source = _load_model(path)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as e:
        raise SpecError(f"ONNX shape inference failed: {e}", source=source,
                        fix="check the model with onnx.checker.check_model") from None
    shapes = _shapes(model)
    layers: list[ZooLayer] = []
    unsupported: list[tuple[str, str]] = []
    reasons: dict[str, str] = {}
    ignored: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    layer_source = f"ONNX model {source}"
    for index, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{index}"
        seen[name] += 1
        if seen[name] > 1:  # names need not be unique in ONNX; ours are
            name = f"{name}#{seen[name]}"
        domain = node.domain or ""
        handler = _HANDLERS.get(node.op_type) if domain in ("", "ai.onnx") else None
        try:
            if handler is not None:
                layers.append(ZooLayer(name, handler(node, name, shapes), layer_source))
                continue
            if domain not in ("", "ai.onnx"):
                raise _Unsupported(f"operator of domain {domain!r} is unknown "
                                   f"(it may do MACs)")
            if node.op_type in CONTROL_FLOW_OPS:
                raise _Unsupported("control flow: the nodes of its subgraphs are not imported")
            if node.op_type in MAC_OPS:
                raise _Unsupported(f"{node.op_type} does multiply-accumulates but is not "
                                   f"supported (Conv, Gemm, MatMul and Einsum are)")
            ignored[node.op_type] += 1
        except _Unsupported as e:
            unsupported.append((name, node.op_type))
            reasons[name] = str(e)
        except SpecError as e:  # a builder rejected the shape
            unsupported.append((name, node.op_type))
            reasons[name] = e.message
    result = OnnxImport(layers, unsupported, dict(ignored), reasons, source)
    if strict and unsupported:
        listed = "; ".join(f"{n} ({op}): {reasons[n]}" for n, op in unsupported)
        raise SpecError(f"{len(unsupported)} node(s) cannot be imported: {listed}",
                        source=source, key="onnx",
                        fix="replace or remove these operators, or import without strict")
    return result
