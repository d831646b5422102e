"""Best EDP with perfect factors only vs with residual loops allowed (issue 13), same run,
same search budget.

The mapspace enumerates perfect factorizations only, so "imperfect allowed" is found by
pad-and-trim: the same search (same budget, seed and strategy) on the layer with every
dimension whose bound is not a power of two rounded up to the next one (R and S kept),
then every mapping of its Pareto front made into one of the real layer with residual
loops (``spaces.residuals.trim_to_bounds``) and evaluated on the real layer (Timeloop's
cycle rule, the default). The better of that and the perfect search is reported as the
imperfect-allowed best, since perfect mappings are imperfect-allowed too.

    python benchmarks/imperfect.py [EVALUATIONS]
"""

from __future__ import annotations

import dataclasses
import sys
import time

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.mapper import search
from loopscape.spaces.errors import MappingError
from loopscape.spaces.presets import load_arch_preset
from loopscape.spaces.residuals import trim_to_bounds
from loopscape.spaces.workload import conv2d, fully_connected, gemm

CASES = [
    ("resnet50 conv1 7x7/2", conv2d(C=3, M=64, P=112, Q=112, R=7, S=7, stride=2,
                                    name="conv1"), "eyeriss_like"),
    ("resnet50 fc", fully_connected(C=2048, M=1000, name="fc"), "eyeriss_like"),
    ("resnet50 conv5_x 3x3", conv2d(C=512, M=512, P=7, Q=7, R=3, S=3, name="conv5"),
     "eyeriss_like"),
    ("gemm 512^3", gemm(M=512, N=512, K=512, name="gemm512"), "simba_like"),
]


def padded(w):
    bounds = {d: b if d in ("R", "S") or b & (b - 1) == 0 else 1 << b.bit_length()
              for d, b in w.shape.items()}
    return dataclasses.replace(w, bounds=tuple(bounds[d] for d in w.dims),
                               name=w.name + "_padded")


def main() -> None:
    budget = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    exact = ModelOptions(residual_cycles="exact")
    print(f"budget {budget:,} evaluations per search (energy-cycles front, best EDP on it), strategy local, seed 0;"
          f" EDP in J x cycles; imperfect columns: best of the perfect search and the trimmed"
          f" padded front, cycles by Timeloop's rule (product of loop ends) / exact")
    print(f"{'layer':22} {'arch':13} {'perfect':>10} {'imperf.TL':>10} {'ratio':>6} "
          f"{'imperf.exact':>12} {'ratio':>6}  trimmed  padded dims")
    for label, w, arch_name in CASES:
        a = load_arch_preset(arch_name)
        t = time.perf_counter()
        perfect = min(p.evaluation["edp_j_cycles"]
                      for p in search(w, a, evaluations=budget, seed=0).front)
        pw = padded(w)
        grown = {d: (w.bound(d), pw.bound(d)) for d in w.dims if pw.bound(d) != w.bound(d)}
        best_tl = best_exact = perfect
        n = 0
        if grown:
            front = search(pw, a, evaluations=budget, seed=0).front
            for p in front:
                m = trim_to_bounds(p.mapping, w.shape)
                try:
                    best_tl = min(best_tl, evaluate(w, a, m).edp)
                    best_exact = min(best_exact, evaluate(w, a, m, options=exact).edp)
                    n += 1
                except MappingError:
                    continue
        dims = ", ".join(f"{d} {b}->{q}" for d, (b, q) in grown.items()) or "none"
        print(f"{label:22} {arch_name:13} {perfect:10.4g} {best_tl:10.4g} "
              f"{perfect / best_tl:5.2f}x {best_exact:12.4g} {perfect / best_exact:5.2f}x "
              f"{n:8d}  {dims}  ({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
