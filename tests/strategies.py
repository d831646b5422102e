"""Hypothesis strategies for small layers, architectures and legal mappings.

Everything is sized for brute-force checking: layers have at most ``max_macs`` MACs,
architectures have 2 to 4 storage levels with unbounded capacities (so every mapping
fits), and mappings are perfect factorizations whose spatial products stay within
each level's X/Y fanout. Draws shrink towards small bounds, unit factors, no fanout
and everything kept at the outermost level.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.mapping import LevelMapping, Loop, Mapping, check_mapping
from loopscape.spaces.workload import Workload, conv2d, depthwise_conv2d, einsum, gemm

CONV1D = "Outputs[k,p] += Weights[c,k,r] * Inputs[c,r+p]"
LAYER_KINDS = ("conv2d", "depthwise", "gemm", "conv1d")


def divisors(n: int) -> list[int]:
    """Divisors of ``n`` in increasing order (1 first, so draws shrink towards 1)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` with multiplicity, increasing."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def _bounds(draw: st.DrawFn, caps: dict[str, int], budget: int) -> dict[str, int]:
    """Bounds up to ``caps`` whose product stays within ``budget`` (random draw order)."""
    order = draw(st.permutations(sorted(caps)))
    out: dict[str, int] = {}
    for d in order:
        hi = max(1, min(caps[d], budget // math.prod(out.values(), start=1)))
        out[d] = draw(st.integers(1, hi))
    return out


@st.composite
def layers(draw: st.DrawFn, kinds: tuple[str, ...] = LAYER_KINDS,
           max_macs: int = 3000) -> Workload:
    """A small conv2d (stride and dilation 1-2, sometimes N=2), depthwise conv, GEMM or
    conv1d einsum with at most ``max_macs`` MACs."""
    kind = draw(st.sampled_from(kinds))
    if kind == "gemm":
        b = draw(_bounds({"M": 12, "N": 12, "K": 12}, max_macs))
        return gemm(**b)
    if kind == "conv1d":
        b = draw(_bounds({"c": 4, "k": 4, "r": 5, "p": 16}, max_macs))
        return einsum(CONV1D, b, name="conv1d")
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    n = draw(st.sampled_from((1, 1, 1, 2)))
    if kind == "depthwise":
        b = draw(_bounds({"C": 4, "P": 12, "Q": 6, "R": 3, "S": 3}, max_macs // n))
        return depthwise_conv2d(N=n, stride=stride, dilation=dilation, **b)
    b = draw(_bounds({"C": 4, "M": 4, "P": 12, "Q": 6, "R": 3, "S": 3}, max_macs // n))
    return conv2d(N=n, stride=stride, dilation=dilation, **b)


@st.composite
def architectures(draw: st.DrawFn, min_levels: int = 2, max_levels: int = 4,
                  max_fanout: int = 4, max_pes: int = 32) -> Architecture:
    """2 to 4 unbounded storage levels with random X/Y fanouts (at most ``max_pes`` MACs)
    and, sometimes, a dummy level below the outermost."""
    n = draw(st.integers(min_levels, max_levels))
    dummy = draw(st.sampled_from([None] + list(range(1, n)))) if n >= 3 else None
    mx, my = 1, 1
    meshes = []
    for _ in range(n + 1):  # the storage levels, then compute
        meshes.append((mx, my))
        fx = draw(st.integers(1, max(1, min(max_fanout, max_pes // (mx * my)))))
        fy = draw(st.integers(1, max(1, min(max_fanout, max_pes // (mx * my * fx)))))
        mx, my = mx * fx, my * fy
    levels = tuple(
        StorageLevel(f"L{i}", instances=x * y, mesh_x=x, mesh_y=y, capacity_words=None,
                     dummy=(i == dummy))
        for i, (x, y) in enumerate(meshes[:n]))
    cx, cy = meshes[n]
    return Architecture("random", levels, ComputeLevel("MAC", cx * cy, cx, cy))


@st.composite
def mappings(draw: st.DrawFn, workload: Workload, arch: Architecture, *,
             pinned: dict[str, dict[int, int]] | None = None,
             must_keep: dict[int, tuple[str, ...]] | None = None) -> Mapping:
    """A random legal mapping: spatial factors within each fanout, the remaining prime
    factors spread over the levels' temporal loops, random loop orders and keep sets.

    ``pinned`` gives some dimensions' temporal factors outright (level -> factor, their
    product the bound; no spatial factor is drawn for them); ``must_keep`` names tensors
    a level keeps whatever the draw.
    """
    n = len(arch.levels)
    pinned = pinned or {}
    must_keep = must_keep or {}
    remaining = {d: 1 if d in pinned else b for d, b in workload.shape.items()}
    spatial: list[tuple[tuple[Loop, ...], tuple[Loop, ...]]] = []
    for i in range(n):
        fx, fy = arch.fanout(i)
        used: set[str] = set()
        per_axis = []
        for cap in (fx, fy):
            loops = []
            for d in draw(st.permutations(workload.dims)):
                if d in used:
                    continue
                options = [f for f in divisors(remaining[d]) if f <= cap]
                f = draw(st.sampled_from(options))
                if f > 1:
                    loops.append(Loop(d, f))
                    used.add(d)
                    remaining[d] //= f
                    cap //= f
            per_axis.append(tuple(loops))
        spatial.append((per_axis[0], per_axis[1]))
    temporal = [{d: 1 for d in workload.dims} for _ in range(n)]
    for d in workload.dims:
        for p in prime_factors(remaining[d]):
            temporal[draw(st.integers(0, n - 1))][d] *= p
        for i, f in pinned.get(d, {}).items():
            temporal[i][d] *= f
    levels = []
    for i, lvl in enumerate(arch.levels):
        pad = draw(st.booleans())  # sometimes keep unit loops in the nest
        loops = [Loop(d, f) for d, f in temporal[i].items() if f > 1 or pad]
        loops = draw(st.permutations(loops))
        if i == 0:
            keep = workload.tensor_names
        elif lvl.dummy:
            keep = ()
        else:
            keep = tuple(t for t in workload.tensor_names
                         if t in must_keep.get(i, ()) or draw(st.booleans()))
        sx, sy = spatial[i]
        levels.append(LevelMapping(lvl.name, tuple(loops), sx, sy, keep))
    m = Mapping(tuple(levels))
    check_mapping(workload, arch, m)
    return m


@st.composite
def sliding_problems(draw: st.DrawFn) -> tuple[Workload, Architecture, Mapping]:
    """A sliding window continued across loops of several levels, where the schedules
    can differ: a stride-1 conv whose R loop sits in the Inputs tile of the innermost
    non-dummy level while P = outer x inner (inner 3 or 4) is split over two temporal
    loops at two different levels above it."""
    kind = draw(st.sampled_from(("conv1d", "conv2d", "depthwise")))
    p_outer, p_inner = draw(st.integers(2, 3)), draw(st.integers(3, 4))
    p, r = p_outer * p_inner, draw(st.integers(2, 3))
    if kind == "conv1d":
        w = einsum(CONV1D, {"c": draw(st.integers(1, 2)), "k": draw(st.integers(1, 2)),
                            "r": r, "p": p}, name="conv1d")
        pd, rd = "p", "r"
    elif kind == "conv2d":
        w = conv2d(C=draw(st.integers(1, 2)), M=draw(st.integers(1, 2)), P=p,
                   Q=draw(st.integers(1, 3)), R=r, S=draw(st.integers(1, 2)),
                   dilation=(1, draw(st.integers(1, 2))))
        pd, rd = "P", "R"
    else:
        w = depthwise_conv2d(C=draw(st.integers(1, 2)), P=p, Q=draw(st.integers(1, 3)), R=r,
                             S=draw(st.integers(1, 2)))
        pd, rd = "P", "R"
    a = draw(architectures(min_levels=3))
    tile = max(i for i, lvl in enumerate(a.levels) if not lvl.dummy)
    if tile >= 2:
        lo = draw(st.integers(0, tile - 2))
        hi = draw(st.integers(lo + 1, tile - 1))
        p_pin = {lo: p_outer, hi: p_inner}
    else:
        p_pin = {0: p}
    r_pin = {draw(st.integers(tile, len(a.levels) - 1)): r}
    m = draw(mappings(w, a, pinned={pd: p_pin, rd: r_pin}, must_keep={tile: ("Inputs",)}))
    return w, a, m


@st.composite
def problems(draw: st.DrawFn, max_macs: int = 3000,
             kinds: tuple[str, ...] = LAYER_KINDS) -> tuple[Workload, Architecture, Mapping]:
    """(layer, architecture, legal mapping); one draw in four is a sliding-window case."""
    if draw(st.sampled_from((False, False, False, True))):
        return draw(sliding_problems())
    w = draw(layers(kinds=kinds, max_macs=max_macs))
    a = draw(architectures())
    return w, a, draw(mappings(w, a))
