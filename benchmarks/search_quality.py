"""Benchmark: search quality of the strategies against evaluations and wall time.

For each strategy (random, local, bayesian; exhaustive where the pruned space fits the
budget) on three layers, one core, seed 0:

* ResNet-50 conv2_x 3x3 on the Eyeriss-like design under its own constraints (those of
  the Timeloop exercise, tests/fixtures/timeloop/design_eyeriss_like); Timeloop's random
  mapper needed 154 s on 2 threads to reach EDP 203 J*cycle there, so the time each
  strategy needs to reach EDP <= 203 is reported too;
* the Eyeriss exercise's default layer (a stride-2 first conv) on the Simba-like design,
  no constraints;
* BERT-base FFN1 (a 512x768x3072 GEMM) on the simple weight-stationary design, no
  constraints;

it prints the best EDP (J*cycle) and the hypervolume of the (energy, cycles) front found
so far, at checkpoints of wall time and of evaluations. The hypervolume is reported as
a fraction of the box between the ideal corner (0, 0) and the **reference point: twice
the worst energy and twice the worst cycles among 1,000 uniform legal samples drawn with
seed 0**, and as its shortfall from the best front known (1 - HV / HV*, HV* the best any
strategy reached). On a space small enough to enumerate (Timeloop exercise 05 without
constraints: 2.2 M ids, 263,360 pruned), the exhaustive strategy gives the true front
and HV* is its hypervolume: the shortfall is then the gap to the true front (1 - the
hypervolume ratio). Every mapping there takes the same cycles, so its (energy, cycles)
front is one point (the minimum energy); the per-level energies (DRAM, global buffer,
register file), where keeping data at one level or another is a real trade-off, are
measured too (a 3-objective front, hypervolume in 3-D).

Each search runs once through ``loopscape.mapper.search`` with a recording wrapper
strategy (the plug-in interface) that timestamps every scored batch; the clock starts
before the strategy's setup. ``random`` is asked for 1,024 mappings per batch (finer
progress); the others get the driver's default (4,096; ``local`` takes at most 2,048 per
ask, ``bayesian`` 64). Times are per machine; compare runs of this script.

    python benchmarks/search_quality.py [--quick] [--seconds 30] [--json FILE]

``--quick`` (2 s per search, about a minute in all) for a smoke run; the default (30 s
per search, 10 s on the enumerable space) takes about 6 minutes.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.mapper.objectives import objective_values
from loopscape.mapper.pareto import hypervolume, nondominated_mask
from loopscape.mapper.search import search
from loopscape.mapper.strategy import Proposal, SearchContext, Strategy, make_strategy
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_workload_preset

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "timeloop"
TIMELOOP_EDP = 203.0  # J*cycle, Timeloop's random mapper after 154 s on 2 threads


class Recorder(Strategy):
    """Wraps a strategy and timestamps every scored batch (time since before setup)."""

    name = "recorder"

    def __init__(self, inner: Strategy):
        self.inner = inner
        self.name = inner.name
        self.log: list[tuple[float, np.ndarray]] = []

    def setup(self, ctx: SearchContext) -> None:
        self.t0 = time.perf_counter()
        super().setup(ctx)
        self.inner.setup(ctx)

    def ask(self, n: int) -> Proposal | None:
        return self.inner.ask(n)

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        self.inner.tell(proposal, values)
        self.log.append((time.perf_counter() - self.t0, np.array(values, dtype=float)))


PAIR = ("energy_pj", "cycles")
LEVELS = ("energy:MainMemory", "energy:GlobalBuffer", "energy:RegisterFile")
BATCH = {"random": 1024}  # finer progress for the slower sampler; others: the default


@dataclass
class Case:
    name: str
    workload: object
    arch: object
    constraints: object = None
    target_edp: float | None = None
    sets: tuple[tuple[str, ...], ...] = (PAIR,)  # objective sets measured
    references: dict = field(default_factory=dict)  # set -> reference point
    true_hv: dict = field(default_factory=dict)  # set -> hypervolume of the true front


def cases() -> list[Case]:
    conv = load_workload_preset("resnet50_conv2_x_3x3")
    eyeriss = load_arch_preset("eyeriss_like")
    spec = load_timeloop([FIX / "design_eyeriss_like" / "parsed-processed-input.yaml"])
    constraints = timeloop_constraints(spec, conv, eyeriss, source="design_eyeriss_like")
    return [
        Case("resnet50_conv2_x_3x3 / eyeriss_like + constraints", conv, eyeriss, constraints,
             target_edp=TIMELOOP_EDP),
        Case("eyeriss_default / simba_like", load_workload_preset("eyeriss_default"),
             load_arch_preset("simba_like")),
        Case("bert_base_ffn1 / simple_weight_stationary", load_workload_preset("bert_base_ffn1"),
             load_arch_preset("simple_weight_stationary")),
    ]


def small_case() -> Case:
    """Timeloop exercise 05 without constraints. Every mapping there takes the same
    cycles (no fanout), so its (energy, cycles) front is one point; where to keep data
    is a real trade-off between the levels' energies, so those are measured too."""
    d = FIX / "ex05_mapper_conv1d_oc_3level_null"
    spec = load_timeloop([d / "parsed-processed-input.yaml", *sorted(d.glob("*.ERT.yaml"))])
    return Case("ex05 conv1d_oc / ex05 arch, no constraints (enumerable)", spec.workload,
                spec.arch, sets=(PAIR, LEVELS))


def reference_point(case: Case, pair: tuple[str, ...]) -> tuple[float, ...]:
    """Twice the worst value of each objective among 1,000 uniform legal samples, seed 0."""
    space = Mapspace(case.workload, case.arch, case.constraints)
    strat = make_strategy("random")
    strat.setup(SearchContext(space, pair, (), 0))
    p = strat.ask(1000)
    r = BatchEvaluator(case.workload, case.arch)(p.batch)
    v = objective_values(pair, r, case.arch)
    return tuple(2.0 * float(x) for x in v.max(axis=0))


@dataclass
class Trajectory:
    times: np.ndarray  # seconds since before setup, per batch
    evals: np.ndarray  # cumulative evaluations
    best_edp: np.ndarray  # NaN unless the objectives are (energy, cycles)
    hv: np.ndarray


def run(case: Case, strategy: str, pair: tuple[str, ...], seconds: float,
        evaluations: int | None = None) -> Recorder | str:
    rec = Recorder(make_strategy(strategy))
    try:
        search(case.workload, case.arch, case.constraints, strategy=rec, objectives=pair,
               seconds=seconds, evaluations=evaluations, seed=0,
               batch_size=BATCH.get(strategy, 4096))
    except SpecError as e:
        return str(e).split("\n")[0]
    return rec


def trajectory(rec: Recorder, cols: tuple[int, ...], reference: tuple[float, ...],
               edp: bool) -> Trajectory:
    """Best EDP and hypervolume after each batch, from the recorded values (columns
    ``cols`` of them)."""
    ref = np.array(reference)
    times, evals, best, hvs = [], [], [], []
    front = np.zeros((0, len(cols)))
    n = 0
    b = np.inf if edp else np.nan
    for t, v in rec.log:
        v = v[:, list(cols)]
        n += len(v)
        if edp:
            b = min(b, float((v[:, 0] * v[:, 1]).min() * 1e-12))
        front = np.concatenate([front, v])
        front = front[nondominated_mask(front)]
        times.append(t)
        evals.append(n)
        best.append(b)
        hvs.append(hypervolume(front, ref))
    return Trajectory(np.array(times), np.array(evals), np.array(best), np.array(hvs))


def at(tr: Trajectory, *, t: float | None = None, n: int | None = None):
    """(evaluations, seconds, best EDP, hypervolume) at the last batch within t / n."""
    mask = tr.times <= t if t is not None else tr.evals <= n
    if not mask.any():
        return None
    k = int(np.nonzero(mask)[0][-1])
    return int(tr.evals[k]), float(tr.times[k]), float(tr.best_edp[k]), float(tr.hv[k])


def time_to(tr: Trajectory, edp: float) -> float | None:
    hit = np.nonzero(tr.best_edp <= edp)[0]
    return float(tr.times[hit[0]]) if len(hit) else None


def table(case: Case, pair: tuple[str, ...], results: dict, time_marks, eval_marks,
          rows: list) -> None:
    """Print one case's rows: per strategy, at time and evaluation checkpoints and at its
    end; HV as a fraction of the reference box and as its shortfall from the best known
    front (the true one when enumerated, else the best any strategy found)."""
    ref = case.references[pair]
    box = float(np.prod(ref))
    trs = {k: v for k, v in results.items() if isinstance(v, Trajectory)}
    best_hv = case.true_hv.get(pair) or max(float(tr.hv[-1]) for tr in trs.values())
    known = "true front" if pair in case.true_hv else "best found"
    edp = pair == PAIR
    print(f"  objectives {', '.join(pair)}; reference point "
          f"({', '.join(f'{x:.4g}' for x in ref)})")
    print(f"  {'strategy':11} {'at':>14} {'evals':>10} {'time s':>8} "
          f"{'best EDP' if edp else '':>11} {'HV frac':>9} {'HV short of ' + known:>22}")
    for name, tr in results.items():
        if not isinstance(tr, Trajectory):
            print(f"  {name:11} {tr}")
            rows.append({"case": case.name, "strategy": name, "refused": tr})
            continue
        checks = [("time", m, at(tr, t=m)) for m in time_marks]
        checks += [("evals", m, at(tr, n=m)) for m in eval_marks if m <= tr.evals[-1]]
        checks.append(("end", None, at(tr, n=int(tr.evals[-1]))))
        last = None
        for kind, m, got in checks:
            if got is None or (kind == "time" and got == last):
                continue
            last = got if kind == "time" else last
            n, t, e, hv = got
            label = "end" if kind == "end" else f"{kind}<={m:g}"
            short = (best_hv - hv) / best_hv if best_hv > 0 else 0.0
            rows.append({"case": case.name, "objectives": list(pair), "strategy": name,
                         "at": label, "evaluations": n, "seconds": round(t, 3),
                         "best_edp": None if np.isnan(e) else e, "hv_fraction": hv / box,
                         "hv_shortfall": short, "reference": list(ref)})
            print(f"  {name:11} {label:>14} {n:>10,} {t:>8.2f} "
                  f"{'' if np.isnan(e) else f'{e:.5g}':>11} {hv / box:>9.5f} {short:>22.2e}")
        if case.target_edp and edp:
            hit = time_to(tr, case.target_edp)
            msg = f"{hit:.2f} s" if hit is not None else "not reached"
            print(f"  {name:11} time to EDP <= {case.target_edp:g} J*cycle: {msg}")
            rows.append({"case": case.name, "strategy": name, "target_edp": case.target_edp,
                         "time_to_target_edp": hit})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a minute in all")
    ap.add_argument("--seconds", type=float, default=None,
                    help="wall time per search (default 30; --quick: 2)")
    ap.add_argument("--strategies", default="random,local,bayesian")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 30.0)
    strategies = args.strategies.split(",")
    time_marks = sorted({m for m in (0.5, 1, 3, 10, 30, 100) if m < seconds})
    eval_marks = [1_000, 10_000, 100_000]
    rows: list = []
    start = time.perf_counter()
    for case in cases():
        space = Mapspace(case.workload, case.arch, case.constraints)
        print(f"\n{case.name}: pruned space {space.pruned_size:.3g} mappings")
        case.references[PAIR] = reference_point(case, PAIR)
        results = {}
        for name in strategies:
            rec = run(case, name, PAIR, seconds)
            results[name] = rec if isinstance(rec, str) else \
                trajectory(rec, (0, 1), case.references[PAIR], True)
        # Exhaustive refuses (with the size) when the pruned space exceeds the budget.
        rec = run(case, "exhaustive", PAIR, seconds, evaluations=10_000_000)
        results["exhaustive"] = rec if isinstance(rec, str) else \
            trajectory(rec, (0, 1), case.references[PAIR], True)
        table(case, PAIR, results, time_marks, eval_marks, rows)

    case = small_case()
    space = Mapspace(case.workload, case.arch, case.constraints)
    print(f"\n{case.name}: pruned space {space.pruned_size:,} mappings")
    both = PAIR + LEVELS
    truth = run(case, "exhaustive", both, 3600.0, evaluations=10 * space.pruned_size)
    small_seconds = min(seconds, 2.0 if args.quick else 10.0)
    for k, pair in enumerate(case.sets):
        case.references[pair] = reference_point(case, pair)
        start_col = both.index(pair[0])
        cols = tuple(range(start_col, start_col + len(pair)))
        tr = trajectory(truth, cols, case.references[pair], pair == PAIR)
        case.true_hv[pair] = float(tr.hv[-1])
        values = np.concatenate([v[:, list(cols)] for _, v in truth.log])
        print(f"  true front in ({', '.join(pair)}): "
              f"{int(nondominated_mask(values).sum())} point(s)")
        results = {"exhaustive": tr}
        for name in strategies:
            rec = run(case, name, pair, small_seconds)
            results[name] = rec if isinstance(rec, str) else \
                trajectory(rec, tuple(range(len(pair))), case.references[pair], pair == PAIR)
        table(case, pair, results, sorted({m for m in (0.5, 1, 3) if m < small_seconds}),
              eval_marks, rows)
    print(f"\n(true fronts: exhaustive walked the {space.pruned_size:,} pruned mappings and "
          f"scored the {int(truth.log and sum(len(v) for _, v in truth.log)):,} legal ones in "
          f"{truth.log[-1][0]:.1f} s, with both objective sets at once; "
          f"total {time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
