"""The search driver: strategies propose, the batched cost model scores, the Pareto
archive keeps the non-dominated mappings; termination by evaluations, wall time or
patience; parallel workers with joblib, deterministic for a given seed and job count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from loopscape.costmodels import evaluate
from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import Workload

from .objectives import MAXIMIZED, maximized, objective_values, parse_objectives
from .pareto import ParetoArchive, nondominated_mask
from .strategy import SearchContext, Strategy, make_strategy


@dataclass(frozen=True)
class FrontPoint:
    """One Pareto-optimal mapping with its objectives and full evaluation."""

    mapping: Mapping
    mapspace_id: int | None
    objectives: dict[str, float]
    evaluation: dict  # the scalar evaluator's to_dict(): metrics, levels, bounds, gap

    def to_dict(self) -> dict:
        return {"mapspace_id": self.mapspace_id, "objectives": self.objectives,
                "metrics": self.evaluation}


@dataclass(frozen=True)
class SearchStats:
    strategy: str
    seed: int
    jobs: int
    evaluated: int  # legal mappings scored
    rejected: int  # illegal proposals dropped by the strategies
    seconds: float
    stopped_by: str  # "evaluations", "time", "patience", "exhausted" or "stalled"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SearchResult:
    workload: str
    arch: str
    objectives: tuple[str, ...]
    front: tuple[FrontPoint, ...]
    stats: SearchStats
    space_sizes: dict[str, int] = field(default_factory=dict)

    def values(self) -> np.ndarray:
        return np.array([[p.objectives[o] for o in self.objectives] for p in self.front])

    def hypervolume(self, reference: Sequence[float]) -> float:
        archive = ParetoArchive(self.objectives, maximize=maximized(self.objectives))
        archive.add_batch(self.values())
        return archive.hypervolume(reference)

    def best(self, objective: str) -> FrontPoint:
        sign = -1 if objective in MAXIMIZED else 1
        return min(self.front, key=lambda p: sign * p.objectives[objective])

    def to_dict(self) -> dict:
        return {"workload": self.workload, "arch": self.arch,
                "objectives": list(self.objectives), "stats": self.stats.to_dict(),
                "space_sizes": {k: str(v) for k, v in self.space_sizes.items()},
                "front": [p.to_dict() for p in self.front]}


_MAX_EMPTY_ASKS = 1000  # consecutive asks without a legal candidate before giving up


@dataclass
class _WorkerOut:
    points: list[tuple[tuple[float, ...], tuple[np.ndarray, ...], int | None]]
    evaluated: int
    rejected: int
    stopped_by: str


def _run_worker(workload: Workload, arch: Architecture, constraints: Constraints | None,
                strategy: str | Strategy, strategy_options: dict, objectives: tuple[str, ...],
                seed: int, worker: int, workers: int, evaluations: int | None,
                seconds: float | None, patience: int | None, batch_size: int,
                total_budget: int | None,
                progress: Callable[[int, int], None] | None = None,
                sparsity=None) -> _WorkerOut:
    from loopscape.costmodels.sparse_batched import make_batch_evaluator
    from loopscape.spaces.sparse_capacity import capacity_arch
    space = Mapspace(workload, capacity_arch(arch, workload, sparsity), constraints)
    strat = make_strategy(strategy, **strategy_options)
    maximize = maximized(objectives)
    strat.setup(SearchContext(space, objectives, maximize, seed, worker, workers, evaluations,
                              {"total_budget": total_budget}))
    evaluator = make_batch_evaluator(workload, arch, sparsity)
    archive = ParetoArchive(objectives, maximize=maximize)
    signs = np.array([-1.0 if o in maximize else 1.0 for o in objectives])
    start = time.perf_counter()
    evaluated = rejected = empty_asks = 0
    last_change_at = 0
    version = archive.version
    stopped_by = "exhausted"
    while True:
        if evaluations is not None and evaluated >= evaluations:
            stopped_by = "evaluations"
            break
        if seconds is not None and time.perf_counter() - start >= seconds:
            stopped_by = "time"
            break
        if patience is not None and evaluated - last_change_at >= patience:
            stopped_by = "patience"
            break
        n = batch_size if evaluations is None else min(batch_size, evaluations - evaluated)
        proposal = strat.ask(n)
        if proposal is None:
            break
        rejected += proposal.rejected
        if len(proposal) == 0:
            # A strategy that keeps offering nothing legal must not hang the search.
            empty_asks += 1
            if empty_asks >= _MAX_EMPTY_ASKS:
                stopped_by = "stalled"
                break
            continue
        empty_asks = 0
        result = evaluator(proposal.batch)
        values = objective_values(objectives, result, arch)
        strat.tell(proposal, values)
        evaluated += len(proposal)
        # Keep only this batch's own non-dominated rows as candidates for the archive,
        # so that only a handful of rows are copied out of the batch.
        rows = np.nonzero(nondominated_mask(values * signs))[0]
        items = [(_copy_row(proposal.batch, int(r)),
                  None if proposal.ids is None else int(proposal.ids[r])) for r in rows]
        archive.add_batch(values[rows], items)
        if archive.version != version:
            version = archive.version
            last_change_at = evaluated
        if progress is not None:
            progress(len(proposal), len(archive))
    points = [(p.values, p.item[0], p.item[1]) for p in archive.front]
    return _WorkerOut(points, evaluated, rejected, stopped_by)


def _copy_row(batch: MappingBatch, r: int) -> tuple[np.ndarray, ...]:
    return tuple(np.array(getattr(batch, f)[r:r + 1]) for f in
                 ("temporal", "spatial_x", "spatial_y", "rank", "keep"))


def search(workload: Workload, arch: Architecture, constraints: Constraints | None = None, *,
           strategy: str | Strategy = "random", strategy_options: dict | None = None,
           objectives: Sequence[str] | str = ("energy_pj", "cycles"),
           evaluations: int | None = None, seconds: float | None = None,
           patience: int | None = None, jobs: int = 1, seed: int = 0, batch_size: int = 4096,
           progress: Callable[[int, int], None] | None = None,
           sparsity=None) -> SearchResult:
    """Search the mapspace and return its Pareto front (energy vs. cycles by default).

    Stops after ``evaluations`` scored mappings (split over ``jobs`` workers), after
    ``seconds`` of wall time, after ``patience`` evaluations without a change of the
    front, or when the strategy has nothing left — whichever comes first. At least one
    of ``evaluations``/``seconds`` is required. The same seed and job count give the
    same front (with an evaluation budget). ``sparsity`` (a SparsitySpec) evaluates with
    the sparse model and checks capacity with compressed tiles (docs/sparsity.md).
    """
    objectives = parse_objectives(objectives, arch)
    if evaluations is None and seconds is None:
        raise SpecError("give an evaluation budget or a time limit", key="budget",
                        fix="e.g. --budget 100000 or --time 10")
    for name, v in (("evaluations", evaluations), ("seconds", seconds),
                    ("patience", patience)):
        if v is not None and v <= 0:
            raise SpecError(f"{name} must be positive, got {v}", key=name)
    if jobs < 1:
        raise SpecError(f"jobs must be at least 1, got {jobs}", key="jobs")
    if batch_size < 1:
        raise SpecError(f"batch_size must be at least 1, got {batch_size}", key="batch_size")
    options = dict(strategy_options or {})
    from loopscape.spaces.sparse_capacity import capacity_arch
    space = Mapspace(workload, capacity_arch(arch, workload, sparsity), constraints)  # validates
    seeds = np.random.SeedSequence(seed).generate_state(jobs)
    shares = [None] * jobs if evaluations is None else \
        [evaluations // jobs + (1 if w < evaluations % jobs else 0) for w in range(jobs)]
    start = time.perf_counter()
    args = [(workload, arch, constraints, strategy, options, objectives, int(seeds[w]), w, jobs,
             shares[w], seconds, patience, batch_size, evaluations) for w in range(jobs)]
    if jobs == 1:
        outs = [_run_worker(*args[0], progress=progress, sparsity=sparsity)]
    else:
        if isinstance(strategy, Strategy):
            raise SpecError("a strategy instance cannot be shared by several jobs",
                            key="strategy", fix="pass its registered name, or use jobs=1")
        from joblib import Parallel, delayed
        outs = Parallel(n_jobs=jobs)(delayed(_run_worker)(*a, sparsity=sparsity) for a in args)
    elapsed = time.perf_counter() - start

    maximize = maximized(objectives)
    merged = ParetoArchive(objectives, maximize=maximize)
    for out in outs:  # worker order: deterministic
        merged.add_batch(np.array([p[0] for p in out.points]).reshape(-1, len(objectives)),
                         [(p[1], p[2]) for p in out.points])
    front = []
    for p in merged.front:
        arrays, mid = p.item
        batch = MappingBatch(*arrays)
        mapping = decode(workload, arch, batch, 0)
        if sparsity is not None:
            from loopscape.costmodels.sparse_eval import evaluate_sparse
            ev = evaluate_sparse(workload, arch, mapping, sparsity)
        else:
            ev = evaluate(workload, arch, mapping)
        front.append(FrontPoint(mapping, mid, dict(zip(objectives, map(float, p.values))),
                                ev.to_dict()))
    stopped = sorted({o.stopped_by for o in outs})
    name = strategy if isinstance(strategy, str) else strategy.name
    stats = SearchStats(name, seed, jobs, sum(o.evaluated for o in outs),
                        sum(o.rejected for o in outs), elapsed, ",".join(stopped))
    return SearchResult(workload.name, arch.name, objectives, tuple(front), stats,
                        space.sizes())


__all__ = ["FrontPoint", "SearchResult", "SearchStats", "search"]
