"""Benchmark: how often ``local`` reaches the best known basin of an unconstrained space
within an evaluation budget, as ``auto`` runs it (exchange moves, quicker restarts:
``auto.LOCAL_OPTIONS``) and with its defaults (the baseline, run in the same invocation).

On ResNet-50 conv2_x 3x3 on the Simba-like design without constraints the good mappings
fill the whole mesh (451,584 cycles) and differ in which dimensions fill it; a single
prime move between such mappings leaves PEs idle or a buffer overfull, so ``local``'s
descents end in separate basins (EDP 50.770, 51.435, 51.916, 52.285, 52.881, 54.891
J*cycle, ...). For each seed, with an evaluation budget (so the result does not depend
on the machine or its load), this prints the least EDP found and the number of
evaluations after which the search first held an EDP at or below ``--target``:

    python benchmarks/local_basins.py [--budget 300000] [--seeds 0,1,2,3,4]
        [--arch simba_like] [--layer resnet50_conv2_x_3x3] [--target 50.7705]

Rows: ``defaults`` is ``local`` with its defaults (no exchange move, restarts after
20,000 stale evaluations: the ``local`` of earlier versions, draw for draw); ``auto's``
is ``local`` with ``auto.LOCAL_OPTIONS``, as ``auto``'s local phase runs it. About 12 s
of CPU per search at the default budget.
"""

from __future__ import annotations

import argparse
import time

from loopscape.mapper import search
from loopscape.mapper.strategies.auto import LOCAL_OPTIONS
from loopscape.spaces.presets import resolve_arch, resolve_workload


def run(w, a, budget: int, seed: int, options: dict,
        target: float) -> tuple[float, int | None, float]:
    hit: list[int | None] = [None]

    def progress(p):
        if hit[0] is None and p.best_edp_j_cycles is not None and p.best_edp_j_cycles <= target:
            hit[0] = p.evaluated

    c = time.process_time()
    r = search(w, a, None, strategy="local", strategy_options=options, evaluations=budget,
               seed=seed, progress=progress)
    best = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in r.front)
    return best, hit[0], time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=300_000)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--arch", default="simba_like")
    ap.add_argument("--layer", default="resnet50_conv2_x_3x3")
    ap.add_argument("--target", type=float, default=50.7705,
                    help="EDP (J*cycle) counted as reaching the best known basin")
    args = ap.parse_args()
    w, a = resolve_workload(args.layer), resolve_arch(args.arch)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{args.layer} on {args.arch}, no constraints, {args.budget:,} evaluations per "
          f"search; target EDP <= {args.target} J*cycle")
    for name, options in (("defaults", {}), ("auto's", LOCAL_OPTIONS)):
        hits = 0
        for seed in seeds:
            best, at, cpu = run(w, a, args.budget, seed, options, args.target)
            hits += at is not None
            where = f"reached after {at:,} evaluations" if at is not None else "not reached"
            print(f"  {name:9s} seed {seed}: best {best:.3f} J*cycle, target {where} "
                  f"({cpu:.1f} s CPU)", flush=True)
        print(f"  {name}: target reached on {hits} of {len(seeds)} seeds")


if __name__ == "__main__":
    main()
