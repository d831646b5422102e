"""Benchmark: evaluations per second, scalar vs batched, and end-to-end random search.

Layer: ResNet-50 conv2_x 3x3 (preset ``resnet50_conv2_x_3x3``) on the Eyeriss-like design
under its architecture constraints (tests/fixtures/timeloop/design_eyeriss_like, loaded
as in benchmarks/sampling.py). On one core (BLAS/OpenMP threads set to 1 before numpy
is imported), it prints in one run:

* scalar evaluations per second (``costmodels.evaluate``, legality check off: the model's
  own cost) over a fixed set of legal mappings;
* batched evaluations per second (``BatchEvaluator``) over a batch of sampled legal
  rows, and its ratio to the scalar rate; legal mappings per second of the batched
  sampler (``Mapspace.sample_batch``) alone;
* end-to-end random search, legal mappings per second: ``Mapspace.sample_batch`` +
  ``BatchEvaluator`` + an energy/cycles Pareto archive that holds only the front
  (``loopscape.mapper.pareto.ParetoArchive`` when present, else a small numpy filter),
  and its ratios to the other two;
* peak RSS (``resource.getrusage``) after a search of ``--rows`` rows and after one three
  times as long: flat memory means the two agree.

Figures are per machine and per load; compare runs of this script on one machine.

    python benchmarks/throughput.py [--seconds 2] [--rows 600000] [--batch 16384] [--json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from loopscape.costmodels import evaluate  # noqa: E402
from loopscape.costmodels.batched import BatchEvaluator  # noqa: E402
from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints  # noqa: E402
from loopscape.spaces.mapspace import Mapspace  # noqa: E402
from loopscape.spaces.presets import load_arch_preset, load_workload_preset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EYERISS_CASE = ROOT / "tests" / "fixtures" / "timeloop" / "design_eyeriss_like"


def space() -> Mapspace:
    layer = load_workload_preset("resnet50_conv2_x_3x3")
    arch = load_arch_preset("eyeriss_like")
    spec = load_timeloop([EYERISS_CASE / "parsed-processed-input.yaml"])
    constraints = timeloop_constraints(spec, layer, arch, source=str(EYERISS_CASE))
    return Mapspace(layer, arch, constraints)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


class _Front:
    """Non-dominated (energy, cycles) points seen so far, and one item each."""

    def __init__(self) -> None:
        self.x = np.empty((0, 2))
        self.items = np.empty(0, dtype=np.int64)

    def add_batch(self, values: np.ndarray, items: np.ndarray) -> int:
        x = np.concatenate([self.x, values])
        it = np.concatenate([self.items, items])
        order = np.lexsort((x[:, 1], x[:, 0]))  # by energy, then cycles
        xs = x[order]
        best = np.minimum.accumulate(xs[:, 1])
        keep = np.ones(len(xs), dtype=bool)
        keep[1:] = xs[1:, 1] < best[:-1]  # strictly fewer cycles than every earlier row
        self.x, self.items = xs[keep], it[order][keep]
        return int(keep.sum())

    def __len__(self) -> int:
        return len(self.x)


def make_archive():
    try:
        from loopscape.mapper.pareto import ParetoArchive
    except ImportError:
        return _Front(), "numpy filter (benchmarks/throughput.py)"
    return (ParetoArchive(objectives=("energy_pj", "cycles")),
            "loopscape.mapper.pareto.ParetoArchive")


def measure_scalar(ms: Mapspace, seconds: float) -> dict:
    mappings = [m for _, m in ms.sample(200, seed=1)]
    w, a = ms.workload, ms.arch
    evaluate(w, a, mappings[0], check=False)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for m in mappings:
            evaluate(w, a, m, check=False)
        n += len(mappings)
    dt = time.perf_counter() - t0
    return {"evals": n, "seconds": dt, "per_s": n / dt}


def measure_batched(ms: Mapspace, ev: BatchEvaluator, seconds: float, batch: int) -> dict:
    _, rows = ms.sample_batch(batch, seed=2, with_ids=False)
    ev(rows)
    n = 0
    best = float("inf")
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        ev(rows)
        best = min(best, time.perf_counter() - t)
        n += len(rows)
    dt = time.perf_counter() - t0
    return {"evals": n, "seconds": dt, "per_s": n / dt, "best_batch_per_s": batch / best}


def measure_sampling(ms: Mapspace, seconds: float, batch: int) -> dict:
    g = np.random.default_rng(5)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += len(ms.sample_batch(batch, rng=g)[1])
    dt = time.perf_counter() - t0
    return {"rows": n, "seconds": dt, "per_s": n / dt}


def random_search(ms: Mapspace, ev: BatchEvaluator, rows: int, batch: int, seed: int) -> dict:
    """Sample + evaluate + archive ``rows`` legal mappings in batches; only the front is
    kept (items: ids)."""
    archive, kind = make_archive()
    g = np.random.default_rng(seed)
    times = {"sample": 0.0, "evaluate": 0.0, "archive": 0.0}
    done = 0
    t0 = time.perf_counter()
    while done < rows:
        k = min(batch, rows - done)
        t = time.perf_counter()
        ids, b = ms.sample_batch(k, rng=g)
        t1 = time.perf_counter()
        r = ev(b)
        t2 = time.perf_counter()
        archive.add_batch(np.stack([r.energy_pj, r.cycles.astype(np.float64)], axis=1), ids)
        t3 = time.perf_counter()
        times["sample"] += t1 - t
        times["evaluate"] += t2 - t1
        times["archive"] += t3 - t2
        done += k
    dt = time.perf_counter() - t0
    return {"rows": done, "seconds": dt, "per_s": done / dt, "front": len(archive),
            "archive": kind, "peak_rss_mib": peak_rss_mib(),
            "share": {k: v / dt for k, v in times.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="measurement time of each evaluator")
    ap.add_argument("--rows", type=int, default=600_000,
                    help="legal mappings of the first random search (the second: 3x)")
    ap.add_argument("--batch", type=int, default=16384, help="rows per batch")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t_start = time.perf_counter()
    ms = space()
    ev = BatchEvaluator(ms.workload, ms.arch)
    ms.sample_batch(1, seed=0)  # builds the sampler's tables
    rss_setup = peak_rss_mib()
    scalar = measure_scalar(ms, args.seconds)
    batched = measure_batched(ms, ev, args.seconds, args.batch)
    sampling = measure_sampling(ms, args.seconds, args.batch)
    search1 = random_search(ms, ev, args.rows, args.batch, seed=3)
    search3 = random_search(ms, ev, 3 * args.rows, args.batch, seed=4)
    out = {
        "layer": ms.workload.name, "arch": ms.arch.name, "constraints": str(EYERISS_CASE.name),
        "scalar_evals_per_s": scalar["per_s"],
        "batched_evals_per_s": batched["per_s"],
        "batched_best_batch_evals_per_s": batched["best_batch_per_s"],
        "batched_sampling_legal_per_s": sampling["per_s"],
        "random_search_legal_per_s": search3["per_s"],
        "random_search_legal_per_s_1x": search1["per_s"],
        "batched_over_scalar": batched["per_s"] / scalar["per_s"],
        "search_over_scalar": search3["per_s"] / scalar["per_s"],
        "search_over_batched": search3["per_s"] / batched["per_s"],
        "search_time_share": search3["share"],
        "search_rows": [search1["rows"], search3["rows"]],
        "front_size": [search1["front"], search3["front"]],
        "archive": search3["archive"],
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_mib_setup": rss_setup,
        "peak_rss_mib_after_search_1x": search1["peak_rss_mib"],
        "peak_rss_mib_after_search_3x": search3["peak_rss_mib"],
        "batch_rows": args.batch,
        "numpy": np.__version__, "python": platform.python_version(),
        "cpus_allowed": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "seconds_total": time.perf_counter() - t_start,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['layer']} on {out['arch']} ({out['constraints']} constraints), one core, "
          f"numpy {out['numpy']}")
    print(f"  scalar evaluator        {out['scalar_evals_per_s']:>12,.0f} evaluations/s")
    print(f"  batched evaluator       {out['batched_evals_per_s']:>12,.0f} evaluations/s   "
          f"x{out['batched_over_scalar']:,.0f} scalar  (best batch "
          f"{out['batched_best_batch_evals_per_s']:,.0f}/s)")
    print(f"  batched sampler         {out['batched_sampling_legal_per_s']:>12,.0f} "
          f"legal mappings/s (Mapspace.sample_batch, with ids)")
    sh = out["search_time_share"]
    print(f"  random search           {out['random_search_legal_per_s']:>12,.0f} legal mappings/s"
          f" x{out['search_over_scalar']:,.0f} scalar, {out['search_over_batched']:.2f} of batched"
          f"  (time: sample {sh['sample']:.0%}, evaluate {sh['evaluate']:.0%}, "
          f"archive {sh['archive']:.0%})")
    print(f"  search of {out['search_rows'][0]:,} rows: {out['random_search_legal_per_s_1x']:,.0f}"
          f"/s, front {out['front_size'][0]}; of {out['search_rows'][1]:,} rows: front "
          f"{out['front_size'][1]} ({out['archive']})")
    print(f"  peak RSS: {out['peak_rss_mib_setup']:.0f} MiB after setup, "
          f"{out['peak_rss_mib_after_search_1x']:.0f} MiB after the 1x search, "
          f"{out['peak_rss_mib_after_search_3x']:.0f} MiB after the 3x search")
    print(f"  ({out['seconds_total']:.1f} s)")


if __name__ == "__main__":
    main()
