"""The workload section of loopscape's YAML format: builder forms and the einsum form.

The section's key is ``layer:`` (what users write; see docs/formats.md, "Workload and
layer"). A workload is written in the form of the builder that made it (conv2d, depthwise, gemm,
fc, bmm) so files stay short and readable; any other workload is written as an einsum
whose expression is rebuilt from the tensors' axes. Dimension order is kept: for an
einsum it is the order of ``bounds``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import SpecError
from ..workload import (Workload, batched_matmul, conv2d, depthwise_conv2d, einsum,
                        fully_connected, gemm)
from .strict import Where, describe, expect_int, expect_map, expect_pair, expect_str

_COMMON = ("name", "type")

# type -> (allowed keys, required keys); conv2d also accepts K for M.
_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "conv2d": (_COMMON + ("N", "C", "M", "K", "P", "Q", "R", "S", "stride", "dilation",
                          "groups"), _COMMON + ("C", "P", "Q", "R", "S")),
    "depthwise": (_COMMON + ("N", "C", "P", "Q", "R", "S", "stride", "dilation"),
                  _COMMON + ("C", "P", "Q", "R", "S")),
    "gemm": (_COMMON + ("M", "N", "K"), _COMMON + ("M", "N", "K")),
    "fc": (_COMMON + ("N", "C", "M"), _COMMON + ("C", "M")),
    "bmm": (_COMMON + ("B", "M", "N", "K"), _COMMON + ("B", "M", "N", "K")),
    "einsum": (_COMMON + ("expression", "bounds", "params"),
               _COMMON + ("expression", "bounds")),
}
# Workload.kind values and spelled-out names accepted as types.
_ALIASES = {"grouped_conv2d": "conv2d", "depthwise_conv2d": "depthwise",
            "fully_connected": "fc", "batched_matmul": "bmm"}
WORKLOAD_TYPES = tuple(_FORMS)


def load_workload_body(body: Any, where: Where) -> Workload:
    """Build a Workload from the map under ``layer:``."""
    if not isinstance(body, dict):
        raise where.error(f"expected a map of the layer's fields, got {describe(body)}",
                          fix="write the fields indented under layer:, e.g. name:, type:")
    if "type" not in body:
        raise where.error("missing required key 'type'",
                          fix=f"add type: one of {', '.join(WORKLOAD_TYPES)}")
    kind_raw = expect_str(body["type"], where.at("type"))
    kind = _ALIASES.get(kind_raw, kind_raw)
    if kind not in _FORMS:
        raise where.at("type").error(f"unknown layer type {kind_raw!r}",
                                     fix=f"use one of {', '.join(WORKLOAD_TYPES)}")
    allowed, required = _FORMS[kind]
    expect_map(body, where, allowed=allowed, required=required)
    name = expect_str(body["name"], where.at("name"))
    try:
        return _BUILD[kind](body, where, name)
    except SpecError as e:
        if e.source is not None:
            raise
        raise SpecError(e.message, source=where.source,
                        key=f"{where.key}.{e.key}" if e.key else where.key,
                        fix=e.fix or "see docs/formats.md (layers)") from None


def _dim(body: dict, key: str, where: Where, default: int | None = None) -> int:
    if key not in body:
        if default is None:  # pragma: no cover - required keys are checked before
            raise where.error(f"missing required key {key!r}", fix=f"add {key}:")
        return default
    return expect_int(body[key], where.at(key), limit="coefficient" if key == "groups" else "bound")


def _int_or_pair(body: dict, key: str, where: Where) -> int | tuple[int, int]:
    if key not in body:
        return 1
    v = body[key]
    if isinstance(v, list):
        pair = expect_pair(v, where.at(key), what="[h, w]")
        for i, x in enumerate(pair):
            expect_int(x, where.at(key).at(i), limit="coefficient")
        return pair
    return expect_int(v, where.at(key), limit="coefficient")


def _build_conv2d(body: dict, where: Where, name: str) -> Workload:
    if "M" in body and "K" in body:
        raise where.at("K").error("both M and K are given; K is an alias of M",
                                  fix="keep only M (output channels)")
    if "M" not in body and "K" not in body:
        raise where.error("missing required key 'M'", fix="add M: (output channels; K is "
                                                          "accepted as an alias)")
    m_key = "M" if "M" in body else "K"
    groups = _dim(body, "groups", where, 1)
    for key in ("C", m_key):
        if _dim(body, key, where) % groups:
            raise where.at("groups").error(
                f"{key} = {body[key]} is not divisible by groups = {groups}",
                fix="C and M are total channel counts; both must be multiples of groups")
    return conv2d(N=_dim(body, "N", where, 1), C=_dim(body, "C", where),
                  M=_dim(body, m_key, where), P=_dim(body, "P", where),
                  Q=_dim(body, "Q", where), R=_dim(body, "R", where), S=_dim(body, "S", where),
                  stride=_int_or_pair(body, "stride", where),
                  dilation=_int_or_pair(body, "dilation", where),
                  groups=groups, name=name)


def _build_depthwise(body: dict, where: Where, name: str) -> Workload:
    return depthwise_conv2d(N=_dim(body, "N", where, 1), C=_dim(body, "C", where),
                            P=_dim(body, "P", where), Q=_dim(body, "Q", where),
                            R=_dim(body, "R", where), S=_dim(body, "S", where),
                            stride=_int_or_pair(body, "stride", where),
                            dilation=_int_or_pair(body, "dilation", where), name=name)


def _build_gemm(body: dict, where: Where, name: str) -> Workload:
    return gemm(M=_dim(body, "M", where), N=_dim(body, "N", where), K=_dim(body, "K", where),
                name=name)


def _build_fc(body: dict, where: Where, name: str) -> Workload:
    return fully_connected(N=_dim(body, "N", where, 1), C=_dim(body, "C", where),
                           M=_dim(body, "M", where), name=name)


def _build_bmm(body: dict, where: Where, name: str) -> Workload:
    return batched_matmul(B=_dim(body, "B", where), M=_dim(body, "M", where),
                          N=_dim(body, "N", where), K=_dim(body, "K", where), name=name)


def _build_einsum(body: dict, where: Where, name: str) -> Workload:
    expr = expect_str(body["expression"], where.at("expression"))
    bw = where.at("bounds")
    raw = body["bounds"]
    if not isinstance(raw, dict) or not raw:
        raise bw.error(f"expected a map of dimension sizes, got "
                       f"{'an empty map' if raw == {} else describe(raw)}",
                       fix="write bounds: {c: 32, k: 32, ...}")
    bounds: dict[str, int] = {}
    for d, v in raw.items():
        if not isinstance(d, str):
            raise bw.error(f"dimension names must be strings, got {d!r}",
                           fix="use names such as c, k, p")
        bounds[d] = expect_int(v, bw.at(d), limit="bound")
    try:
        w = einsum(expr, bounds, name=name)
    except SpecError as e:
        key = "bounds" if e.key and e.key.endswith("bounds") else "expression"
        raise SpecError(e.message, source=where.source, key=f"{where.key}.{key}",
                        fix=e.fix or "write Out[i, j] += A[i, k] * B[k, j]") from None
    params: tuple[tuple[str, int], ...] = ()
    if body.get("params") is not None:
        pw = where.at("params")
        raw_params = body["params"]
        if not isinstance(raw_params, dict):
            raise pw.error(f"expected a map of coefficient names to integers, got "
                           f"{describe(raw_params)}", fix="write e.g. params: {Wstride: 2}")
        params = tuple((expect_str(k, pw), expect_int(v, pw.at(str(k))))
                       for k, v in raw_params.items())
    # Keep the dimension order of ``bounds`` (einsum orders by first appearance).
    order = tuple(bounds)
    return Workload(w.name, order, tuple(bounds[d] for d in order), w.tensors, "einsum",
                    params)


_BUILD: dict[str, Callable[[dict, Where, str], Workload]] = {
    "conv2d": _build_conv2d, "depthwise": _build_depthwise, "gemm": _build_gemm,
    "fc": _build_fc, "bmm": _build_bmm, "einsum": _build_einsum,
}


# ----------------------------------------------------------------------------------
# Dumping
# ----------------------------------------------------------------------------------

def dump_workload_body(w: Workload) -> dict:
    """The map to write under ``layer:``; builder form when it rebuilds ``w`` exactly."""
    body = _builder_form(w)
    if body is not None:
        try:
            if load_workload_body(body, Where("<dump>", "layer")) == w:
                return body
        except SpecError:
            pass
    return einsum_form(w)


def _pair_or_int(h: int, w: int) -> int | list[int]:
    return h if h == w else [h, w]


def _builder_form(w: Workload) -> dict | None:
    p = dict(w.params)
    s = w.shape
    try:
        if w.kind in ("conv2d", "grouped_conv2d"):
            g = p.get("groups", 1)
            return {"name": w.name, "type": "conv2d", "N": s["N"], "C": s["C"] * g,
                    "M": s["M"] * g, "P": s["P"], "Q": s["Q"], "R": s["R"], "S": s["S"],
                    "stride": _pair_or_int(p["Hstride"], p["Wstride"]),
                    "dilation": _pair_or_int(p["Hdilation"], p["Wdilation"]), "groups": g}
        if w.kind == "depthwise":
            return {"name": w.name, "type": "depthwise", "N": s["N"], "C": s["C"], "P": s["P"],
                    "Q": s["Q"], "R": s["R"], "S": s["S"],
                    "stride": _pair_or_int(p["Hstride"], p["Wstride"]),
                    "dilation": _pair_or_int(p["Hdilation"], p["Wdilation"])}
        if w.kind == "gemm":
            return {"name": w.name, "type": "gemm", "M": s["M"], "N": s["N"], "K": s["K"]}
        if w.kind == "fully_connected":
            return {"name": w.name, "type": "fc", "N": s["N"], "C": s["C"], "M": s["M"]}
        if w.kind == "batched_matmul":
            return {"name": w.name, "type": "bmm", "B": s["B"], "M": s["M"], "N": s["N"],
                    "K": s["K"]}
    except KeyError:
        return None
    return None


def _axis_text(axis: tuple[tuple[int, str], ...]) -> str:
    """``2*p+r``: terms ``c*dim`` joined by + (a negative term brings its own -)."""
    text = ""
    for c, d in axis:
        term = d if abs(c) == 1 else f"{abs(c)}*{d}"
        sign = "-" if c < 0 else ("+" if text else "")
        text += sign + term
    return text


def _tensor_text(t) -> str:
    return f"{t.name}[{', '.join(_axis_text(a) for a in t.axes)}]"


def einsum_form(w: Workload) -> dict:
    """``w`` as an einsum map; SpecError when the einsum form cannot express it.

    ``params`` (named coefficients such as a Timeloop problem's Wstride) are kept as
    information; the expression already carries their values.
    """
    outs = [t for t in w.tensors if t.read_write]
    where = Where("<dump>", "layer")
    if len(outs) != 1 or not w.tensors[-1].read_write:
        raise where.error(f"workload {w.name!r} cannot be written as an einsum: it needs "
                          f"exactly one read-write tensor, listed last",
                          fix="build it with one output tensor after its operands")
    ins = w.tensors[:-1]
    expr = f"{_tensor_text(outs[0])} += " + " * ".join(_tensor_text(t) for t in ins)
    body = {"name": w.name, "type": "einsum", "expression": expr,
            "bounds": dict(zip(w.dims, w.bounds))}
    if w.params:
        body["params"] = dict(w.params)
    try:
        back = load_workload_body(body, where)
    except SpecError as e:
        raise where.error(f"workload {w.name!r} cannot be written as an einsum: {e.message}",
                          fix="every dimension must index some tensor") from None
    if (back.dims, back.bounds, back.tensors, back.params) != (w.dims, w.bounds, w.tensors,
                                                               w.params):
        raise where.error(f"workload {w.name!r} does not survive the einsum form",
                          fix="report this as a bug in loopscape")
    return body
