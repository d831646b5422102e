"""The memoised refetch walk of residual loops (``ResidualNest.refetch``) equals the
plain walk it replaced, which visits every representative iteration (or, for
``schedule="exact"``, every iteration) one by one and applies the refetch rule to the
boxes it meets, on random small problems with residual loops and both semantics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from loopscape.costmodels.residual_walk import ResidualNest, representative

from test_residuals import residual_problems


def plain_refetch(rn: ResidualNest, tensor, c: int) -> int:
    """Words instance 0 of level ``c`` fetches, walked visit by visit (no memo)."""
    loops = rn.loops
    above = [j for j, l in enumerate(loops) if l.level < c]
    temporal = [j for j in above if not loops[j].spatial]
    full, last = rn.extents(c)

    def on_last(idx, upto, dim):
        return all(idx.get(j, 0) == loops[j].last - 1
                   for j in range(upto) if loops[j].dim == dim)

    def box(idx):
        ext = {d: last[d] if on_last(idx, len(above), d) else full[d] for d in rn.dims}
        origin = {d: 0 for d in rn.dims}
        for j in above:
            origin[loops[j].dim] += idx.get(j, 0) * loops[j].step
        lo = [sum(k * origin[d] for k, d in ax) + sum(k * (ext[d] - 1) for k, d in ax if k < 0)
              for ax in tensor.axes]
        hi = [sum(k * origin[d] for k, d in ax) + sum(k * (ext[d] - 1) for k, d in ax if k > 0)
              for ax in tensor.axes]
        return lo, hi

    def size(b):
        return math.prod(h - l + 1 for l, h in zip(*b))

    def visit(state, idx):
        prev, trans = state
        cur = box(idx)
        if prev is None:
            return (cur, None), size(cur)
        t = tuple(int(math.copysign(math.floor(abs((cl + ch - pl - ph) / 2) + 0.5),
                                    (cl + ch - pl - ph)))
                  for pl, ph, cl, ch in zip(prev[0], prev[1], cur[0], cur[1]))
        new = size(cur) - math.prod(max(0, min(ah, bh) - max(al, bl) + 1) for al, ah, bl, bh
                                    in zip(cur[0], cur[1], prev[0], prev[1]))
        if rn.keep_stationary and not any(t):
            return (cur, trans), new
        if trans is None or t == trans:
            return (cur, t), new
        return (cur, None), size(cur)

    right_above = bool(temporal) and loops[temporal[-1]].level == c - 1 \
        and not any(loops[j].spatial and loops[j].level == c - 1 for j in above)

    def walk(k, state, idx):
        if k == len(temporal):
            return visit(state, idx)
        j = temporal[k]
        l = loops[j]
        n = l.last if on_last(idx, j, l.dim) else l.factor
        if rn.schedule == "exact":
            its = [(x, 1, False) for x in range(n)]
        else:
            run_last = rn.first_imperfect.get(l.dim, -1) > j and on_last(idx, j, l.dim)
            its = representative(n, run_last, l.last != l.factor)
        total = counted = 0
        for x, w, reuse in its:
            idx[j] = x
            state, got = walk(k + 1, state, idx)
            if reuse and k == len(temporal) - 1 and right_above:
                got = counted
            counted = got
            total += w * got
        idx[j] = 0
        return state, total

    return walk(0, (None, None), {})[1]


@pytest.mark.parametrize("schedule", ["timeloop", "exact"])
@pytest.mark.parametrize("keep_stationary", [True, False])
@settings(max_examples=40, derandomize=True, deadline=None)
@given(problem=residual_problems())
def test_memoised_walk_equals_the_plain_walk(problem, schedule, keep_stationary):
    w, a, m = problem
    rn = ResidualNest(m, w.dims, schedule, keep_stationary)
    for c in range(1, len(a.levels)):
        for t in w.tensors:
            assert rn.refetch(t, c) == plain_refetch(rn, t, c), (c, t.name)


@pytest.mark.parametrize("keep_stationary", [True, False])
@pytest.mark.parametrize("case", ["conv", "gemm"])
def test_memoised_walk_equals_the_plain_walk_on_imperfect_mapspace_samples(case,
                                                                          keep_stationary):
    from loopscape.spaces.mapspace import Mapspace
    from loopscape.spaces.presets import load_arch_preset
    from loopscape.spaces.workload import conv2d, gemm
    w, arch = {"conv": (conv2d(C=6, M=10, P=9, Q=5, R=3, S=2, name="c"),
                        "simple_weight_stationary"),
               "gemm": (gemm(M=100, N=20, K=30, name="g"), "simba_like")}[case]
    a = load_arch_preset(arch)
    for _, m in Mapspace(w, a, imperfect=True).sample(8, seed=11):
        rn = ResidualNest(m, w.dims, "timeloop", keep_stationary)
        for c in range(1, len(a.levels)):
            for t in w.tensors:
                assert rn.refetch(t, c) == plain_refetch(rn, t, c), (c, t.name)
