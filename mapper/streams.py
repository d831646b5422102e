"""The search streams of one worker process, run interleaved.

A worker runs its group of seeded streams round-robin: one ask/evaluate/tell per
unfinished stream per turn, in stream order. The group shares one wall-time limit, so
time a stream leaves by finishing early goes to every stream still running. Each stream
keeps its own strategy object, seed and share of the evaluation budget; a stream's
budget is charged with the mappings it scores plus the bounding work its strategy
reports (``Proposal.work``), so with a budget its result never depends on the machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from loopscape.costmodels.options import ModelOptions
from loopscape.costmodels.sparse_batched import make_batch_evaluator
from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.sparse_capacity import capacity_arch
from loopscape.spaces.sparsity import SparsitySpec
from loopscape.spaces.workload import Workload

from .objectives import maximized, objective_values
from .pareto import ParetoArchive, nondominated_mask
from .strategy import SearchContext, Strategy, make_strategy

MAX_EMPTY_ASKS = 1000  # consecutive asks without a legal candidate (nor work) before giving up


@dataclass(frozen=True)
class StreamSettings:
    """What every stream of a search shares (sent once to each worker process)."""

    workload: Workload
    arch: Architecture
    constraints: Constraints | None
    strategy: str | Strategy
    strategy_options: dict
    objectives: tuple[str, ...]
    streams: int  # streams in the whole search (a strategy's ``ctx.workers``)
    seconds: float | None  # the wall-time limit of each group
    patience: int | None
    batch_size: int
    total_budget: int | None
    options: ModelOptions
    sparsity: SparsitySpec | None = None


@dataclass(frozen=True)
class StreamPlan:
    """One stream: its index, seed and share of the evaluation budget (None: no budget)."""

    worker: int
    seed: int
    share: int | None


@dataclass
class StreamOut:
    """What a finished stream hands back to the search driver."""

    worker: int
    points: list[tuple[tuple[float, ...], tuple[np.ndarray, ...], int | None]]
    evaluated: int  # legal mappings scored
    work: int  # evaluation-equivalents of strategy work charged (Proposal.work)
    rejected: int
    stopped_by: str
    best_edp: float  # least energy x cycles scored (J*cycle); inf when nothing was
    certificate: dict | None = None  # "optimal", "auto": its proof, merged by search()


class Stream:
    """One seeded stream: its strategy, archive and counters; ``step`` runs one
    ask/evaluate/tell, ``finish`` hands back a ``StreamOut`` and frees the strategy."""

    def __init__(self, settings: StreamSettings, plan: StreamPlan, space: Mapspace,
                 evaluator, deadline: float | None):
        s = settings
        self.settings, self.plan, self.evaluator, self.deadline = s, plan, evaluator, deadline
        self.maximize = maximized(s.objectives)
        self.strat: Strategy | None = make_strategy(s.strategy, **s.strategy_options)
        self.strat.setup(SearchContext(
            space, s.objectives, self.maximize, plan.seed, plan.worker, s.streams, plan.share,
            {"total_budget": s.total_budget, "options": s.options, "sparsity": s.sparsity,
             "seconds": s.seconds, "deadline": deadline}))
        self.archive = ParetoArchive(s.objectives, maximize=self.maximize)
        self.signs = np.array([-1.0 if o in self.maximize else 1.0 for o in s.objectives])
        self.evaluated = self.work = self.rejected = self.empty_asks = 0
        self.best_edp = float("inf")
        self.last_change_at = 0
        self.version = self.archive.version
        self.stopped_by: str | None = None  # set when the stream is done

    @property
    def done(self) -> bool:
        return self.stopped_by is not None

    def _stop_reason(self) -> str | None:
        share, patience = self.plan.share, self.settings.patience
        # A share spent on work alone (optimal's bounding before its first leaf) does not
        # end the stream before it has scored a mapping: every stream gives a front.
        if share is not None and self.evaluated + self.work >= share and \
                (self.evaluated > 0 or self.work == 0):
            return "evaluations"
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return "time"
        if patience is not None and self.evaluated - self.last_change_at >= patience:
            return "patience"
        return None

    def step(self) -> tuple[int, float, int] | None:
        """One ask/evaluate/tell. Returns (mappings scored, their least EDP, work charged)
        or None when it neither scored nor worked; ``done`` tells whether the stream has
        ended."""
        self.stopped_by = self._stop_reason()
        if self.done:
            return None
        share, n = self.plan.share, self.settings.batch_size
        if share is not None:
            n = max(1, min(n, share - self.evaluated - self.work))
        proposal = self.strat.ask(n)
        if proposal is None:
            self.stopped_by = "exhausted"
            return None
        self.rejected += proposal.rejected
        self.work += proposal.work
        if len(proposal) == 0:
            # A strategy that keeps offering nothing legal (and does no work toward it)
            # must not hang the search.
            self.empty_asks = 0 if proposal.work else self.empty_asks + 1
            if self.empty_asks >= MAX_EMPTY_ASKS:
                self.stopped_by = "stalled"
            return (0, float("inf"), proposal.work) if proposal.work else None
        self.empty_asks = 0
        s = self.settings
        result = self.evaluator(proposal.batch)
        values = objective_values(s.objectives, result, s.arch)
        self.strat.tell(proposal, values)
        self.evaluated += len(proposal)
        # Keep only this batch's own non-dominated rows as candidates for the archive,
        # so that only a handful of rows are copied out of the batch.
        rows = np.nonzero(nondominated_mask(values * self.signs))[0]
        items = [(_copy_row(proposal.batch, int(r)),
                  None if proposal.ids is None else int(proposal.ids[r])) for r in rows]
        self.archive.add_batch(values[rows], items)
        if self.archive.version != self.version:
            self.version = self.archive.version
            self.last_change_at = self.evaluated
        batch_best = float(np.min(result.edp))
        self.best_edp = min(self.best_edp, batch_best)
        return len(proposal), batch_best, proposal.work

    def finish(self) -> StreamOut:
        """The stream's result; its strategy (possibly large: optimal's open subtrees) is
        released, so a group holds only its unfinished streams' state."""
        strat, self.strat = self.strat, None
        cert = strat.certificate() if hasattr(strat, "certificate") else None
        points = [(p.values, p.item[0], p.item[1]) for p in self.archive.front]
        return StreamOut(self.plan.worker, points, self.evaluated, self.work, self.rejected,
                         self.stopped_by or "exhausted", self.best_edp, cert)


def _copy_row(batch: MappingBatch, r: int) -> tuple[np.ndarray | None, ...]:
    return tuple(None if getattr(batch, f) is None else np.array(getattr(batch, f)[r:r + 1])
                 for f in ("temporal", "spatial_x", "spatial_y", "rank", "keep", "residual"))


def run_group(settings: StreamSettings, plans: list[StreamPlan],
              on_batch: Callable[[int, float, int], None] | None = None,
              on_done: Callable[[StreamOut], None] | None = None,
              space: Mapspace | None = None) -> list[StreamOut]:
    """Run ``plans`` interleaved (round-robin in the given order, one step per unfinished
    stream per turn) until each has ended; the group's time (``settings.seconds``) counts
    from before the first strategy's setup. Returns the streams' results in plan order.
    ``on_batch(scored, best_edp, work)`` follows every step that scored or worked, ``on_done`` every stream's
    end. ``space``: the search's own Mapspace when it runs in this process (its cached
    sizes and optimal's tables then serve every stream and the driver alike)."""
    s = settings
    if space is None:
        space = Mapspace(s.workload, capacity_arch(s.arch, s.workload, s.sparsity),
                         s.constraints)
    start = time.perf_counter()
    deadline = None if s.seconds is None else start + s.seconds
    evaluator = make_batch_evaluator(s.workload, s.arch, s.sparsity, s.options)  # stateless
    streams = [Stream(s, plan, space, evaluator, deadline) for plan in plans]
    outs: dict[int, StreamOut] = {}
    while len(outs) < len(streams):
        for stream in streams:
            if stream.plan.worker in outs:
                continue
            scored = stream.step()
            if scored is not None and on_batch is not None:
                on_batch(*scored)
            if stream.done:
                out = outs[stream.plan.worker] = stream.finish()
                if on_done is not None:
                    on_done(out)
    return [outs[p.worker] for p in plans]


__all__ = ["MAX_EMPTY_ASKS", "Stream", "StreamOut", "StreamPlan", "StreamSettings",
           "run_group"]
