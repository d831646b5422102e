"""Workloads (layers): named dimensions and tensors that are affine projections of them.

A tensor axis is a sum of ``coefficient * dimension`` terms, Timeloop-style. A conv
input row is ``Hstride * P + Hdilation * R``; the size of a tensor tile covering a
sub-box of the iteration space is the size of its projection's bounding box, so a
sliding-window input tile is ``(p - 1) * stride + (r - 1) * dilation + 1`` wide.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import SpecError
from .limits import check_limit

Term = tuple[int, str]  # (coefficient, dimension)


@dataclass(frozen=True)
class Tensor:
    """A data space: one projection (a tuple of terms) per tensor axis."""

    name: str
    axes: tuple[tuple[Term, ...], ...]
    read_write: bool = False

    @property
    def dims(self) -> frozenset[str]:
        """Dimensions that index this tensor (its relevant dimensions)."""
        return frozenset(d for axis in self.axes for _, d in axis)

    def extents(self, box: Mapping[str, int]) -> tuple[int, ...]:
        """Per-axis extent of the projection of a box with the given per-dimension sizes."""
        out = []
        for axis in self.axes:
            out.append(sum(abs(c) * (box.get(d, 1) - 1) for c, d in axis) + 1)
        return tuple(out)

    def size(self, box: Mapping[str, int]) -> int:
        """Words in the bounding box of the projection of ``box``."""
        return math.prod(self.extents(box))

    def offset(self, point: Mapping[str, int]) -> tuple[int, ...]:
        """Projection of one iteration-space point (used for origins and translations)."""
        return tuple(sum(c * point.get(d, 0) for c, d in axis) for axis in self.axes)


@dataclass(frozen=True)
class Workload:
    """A layer: dimension bounds (in ``dims`` order) and its tensors."""

    name: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    tensors: tuple[Tensor, ...]
    kind: str = "einsum"
    params: tuple[tuple[str, int], ...] = field(default=())

    def __post_init__(self) -> None:
        validate_workload(self)

    @property
    def shape(self) -> dict[str, int]:
        """Dimension name -> bound."""
        return dict(zip(self.dims, self.bounds))

    def bound(self, dim: str) -> int:
        return self.bounds[self.dims.index(dim)]

    @property
    def macs(self) -> int:
        return math.prod(self.bounds)

    def tensor(self, name: str) -> Tensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def tensor_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors)

    def tensor_words(self, name: str) -> int:
        """Words of the whole tensor (its bounding box)."""
        return self.tensor(name).size(self.shape)


def validate_workload(w: Workload) -> None:
    """Raise SpecError for an inconsistent workload."""
    if not w.dims:
        raise SpecError("a workload needs at least one dimension", key="dimensions")
    if len(set(w.dims)) != len(w.dims):
        raise SpecError(f"dimension names repeat: {list(w.dims)}", key="dimensions")
    if len(w.bounds) != len(w.dims):
        raise SpecError("one bound per dimension is required", key="dimensions")
    for d, b in zip(w.dims, w.bounds):
        if isinstance(b, bool) or not isinstance(b, int):
            raise SpecError(f"bound must be an integer, got {b!r}", key=f"dimensions.{d}")
        if b <= 0:
            raise SpecError(f"bound must be positive, got {b}", key=f"dimensions.{d}",
                            fix="give every dimension a size of at least 1")
        check_limit(b, "bound", key=f"dimensions.{d}")
    names = [t.name for t in w.tensors]
    if not names:
        raise SpecError("a workload needs at least one tensor", key="tensors")
    if len(set(names)) != len(names):
        raise SpecError(f"tensor names repeat: {names}", key="tensors")
    for t in w.tensors:
        if not t.axes:
            raise SpecError("a tensor needs at least one axis", key=f"tensors.{t.name}")
        for axis in t.axes:
            if not axis:
                raise SpecError("an axis needs at least one term", key=f"tensors.{t.name}")
            for c, d in axis:
                if d not in w.dims:
                    raise SpecError(f"unknown dimension {d!r}", key=f"tensors.{t.name}",
                                    fix=f"use one of {list(w.dims)}")
                if isinstance(c, bool) or not isinstance(c, int) or c == 0:
                    raise SpecError(f"coefficient of {d} must be a non-zero integer, got {c!r}",
                                    key=f"tensors.{t.name}")
                check_limit(abs(c), "coefficient", key=f"tensors.{t.name}")
    check_limit(math.prod(w.bounds), "macs", key="dimensions")
    shape = dict(zip(w.dims, w.bounds))
    for t in w.tensors:
        check_limit(t.size(shape), "tensor_words", key=f"tensors.{t.name}")
    if not any(t.read_write for t in w.tensors):
        raise SpecError("no tensor is read-write: mark the output tensor read_write",
                        key="tensors")


# ----------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------

def _t(name: str, axes: Iterable[Iterable[Term]], rw: bool = False) -> Tensor:
    return Tensor(name, tuple(tuple(a) for a in axes), rw)


def conv2d(*, N: int = 1, C: int, M: int, P: int, Q: int, R: int, S: int,
           stride: int | tuple[int, int] = 1, dilation: int | tuple[int, int] = 1,
           groups: int = 1, name: str = "conv2d") -> Workload:
    """A 2-D convolution. C and M are the total channel counts; with ``groups`` > 1 a
    dimension G is added and C, M become per-group counts. ``stride``/``dilation`` are
    (height, width) = (Q-direction, P-direction) pairs or one int for both, following
    Timeloop's conv2D shape (Inputs width = Wstride*P + Wdilation*R).
    """
    hs, ws = (stride, stride) if isinstance(stride, int) else stride
    hd, wd = (dilation, dilation) if isinstance(dilation, int) else dilation
    for key, v in (("groups", groups), ("stride", hs), ("stride", ws), ("dilation", hd),
                   ("dilation", wd)):
        if not isinstance(v, int) or v <= 0:
            raise SpecError(f"must be a positive integer, got {v!r}", key=key)
    if C % groups or M % groups:
        raise SpecError(f"C={C} and M={M} must both be divisible by groups={groups}",
                        key="groups")
    w_axis = ((ws, "P"), (wd, "R"))
    h_axis = ((hs, "Q"), (hd, "S"))
    params = (("Wstride", ws), ("Hstride", hs), ("Wdilation", wd), ("Hdilation", hd))
    if groups == 1:
        dims = ("N", "C", "M", "P", "Q", "R", "S")
        bounds = (N, C, M, P, Q, R, S)
        tensors = (
            _t("Weights", [[(1, "M")], [(1, "C")], [(1, "R")], [(1, "S")]]),
            _t("Inputs", [[(1, "N")], [(1, "C")], w_axis, h_axis]),
            _t("Outputs", [[(1, "N")], [(1, "M")], [(1, "P")], [(1, "Q")]], True),
        )
        kind = "conv2d"
    else:
        dims = ("N", "G", "C", "M", "P", "Q", "R", "S")
        bounds = (N, groups, C // groups, M // groups, P, Q, R, S)
        tensors = (
            _t("Weights", [[(1, "G")], [(1, "M")], [(1, "C")], [(1, "R")], [(1, "S")]]),
            _t("Inputs", [[(1, "N")], [(1, "G")], [(1, "C")], w_axis, h_axis]),
            _t("Outputs", [[(1, "N")], [(1, "G")], [(1, "M")], [(1, "P")], [(1, "Q")]], True),
        )
        kind = "grouped_conv2d"
    return Workload(name, dims, bounds, tensors, kind, params + (("groups", groups),))


def depthwise_conv2d(*, N: int = 1, C: int, P: int, Q: int, R: int, S: int,
                     stride: int | tuple[int, int] = 1, dilation: int | tuple[int, int] = 1,
                     name: str = "depthwise") -> Workload:
    """A depthwise convolution: one filter per channel, no reduction over channels."""
    hs, ws = (stride, stride) if isinstance(stride, int) else stride
    hd, wd = (dilation, dilation) if isinstance(dilation, int) else dilation
    dims = ("N", "C", "P", "Q", "R", "S")
    tensors = (
        _t("Weights", [[(1, "C")], [(1, "R")], [(1, "S")]]),
        _t("Inputs", [[(1, "N")], [(1, "C")], ((ws, "P"), (wd, "R")), ((hs, "Q"), (hd, "S"))]),
        _t("Outputs", [[(1, "N")], [(1, "C")], [(1, "P")], [(1, "Q")]], True),
    )
    params = (("Wstride", ws), ("Hstride", hs), ("Wdilation", wd), ("Hdilation", hd))
    return Workload(name, dims, (N, C, P, Q, R, S), tensors, "depthwise", params)


def gemm(*, M: int, N: int, K: int, name: str = "gemm") -> Workload:
    """Outputs[M][N] += Inputs[M][K] * Weights[K][N] (a fully connected layer with batch M)."""
    tensors = (
        _t("Weights", [[(1, "K")], [(1, "N")]]),
        _t("Inputs", [[(1, "M")], [(1, "K")]]),
        _t("Outputs", [[(1, "M")], [(1, "N")]], True),
    )
    return Workload(name, ("M", "N", "K"), (M, N, K), tensors, "gemm")


def fully_connected(*, N: int = 1, C: int, M: int, name: str = "fc") -> Workload:
    """Outputs[N][M] += Inputs[N][C] * Weights[M][C] (batch N, C inputs, M outputs)."""
    tensors = (
        _t("Weights", [[(1, "M")], [(1, "C")]]),
        _t("Inputs", [[(1, "N")], [(1, "C")]]),
        _t("Outputs", [[(1, "N")], [(1, "M")]], True),
    )
    return Workload(name, ("N", "C", "M"), (N, C, M), tensors, "fully_connected")


def batched_matmul(*, B: int, M: int, N: int, K: int, name: str = "bmm") -> Workload:
    """Outputs[B][M][N] += Inputs[B][M][K] * Weights[B][K][N] (both operands batched)."""
    tensors = (
        _t("Weights", [[(1, "B")], [(1, "K")], [(1, "N")]]),
        _t("Inputs", [[(1, "B")], [(1, "M")], [(1, "K")]]),
        _t("Outputs", [[(1, "B")], [(1, "M")], [(1, "N")]], True),
    )
    return Workload(name, ("B", "M", "N", "K"), (B, M, N, K), tensors, "batched_matmul")


_TENSOR_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*\[(.*)\]\s*$")
_TERM_RE = re.compile(r"^\s*(?:(-?\d+)\s*\*\s*)?([A-Za-z_]\w*)\s*(?:\*\s*(-?\d+))?\s*$")


def parse_tensor_expr(expr: str, *, key: str = "einsum") -> tuple[str, tuple[tuple[Term, ...], ...]]:
    """Parse ``Name[a, 2*p+r, ...]`` into a tensor name and its axes."""
    m = _TENSOR_RE.match(expr)
    if not m:
        raise SpecError(f"cannot parse tensor expression {expr!r}", key=key,
                        fix="write it as Name[i, j+k, 2*p+r]")
    name, body = m.group(1), m.group(2)
    axes = []
    for axis_text in body.split(","):
        terms = []
        for part in axis_text.replace("-", "+-").split("+"):
            part = part.strip()
            if not part:
                continue
            neg = part.startswith("-")
            tm = _TERM_RE.match(part[1:] if neg else part)
            if not tm:
                raise SpecError(f"cannot parse term {part!r} in {expr!r}", key=key,
                                fix="terms are 'dim', 'k*dim' or 'dim*k'")
            coef = int(tm.group(1) or tm.group(3) or 1)
            terms.append((-coef if neg else coef, tm.group(2)))
        if not terms:
            raise SpecError(f"empty axis in {expr!r}", key=key)
        axes.append(tuple(terms))
    return name, tuple(axes)


def einsum(spec: str, bounds: Mapping[str, int], *, name: str = "einsum") -> Workload:
    """A workload from ``"Out[m,n] += A[m,k] * B[k,n]"``; the left side is read-write.

    Dimension order follows first appearance; every dimension needs a bound.
    """
    if "+=" not in spec:
        raise SpecError(f"expected 'Out[...] += A[...] * B[...]', got {spec!r}", key="einsum")
    lhs, rhs = spec.split("+=", 1)
    out_name, out_axes = parse_tensor_expr(lhs)
    tensors = [Tensor(out_name, out_axes, True)]
    # Split operands on '*' that sit outside brackets.
    operands, depth, cur = [], 0, ""
    for ch in rhs:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "*" and depth == 0:
            operands.append(cur)
            cur = ""
        else:
            cur += ch
    operands.append(cur)
    for op in operands:
        n, axes = parse_tensor_expr(op)
        tensors.append(Tensor(n, axes, False))
    dims: list[str] = []
    for t in [tensors[0]] + tensors[1:]:
        for axis in t.axes:
            for _, d in axis:
                if d not in dims:
                    dims.append(d)
    extra = [d for d in bounds if d not in dims]
    if extra:
        raise SpecError(f"bounds name dimensions the expression does not use: {extra}",
                        key="einsum.bounds")
    missing = [d for d in dims if d not in bounds]
    if missing:
        raise SpecError(f"no bound for dimensions {missing}", key="einsum.bounds",
                        fix="give every dimension a positive size")
    # Inputs first, then outputs, so tensor order reads like the expression.
    ordered = tensors[1:] + tensors[:1]
    return Workload(name, tuple(dims), tuple(bounds[d] for d in dims), tuple(ordered), "einsum")
