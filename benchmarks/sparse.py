"""Benchmark: does sparsity change the best mapping? ResNet-50 conv2_x 3x3 on the
Eyeriss-like design with its sparsity preset (weight reads and MACs gated on zero
inputs, UOP-RLE compressed inputs/outputs in DRAM and the global buffer), weights at
density 0.3 and inputs at 0.5, under the design's own mapspace constraints.

One run, one core, the same strategy, seed and evaluation budget for both searches:

* dense search: the mapspace and cost model without sparsity; its best-EDP mapping is
  then re-evaluated with sparsity (what a sparsity-unaware mapper would deploy);
* sparsity-aware search: the sparse cost model (Sparseloop semantics) and the mapspace
  whose capacity check counts compressed tiles at their non-zeros.

It prints both mappings' EDP under sparsity, the ratio, whether the mappings differ
(and how: tiles, loop orders, keeps), and as a baseline in the same run the evaluation
rate of each search.

    python benchmarks/sparse.py [--budget N] [--strategy local] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from loopscape.costmodels import evaluate
from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.mapper import search
from loopscape.spaces.io.yaml_sparsity import load_sparsity
from loopscape.spaces.presets import resolve_arch, resolve_constraints, resolve_layer

DENSITIES = {"Weights": 0.3, "Inputs": 0.5}


def _best_edp(result):
    return min(result.front, key=lambda p: p.objectives["energy_pj"] * p.objectives["cycles"])


def _describe(mapping) -> list[str]:
    out = []
    for lm in mapping.levels:
        loops = " ".join(f"{l.dim}{l.factor}" for l in lm.temporal if l.factor > 1)
        sx = " ".join(f"{l.dim}{l.factor}" for l in lm.spatial_x if l.factor > 1)
        sy = " ".join(f"{l.dim}{l.factor}" for l in lm.spatial_y if l.factor > 1)
        out.append(f"{lm.target}: T[{loops}] X[{sx}] Y[{sy}] keep {','.join(lm.keep) or '-'}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--strategy", default="local")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    w = resolve_layer("resnet50_conv2_x_3x3")
    a = resolve_arch("eyeriss_like")
    c = resolve_constraints("eyeriss_like_constraints", w, a)
    sp = load_sparsity("eyeriss_like_sparse").with_densities(DENSITIES)

    t0 = time.perf_counter()
    dense = search(w, a, c, strategy=args.strategy, objectives="energy_pj,cycles",
                   evaluations=args.budget, seed=args.seed)
    t_dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    aware = search(w, a, c, strategy=args.strategy, objectives="energy_pj,cycles",
                   evaluations=args.budget, seed=args.seed, sparsity=sp)
    t_sparse = time.perf_counter() - t0

    d_best = _best_edp(dense)
    d_dense_ev = evaluate(w, a, d_best.mapping)
    d_sparse_ev = evaluate_sparse(w, a, d_best.mapping, sp)
    s_best = _best_edp(aware)
    s_ev = evaluate_sparse(w, a, s_best.mapping, sp)
    rows = {
        "dense-optimal mapping, dense model": (d_dense_ev.energy_pj, d_dense_ev.cycles),
        "dense-optimal mapping, with sparsity": (d_sparse_ev.energy_pj, d_sparse_ev.cycles),
        "sparsity-aware search, with sparsity": (s_ev.energy_pj, s_ev.cycles),
    }
    out = {
        "layer": w.name, "arch": a.name, "sparsity": "eyeriss_like_sparse", "densities": DENSITIES,
        "strategy": args.strategy, "budget": args.budget, "seed": args.seed,
        "results": {k: {"energy_pj": e, "cycles": cy, "edp_j_cycles": e * 1e-12 * cy}
                    for k, (e, cy) in rows.items()},
        "edp_ratio_dense_optimal_over_aware":
            (d_sparse_ev.edp / s_ev.edp),
        "same_mapping": d_best.mapping == s_best.mapping,
        "dense_optimal_mapping": _describe(d_best.mapping),
        "sparsity_aware_mapping": _describe(s_best.mapping),
        "seconds": {"dense_search": t_dense, "sparse_search": t_sparse},
        "evaluations_per_second": {"dense": dense.stats.evaluated / t_dense,
                                   "sparse": aware.stats.evaluated / t_sparse},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{w.name} on {a.name} + eyeriss_like_sparse, densities {DENSITIES}; "
          f"{args.strategy}, {args.budget:,} evaluations per search, seed {args.seed}")
    print(f"{'':40s} {'energy_pj':>16s} {'cycles':>12s} {'EDP (J*cycle)':>14s}")
    for k, (e, cy) in rows.items():
        print(f"{k:40s} {e:16,.0f} {cy:12,} {e * 1e-12 * cy:14.4g}")
    print(f"EDP of the dense-optimal mapping under sparsity / sparsity-aware best: "
          f"x{out['edp_ratio_dense_optimal_over_aware']:.3f}; same mapping: {out['same_mapping']}")
    print("dense-optimal mapping:")
    for line in out["dense_optimal_mapping"]:
        print("  " + line)
    print("sparsity-aware mapping:")
    for line in out["sparsity_aware_mapping"]:
        print("  " + line)
    print(f"search time: dense {t_dense:.1f} s ({out['evaluations_per_second']['dense']:,.0f} "
          f"eval/s), sparse {t_sparse:.1f} s ({out['evaluations_per_second']['sparse']:,.0f} eval/s)")


if __name__ == "__main__":
    main()
