"""Benchmark: the ``optimal`` strategy beside ``local``, in the same run, one core.

Cases (seed 0):

1. Timeloop exercise 05 without constraints (2.2 M ids, 263,360 pruned mappings): the
   time ``optimal`` needs to certify the exact energy-cycles front, beside
   ``exhaustive`` (scores every canonical legal mapping); the two fronts must agree;
2. ResNet-50 conv2_x 3x3 on ``eyeriss_like`` with ``eyeriss_like_constraints`` (3.2e10
   pruned mappings): ``optimal`` for ``--seconds`` (certified, or its proven gap) beside
   ``local`` for the same time;
3. the same layer on ``eyeriss_like`` and on ``simba_like`` without constraints: the
   proven gap after ``--seconds``, beside ``local``;
4. case 2 run to the end (at most ``--certify`` seconds, one job): the time to a
   certified optimum (issue 14's target: 10 s), with rule ``leaf_bound`` off (the
   rules before it) and on, side by side;
5. with ``--sweep``: every unique ResNet-50 layer on ``eyeriss_like`` with its
   constraints, ``--jobs 2``, ``optimal`` with ``--sweep-seconds`` per layer beside
   ``local`` with the same time: the wall time and how many layers are certified
   (issue 14's target: all 24 in 2 minutes).

For each run it prints the best EDP (J*cycle) and energy (uJ), whether the front is
certified exact (``optimal``), the proven EDP gap, the certificate's counts and the
wall and CPU seconds (the machine may be shared). The first ``optimal`` run of a fresh
install also compiles the numba kernels (about 10 s of CPU, cached on disk after). Timeloop's random mapper reached EDP 203.4 J*cycle on case 2 after 154 s (its
recorded best, tests/fixtures/timeloop/design_eyeriss_like).

    python benchmarks/optimal.py [--seconds 60] [--certify 600] [--sweep]
                                 [--sweep-seconds 120] [--quick] [--json FILE]

``--quick``: 10 s per search and case 1 only with ``optimal`` (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from loopscape.mapper import search
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints

EX05 = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "timeloop" / \
    "ex05_mapper_conv1d_oc_3level_null"
TIMELOOP_EDP = 203.4  # J*cycle, Timeloop's random mapper, case 2, 154 s


def _timed(*args, **kwargs):
    """``search`` with its CPU seconds (the machine may be shared: wall time alone misleads)."""
    cpu = time.process_time()
    r = search(*args, **kwargs)
    return r, time.process_time() - cpu


def _row(label: str, r, size: int, cpu: float) -> dict:
    edp = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in r.front)
    energy = min(p.objectives["energy_pj"] for p in r.front)
    s = r.stats
    out = {"case": label, "strategy": s.strategy, "seconds": round(s.seconds, 2),
           "evaluated": s.evaluated, "min_edp_j_cycles": edp, "min_energy_uj": energy * 1e-6,
           "front_size": len(r.front), "pruned_size": str(size), "optimal": s.optimal,
           "gap": s.gap, "cpu_seconds": round(cpu, 1)}
    if s.certificate:
        out["certificate"] = {k: s.certificate[k] for k in ("pruned", "illegal", "probes",
                                                            "lower_bound")}
    gap = "-" if s.gap is None else f"{100 * s.gap:.2f} %"
    print(f"{label:<34} {s.strategy:<10} {s.seconds:7.1f} s ({cpu:6.1f} s CPU)  "
          f"{s.evaluated:>11,} scored  "
          f"EDP {edp:9.4g}  E {energy * 1e-6:9.4g} uJ  optimal {s.optimal}  gap {gap}",
          flush=True)
    if s.certificate:
        c = s.certificate
        print(f"{'':<34} removed {c['pruned']}  illegal {c['illegal']}  probes {c['probes']:,}",
              flush=True)
    return out


def _sweep(seconds: float) -> list[dict]:
    """Every unique ResNet-50 layer on eyeriss_like with its constraints, 2 jobs."""
    from loopscape.mapper.sweep import SweepSettings, sweep
    from loopscape.spaces.workloads.zoo import network

    layers = network("resnet50")
    arch = load_arch_preset("eyeriss_like")
    out = []
    for strategy in ("local", "optimal"):
        c = resolve_constraints("eyeriss_like_constraints", None, arch)
        t = time.perf_counter()
        done = sweep(layers, arch, c, network="resnet50", jobs=2,
                     settings=SweepSettings(strategy=strategy, evaluations=None,
                                            seconds=seconds))
        wall = time.perf_counter() - t
        s = done.summary["searches"]
        certified = sum(1 for v in s.values() if v.get("optimal"))
        gaps = [v["gap"] for v in s.values() if v.get("gap") is not None]
        worst = f"{100 * max(gaps):.2f} %" if gaps else "-"
        print(f"sweep resnet50 eyeriss_like +c      {strategy:<10} {wall:7.1f} s  "
              f"{len(s)} layers, {certified} certified, worst gap {worst}", flush=True)
        out.append({"case": "sweep resnet50", "strategy": strategy, "seconds": wall,
                    "layers": len(s), "certified": certified,
                    "gaps": {k: v.get("gap") for k, v in s.items()}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--certify", type=float, default=600.0)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--sweep-seconds", type=float, default=120.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    secs = 10.0 if args.quick else args.seconds
    rows = []

    spec = load_timeloop([EX05 / "parsed-processed-input.yaml", EX05 / "timeloop-mapper.ERT.yaml"])
    w, a = spec.workload, spec.arch
    size = Mapspace(w, a).pruned_size
    opt, cpu = _timed(w, a, strategy="optimal", seconds=600)
    rows.append(_row("ex05 (no constraints)", opt, size, cpu))
    if not args.quick:
        t = time.perf_counter()
        ex, cpu = _timed(w, a, strategy="exhaustive", evaluations=10**7)
        rows.append(_row("ex05 (no constraints)", ex, size, cpu))
        same = sorted(tuple(p.objectives.values()) for p in ex.front) == \
            sorted(tuple(p.objectives.values()) for p in opt.front)
        print(f"{'':<34} exact front equals exhaustive's: {same} "
              f"({time.perf_counter() - t:.1f} s)", flush=True)
        rows[-1]["same_front_as_optimal"] = same

    layer = load_layer_preset("resnet50_conv2_x_3x3")
    cases = [("eyeriss_like", "eyeriss_like_constraints")]
    if not args.quick:
        cases += [("eyeriss_like", None), ("simba_like", None)]
    for arch_name, cons in cases:
        arch = load_arch_preset(arch_name)
        c = resolve_constraints(cons, layer, arch) if cons else None
        size = Mapspace(layer, arch, c).pruned_size
        label = f"conv2_x 3x3 {arch_name}" + (" +constraints" if cons else "")
        for strategy in ("local", "optimal"):
            r, cpu = _timed(layer, arch, c, strategy=strategy, seconds=secs)
            rows.append(_row(label, r, size, cpu))
    if not args.quick:
        arch = load_arch_preset("eyeriss_like")
        c = resolve_constraints("eyeriss_like_constraints", layer, arch)
        # without rule leaf_bound (the rules before it) and with it, side by side; one
        # job, CPU seconds too (the machine may be shared)
        for label, opts in (("no leaf_bound", {"leaf_bound": False}), ("leaf_bound", {})):
            r, cpu = _timed(layer, arch, c, strategy="optimal", seconds=args.certify,
                            strategy_options=opts)
            rows.append(_row(f"conv2_x 3x3 eyeriss_like +c, end, {label}", r,
                             Mapspace(layer, arch, c).pruned_size, cpu))
    if args.sweep:
        rows += _sweep(args.sweep_seconds)
    print(f"Timeloop's random mapper, conv2_x 3x3 eyeriss_like +constraints: EDP {TIMELOOP_EDP} "
          f"J*cycle after 154 s (recorded)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
