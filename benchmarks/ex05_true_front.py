"""Check: exhaustive search on Timeloop's exercise 05 returns the true Pareto front.

The ex05 architecture (MainMemory, GlobalBuffer, RegisterFile) and problem (Conv1D_OC:
K32 R3 P16) without constraints: 945 factorizations x 36 loop orders x 64 keep choices =
2,177,280 ids. The script runs ``search(strategy="exhaustive")`` (which walks the ~263K
canonical mappings), then a brute-force pass that decodes and scores EVERY id with the
batched evaluator, and compares the two energy/cycles fronts. It also prints the
minimum energy against Timeloop's best for this case under its own constraints
(46,485.5 pJ, ex05 freebypass). Takes a few minutes on one core.

    python benchmarks/ex05_true_front.py [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.mapper import nondominated_mask, search
from loopscape.spaces.encoding import encode
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.mapspace import Mapspace

CASE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "timeloop" / \
    "ex05_mapper_conv1d_oc_3level_null"
TIMELOOP_BEST_PJ = 46485.5  # ex05 freebypass: Timeloop's best under that case's constraints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = load_timeloop([CASE / "parsed-processed-input.yaml", CASE / "timeloop-mapper.ERT.yaml"])
    w, a = spec.workload, spec.arch
    ms = Mapspace(w, a)
    t0 = time.perf_counter()
    result = search(w, a, strategy="exhaustive", evaluations=ms.pruned_size)
    t_search = time.perf_counter() - t0
    exhaustive = {(round(p.objectives["energy_pj"], 6), p.objectives["cycles"]) for p in result.front}

    t0 = time.perf_counter()
    ev = BatchEvaluator(w, a)
    fronts = []
    chunk = 20000
    legal_total = 0
    for start in range(0, ms.size, chunk):
        maps = [ms.mapping(i) for i in range(start, min(ms.size, start + chunk))]
        maps = [m for m in maps if ms.is_legal(m)]
        legal_total += len(maps)
        r = ev(encode(w, a, maps))
        vals = np.stack([r.energy_pj, r.cycles.astype(float)], axis=1)
        fronts.append(vals[nondominated_mask(vals)])
    allv = np.concatenate(fronts)
    brute = {(round(e, 6), c) for e, c in allv[nondominated_mask(allv)]}
    t_brute = time.perf_counter() - t0
    out = {"ids": ms.size, "pruned": ms.pruned_size, "legal_ids": legal_total,
           "exhaustive_evaluated": result.stats.evaluated, "exhaustive_seconds": round(t_search, 1),
           "brute_force_seconds": round(t_brute, 1), "front_size": len(exhaustive),
           "fronts_equal": exhaustive == brute,
           "min_energy_pj": min(e for e, _ in exhaustive), "timeloop_best_pj": TIMELOOP_BEST_PJ,
           "front": sorted(exhaustive)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
