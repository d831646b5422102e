"""The search driver: strategies propose, the batched cost model scores, the Pareto
archive keeps the non-dominated mappings; termination by evaluations, wall time or
patience. The work is split into a fixed number of seeded streams (``STREAMS``); jobs
only schedule the streams on joblib workers, so with an evaluation budget the front
depends on the seed and the budget alone, never on the job count. Progress goes to an
optional ``ProgressCallback`` (nothing here prints).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from loopscape.costmodels import evaluate
from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.costmodels.options import ModelOptions, model_options
from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.sparse_capacity import capacity_arch
from loopscape.spaces.sparsity import SparsitySpec
from loopscape.spaces.workload import Workload

from .objectives import MAXIMIZED, maximized, parse_objectives
from .pareto import ParetoArchive
from .strategies.auto import merge_auto
from .strategies.optimal import mapping_of, merge
from .strategy import SearchContext, Strategy, prepare_strategy
from .streams import StreamOut, StreamPlan, StreamSettings, run_group


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
    optimal: bool | None = None  # "optimal", "auto": the front is proven exact
    gap: float | None = None  # "optimal", "auto": proven relative gap (0 when optimal)
    certificate: dict | None = None  # "optimal", "auto": rule counts, bounds (or the
    # reason nothing is proven: "auto" on a space optimal does not search)
    work: int = 0  # evaluation-equivalents of strategy work charged to the budget
    # (optimal's bounding; Proposal.work), besides the ``evaluated`` mappings
    prepare_seconds: float = 0.0  # the strategy's one-time preparation before the clock
    # started (optimal's kernels compiled or loaded: Strategy.prepare), not in ``seconds``

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
    options: ModelOptions = field(default_factory=ModelOptions)

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
                "objectives": list(self.objectives), "model": self.options.to_dict(),
                "stats": self.stats.to_dict(),
                "space_sizes": {k: str(v) for k, v in self.space_sizes.items()},
                "front": [p.to_dict() for p in self.front]}


STREAMS = 4  # seeded search streams, whatever the job count


@dataclass(frozen=True)
class SearchProgress:
    """What a search reports while it runs (to a ``ProgressCallback``)."""

    evaluated: int  # legal mappings scored so far (all streams)
    budget: int | None  # the evaluation budget, if any
    seconds: float | None  # the wall-time limit, if any
    elapsed_s: float  # wall time since the search started
    best_edp_j_cycles: float | None  # least energy x cycles seen so far (J*cycle)
    streams_done: int
    streams: int
    work: int = 0  # strategy work charged to the budget so far (evaluation-equivalents)


ProgressCallback = Callable[[SearchProgress], None]


def prepare_search(strategy: str | Strategy, space: Mapspace, objectives: Sequence[str],
                   seed: int, options: ModelOptions, sparsity: SparsitySpec | None) -> float:
    """The strategy's one-time preparation for a search of ``space`` (``Strategy.prepare``,
    e.g. compiling optimal's kernels), before any clock starts; its seconds."""
    return prepare_strategy(strategy, SearchContext(
        space, tuple(objectives), maximized(objectives), seed,
        extra={"options": options, "sparsity": sparsity}))


def search(workload: Workload, arch: Architecture, constraints: Constraints | None = None, *,
           strategy: str | Strategy = "auto", strategy_options: dict | None = None,
           objectives: Sequence[str] | str = ("energy_pj", "cycles"),
           evaluations: int | None = None, seconds: float | None = None,
           patience: int | None = None, jobs: int = 1, seed: int = 0, batch_size: int = 4096,
           streams: int = STREAMS, progress: ProgressCallback | None = None,
           options: ModelOptions | None = None,
           sparsity: SparsitySpec | None = None) -> SearchResult:
    """Search the mapspace and return its Pareto front (energy vs. cycles by default).

    The default strategy, ``auto``, runs ``local`` and then ``optimal`` seeded with its
    front: ``stats.optimal``/``stats.gap`` say what is proven (docs/search.md).
    The search runs ``streams`` independent seeded streams, each with an equal share of
    ``evaluations``, and merges their fronts by increasing mapspace id (equal points: the
    lowest id wins). ``jobs`` worker processes each run a group of the streams (stream w
    in group w mod jobs) interleaved, one batch per stream per turn, sharing the whole
    ``seconds`` of wall time, so a stream that finishes early leaves its time to the
    others. The job count changes only the speed: with an evaluation budget the same
    seed gives the same front for any ``jobs``. A stream stops when its share of
    ``evaluations`` is spent (mappings scored plus the work its strategy reports,
    ``Proposal.work``: optimal's bounding), at the group's time limit, after ``patience``
    evaluations without a change of its front, or when the strategy has nothing left.
    At least one of ``evaluations``/``seconds`` is required. A strategy instance (not a
    registered name) runs as one stream. ``progress`` receives a
    ``SearchProgress`` after every scored batch (after every finished group when
    ``jobs`` > 1). ``options`` selects the Timeloop semantics and link transfers of the
    cost model (``ModelOptions``; recorded in the result). ``sparsity`` (a SparsitySpec)
    evaluates with the sparse model and checks capacity with compressed tiles
    (docs/sparsity.md).
    """
    options_ = model_options(options)
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
    if streams < 1:
        raise SpecError(f"streams must be at least 1, got {streams}", key="streams")
    if batch_size < 1:
        raise SpecError(f"batch_size must be at least 1, got {batch_size}", key="batch_size")
    options = dict(strategy_options or {})
    # validates before any worker starts; compressed tiles decide capacity when sparse
    space = Mapspace(workload, capacity_arch(arch, workload, sparsity), constraints)
    if isinstance(strategy, Strategy):
        streams = 1  # an instance keeps its state: it is one stream
    if evaluations is not None:
        streams = min(streams, evaluations)  # every stream scores at least one mapping
    jobs_used = min(jobs, streams)
    seeds = np.random.SeedSequence(seed).generate_state(streams)
    shares = [None] * streams if evaluations is None else \
        [evaluations // streams + (1 if w < evaluations % streams else 0)
         for w in range(streams)]
    # One-time work (compiling optimal's kernels on the first run after installing) before
    # the clock starts, so it does not eat the time limit.
    prepare_s = prepare_search(strategy, space, objectives, seed, options_, sparsity)
    start = time.perf_counter()
    settings = StreamSettings(workload, arch, constraints, strategy, options, objectives,
                              streams, seconds, patience, batch_size, evaluations, options_,
                              sparsity)
    # jobs groups of streams (stream w in group w mod jobs), each run interleaved by one
    # worker process with the whole time limit
    groups = [[StreamPlan(w, int(seeds[w]), shares[w]) for w in range(g, streams, jobs_used)]
              for g in range(jobs_used)]
    state = {"evaluated": 0, "best": float("inf"), "done": 0, "work": 0}

    def report() -> None:
        if progress is not None:
            best = state["best"]
            progress(SearchProgress(state["evaluated"], evaluations, seconds,
                                    time.perf_counter() - start,
                                    None if best == float("inf") else best, state["done"],
                                    streams, state["work"]))

    def tick(n: int, batch_best: float, work: int) -> None:
        state["evaluated"] += n
        state["work"] += work
        state["best"] = min(state["best"], batch_best)
        report()

    def finished(out: StreamOut) -> None:
        state["done"] += 1
        report()

    outs: list[StreamOut] = []
    if jobs_used == 1:
        outs = run_group(settings, groups[0], tick if progress is not None else None,
                         finished, space=space)
    else:
        if isinstance(strategy, Strategy):
            raise SpecError("a strategy instance cannot be shared by several jobs",
                            key="strategy", fix="pass its registered name, or use jobs=1")
        from joblib import Parallel, delayed
        for group in Parallel(n_jobs=jobs_used, return_as="generator")(
                delayed(run_group)(settings, plans) for plans in groups):
            outs.extend(group)
            for out in group:
                state["evaluated"] += out.evaluated
                state["work"] += out.work
                state["best"] = min(state["best"], out.best_edp)
                state["done"] += 1
            report()
        outs.sort(key=lambda o: o.worker)  # in stream order, whatever group ran them
    elapsed = time.perf_counter() - start

    maximize = maximized(objectives)
    merged = ParetoArchive(objectives, maximize=maximize)
    # Equal points from several workers: the lowest mapspace id wins (then stream order).
    pts = sorted((p for out in outs for p in out.points),
                 key=lambda p: (p[2] is None, p[2] if p[2] is not None else 0))
    merged.add_batch(np.array([p[0] for p in pts]).reshape(-1, len(objectives)),
                     [(p[1], p[2]) for p in pts])
    proof: tuple = ()
    lowest: dict = {}
    if all(o.certificate is not None for o in outs):  # "optimal", "auto": their certificate
        certs = [o.certificate for o in outs]
        proof = (merge_auto if "auto" in certs[0] else merge)(
            certs, objectives,
            np.array([p.values for p in merged.front]).reshape(-1, len(objectives)), maximize)
        lowest = proof[2].pop("lowest_ids", {})
    front = []
    for p in merged.front:
        arrays, mid = p.item
        batch = MappingBatch(*arrays)
        mapping = decode(workload, arch, batch, 0)
        if mid is not None and lowest.get(tuple(p.values), mid) < mid:  # ties: lowest id
            mid = lowest[tuple(p.values)]
            mapping = mapping_of(space, mid)
        if sparsity is not None:
            ev = evaluate_sparse(workload, arch, mapping, sparsity, options=options_)
        else:
            ev = evaluate(workload, arch, mapping, options=options_)
        front.append(FrontPoint(mapping, mid, dict(zip(objectives, map(float, p.values))),
                                ev.to_dict()))
    stopped = sorted({o.stopped_by for o in outs})
    name = strategy if isinstance(strategy, str) else strategy.name
    stats = SearchStats(name, seed, jobs, sum(o.evaluated for o in outs),
                        sum(o.rejected for o in outs), elapsed, ",".join(stopped), *proof,
                        work=sum(o.work for o in outs), prepare_seconds=prepare_s)
    return SearchResult(workload.name, arch.name, objectives, tuple(front), stats,
                        space.sizes(), options_)


__all__ = ["STREAMS", "FrontPoint", "ProgressCallback", "SearchProgress", "SearchResult",
           "SearchStats", "search"]
