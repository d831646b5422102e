"""Best EDP with perfect factors only vs with imperfect factors allowed (issue 13), same
run, same strategy, same search budget and seed.

The imperfect arm searches the mapspace's imperfect option (``Constraints(imperfect=
True)``, ``--imperfect``: every loop end up to the bound, residuals determined;
docs/mapspace.md) with the same strategy: ``local`` by default (the default strategy;
``climb``, ``random`` and ``exhaustive`` work too). A third arm allows residuals only in
the dimensions whose bound is not a power of two (``imperfect_dims``; R and S left out),
a fourth residuals only at the levels with a spatial fanout (``imperfect_levels``).
Rows with residual loops are scored by the scalar model (the batched model's fallback,
milliseconds a row against microseconds for a perfect row), so the seconds differ a lot
at the same budget. EDP in J x cycles under Timeloop's cycle rule (the default).

    python benchmarks/imperfect.py [EVALUATIONS] [SEED] [STRATEGY]
"""

from __future__ import annotations

import sys
import time

from loopscape.mapper import search
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.presets import load_arch_preset
from loopscape.spaces.workload import conv2d, fully_connected, gemm

CASES = [
    ("resnet50 conv1 7x7/2", conv2d(C=3, M=64, P=112, Q=112, R=7, S=7, stride=2,
                                    name="conv1"), "eyeriss_like"),
    ("resnet50 fc", fully_connected(C=2048, M=1000, name="fc"), "eyeriss_like"),
    ("resnet50 conv5_x 3x3", conv2d(C=512, M=512, P=7, Q=7, R=3, S=3, name="conv5"),
     "eyeriss_like"),
    ("gemm 512^3", gemm(M=512, N=512, K=512, name="gemm512"), "simba_like"),
]


def ragged(w) -> tuple[str, ...]:
    """The dimensions whose bound is not a power of two (R and S left out)."""
    return tuple(d for d in w.dims if d not in ("R", "S") and w.bound(d) & (w.bound(d) - 1))


def fanout_levels(a) -> tuple[str, ...]:
    """The levels with a spatial fanout (their spatial loops, and temporal ones, may run
    residuals in the fourth arm)."""
    return tuple(l.name for i, l in enumerate(a.levels) if a.fanout(i) != (1, 1))


def best(w, a, imperfect: bool, budget: int, seed: int, strategy: str, dims=None,
         levels=None):
    """(best EDP, its mapping has a residual loop, seconds)."""
    t = time.perf_counter()
    c = Constraints(imperfect=imperfect, imperfect_dims=dims, imperfect_levels=levels)
    r = search(w, a, c, strategy=strategy,
               objectives="edp", evaluations=budget, seed=seed)
    p = min(r.front, key=lambda p: p.evaluation["edp_j_cycles"])
    residual = any(l.imperfect for lm in p.mapping.levels for l in lm.temporal + lm.spatial)
    return p.evaluation["edp_j_cycles"], residual, time.perf_counter() - t


def main() -> None:
    budget = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    strategy = sys.argv[3] if len(sys.argv) > 3 else "local"
    print(f"strategy {strategy}, {budget:,} legal mappings per search, seed {seed}, objective "
          f"EDP (J x cycles), Timeloop's cycle rule; ratio = perfect / arm (> 1: the arm "
          f"wins); * = its best mapping has a residual loop")
    print(f"{'layer':22} {'arch':13} {'perfect':>9} {'s':>5} | {'all dims':>9} {'ratio':>7}"
          f" {'s':>5} | {'ragged dims':>18} {'ratio':>7} {'s':>5} | {'fanout levels':>24}"
          f" {'ratio':>7} {'s':>5}")

    def arm(p_edp, got, label=""):
        edp, res, sec = got
        text = f"{label} {edp:.4g}".strip()
        return f"{text:>{18 if label else 9}} {p_edp / edp:5.2f}x{'*' if res else ' '} {sec:5.1f}"

    for label, w, arch_name in CASES:
        a = load_arch_preset(arch_name)
        p_edp, _, p_s = best(w, a, False, budget, seed, strategy)
        cols = [arm(p_edp, best(w, a, True, budget, seed, strategy))]
        dims = ragged(w)
        cols.append(arm(p_edp, best(w, a, True, budget, seed, strategy, dims), ",".join(dims))
                    if dims else f"{'none':>18} {'-':>7} {'-':>5}")
        lv = fanout_levels(a)
        got = best(w, a, True, budget, seed, strategy, levels=lv)
        cols.append(arm(p_edp, got, ",".join(lv)).rjust(38))
        print(f"{label:22} {arch_name:13} {p_edp:9.4g} {p_s:5.1f} | " + " | ".join(cols),
              flush=True)


if __name__ == "__main__":
    main()
