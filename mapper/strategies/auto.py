"""``auto``, the default strategy: ``local`` for a share of the budget, then ``optimal``
with its incumbent seeded by local's front (docs/search.md, "The default strategy").

Per search stream:

* when ``optimal`` cannot search the space (sparsity, imperfect factors, whatever its
  scope check refuses), ``local`` runs with the whole budget and the certificate says
  why nothing is proven;
* when the pruned space is small (optimal's own rule for skipping its warm start),
  ``optimal`` runs alone, so small spaces are certified at once;
* otherwise ``optimal`` first gets ``first_share`` of the stream's evaluations and of
  its time (a space it can finish that fast is certified without ``local``), then
  ``local`` gets ``local_share``, then the same ``optimal`` walk resumes for the rest,
  every non-dominated point local scored added to its incumbent (in place of its own
  warm start).

The driver scores every proposal of both phases, so the stream's front holds local's
points and optimal's. Optimal prunes only subtrees strictly dominated by points the
front holds (or dominates), so the merged front is exact when every stream's optimal
completed, and otherwise the gap of the merged best against optimal's proven lower
bound is sound (``merge_auto``; it can only shrink by merging).
"""

from __future__ import annotations

import time

import numpy as np

from loopscape.spaces.errors import SpecError

from ..pareto import nondominated_mask
from .base import Proposal, SearchContext, Strategy
from .local import LocalSearch
from .optimal import OptimalSearch, describe_certificate, merge, refusal, worth_warming


DRY_ASKS = 3  # local's empty asks in a row after which optimal takes over
TIME_LOCAL_SHARE = 0.5  # local's default share of a stream's time limit
BUDGET_LOCAL_SHARE = 0.8  # ... and of its evaluation budget (mappings plus optimal's work)
# local's phase: exchange moves and quicker island restarts, so a phase of tens of seconds
# makes many descents on a huge space and reaches mappings that fill the mesh otherwise
# (docs/search.md, "local's phase").
LOCAL_OPTIONS = {"exchange": 0.3, "restart": 2000}
# Factorization rows (over the dimensions) above which, under a time limit, local runs
# before optimal: optimal's setup reads every row (about 10 us each: 3.4 s on
# bert_base_ffn1 / simba_like's 336,817), which would come out of local's time, and a
# space with such dimensions is not one optimal certifies in a first share anyway.
FIRST_PHASE_ROWS = 50_000


class AutoSearch(Strategy):
    """``local``, then ``optimal`` warm-started from local's front (module docstring).

    Options (constructor keywords): ``local_share``, the share of each stream's
    evaluation budget and of its time given to ``local`` (default 0.5 with a time limit
    alone, ``BUDGET_LOCAL_SHARE`` with an evaluation budget; 0 runs ``optimal`` alone,
    with its own warm start; 1 leaves ``optimal`` only its proven bound at the start),
    and ``first_share``, the share ``optimal`` gets before ``local`` (default 0.1 or
    ``1 - local_share`` if less; at most ``1 - local_share``; 0 starts with ``local``).
    Without ``first_share``, a time-limited search of a space with more than
    ``FIRST_PHASE_ROWS`` factorization rows starts with ``local``.
    """

    name = "auto"
    supports_imperfect = True  # searched by local alone, with the reason recorded

    def __init__(self, local_share: float | None = None, first_share: float | None = None):
        if local_share is not None and not 0 <= local_share <= 1:
            raise SpecError(f"auto: local_share is a share in [0, 1], got {local_share}",
                            key="strategy", fix="e.g. strategy_options={'local_share': 0.5}")
        self.local_option, self.first_option = local_share, first_share
        self._shares(TIME_LOCAL_SHARE)  # checked now against the larger default room

    def _shares(self, default_local: float) -> None:
        """Set ``local_share`` and ``first_share`` from the options and a default."""
        local_share = default_local if self.local_option is None else self.local_option
        first_share = self.first_option
        if first_share is None:
            first_share = min(0.1, 1 - local_share)
        if not 0 <= first_share <= 1 - local_share:
            raise SpecError(f"auto: first_share is a share in [0, 1 - local_share], got "
                            f"{first_share} with local_share {local_share}",
                            key="strategy", fix="e.g. strategy_options={'first_share': 0.1}")
        self.local_share = local_share
        self.first_share = first_share

    @classmethod
    def prepare(cls, ctx: SearchContext) -> None:
        OptimalSearch.prepare(ctx)  # nothing when optimal cannot search the space

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        # Under an evaluation budget optimal's bounding is charged to it: local gets more
        # of a budget than of a time limit (docs/search.md, "The default strategy").
        self._shares(TIME_LOCAL_SHARE if ctx.budget is None else BUDGET_LOCAL_SHARE)
        self.reason = refusal(ctx)
        self.local: LocalSearch | None = None
        self.optimal: OptimalSearch | None = None
        self.signs = np.array([-1.0 if o in ctx.maximize else 1.0 for o in ctx.objectives])
        self.seeds = np.empty((0, len(ctx.objectives)))  # local's front, minimized
        self.local_told = 0
        self.local_evals: int | None = None
        self.local_until: float | None = None
        self.skipped_local = False
        self.dry = 0  # local's consecutive asks without a new legal mapping
        if self.reason is None and (self.local_share == 0 or not worth_warming(
                ctx.space.pruned_size, OptimalSearch().warm_start)):
            self.skipped_local = True
            self.optimal = OptimalSearch()  # small space or no local share: optimal alone
            self.optimal.setup(ctx)
            self.phase = "rest"
            return
        self.first_told = 0
        self.first_evals: int | None = None
        self.first_until: float | None = None
        if self.reason is None:
            if ctx.budget is not None:
                self.local_evals = int(self.local_share * ctx.budget)
                self.first_evals = int(self.first_share * ctx.budget)
            seconds = ctx.extra.get("seconds")
            if seconds is not None:
                self.first_until = time.perf_counter() + self.first_share * seconds
            # large dimensions under a time limit: local first (FIRST_PHASE_ROWS)
            local_first = seconds is not None and self.first_option is None and \
                sum(ds.size for ds in ctx.space.dim_spaces) > FIRST_PHASE_ROWS
            if self.first_share > 0 and not local_first:  # small spaces need no local
                self.optimal = OptimalSearch(warm_start=0)
                self.optimal.setup(ctx)
                self.slice_seconds = self.optimal.slice_seconds  # restored after local
                if seconds is not None:  # no ask of the first phase outlasts it by much
                    self.optimal.slice_seconds = min(self.slice_seconds,
                                                     max(0.05, self.first_share * seconds))
        self.local = LocalSearch(**LOCAL_OPTIONS)
        self.local.setup(ctx)
        self.phase = "first" if self.optimal is not None else "local"
        self._local_clock()

    def _local_clock(self) -> None:
        """local's time share counts from when local starts."""
        seconds = self.ctx.extra.get("seconds")
        if self.phase == "local" and self.reason is None and seconds is not None:
            self.local_until = time.perf_counter() + self.local_share * seconds

    def _first_done(self) -> bool:
        if self.first_evals is not None and self.first_told >= self.first_evals:
            return True
        return self.first_until is not None and time.perf_counter() >= self.first_until

    def _local_done(self) -> bool:
        if self.reason is not None:
            return False  # local keeps the whole budget
        if self.dry >= DRY_ASKS:
            return True  # a small space has run dry for local: optimal walks the rest
        if self.local_evals is not None and self.local_told >= self.local_evals:
            return True
        return self.local_until is not None and time.perf_counter() >= self.local_until

    def _start_optimal(self) -> None:
        """optimal takes over for the rest: the walk begun first resumes with local's front
        in its incumbent, or a new walk starts seeded with it."""
        self.phase = "rest"
        if self.optimal is None:
            self.optimal = OptimalSearch(incumbent=self.seeds * self.signs)
            self.optimal.setup(self.ctx)
        else:
            self.optimal.slice_seconds = self.slice_seconds
            if len(self.seeds):
                self.optimal.add_incumbent(self.seeds * self.signs)

    def ask(self, n: int) -> Proposal | None:
        if self.phase == "first":
            if not self._first_done():
                if self.first_evals is not None:
                    n = min(n, self.first_evals - self.first_told)
                proposal = self.optimal.ask(n)  # None: optimal finished, the front is exact
                if proposal is not None and self.first_evals is not None:
                    # Its bounding spends the share too, but at most the share: one step
                    # of the walk can cost more (a root with very many tilings), and local
                    # keeps its own share whatever the first phase spent.
                    proposal.work = min(proposal.work, self.first_evals - self.first_told)
                    self.first_told += proposal.work
                return proposal
            self.phase = "local"
            self._local_clock()
        if self.phase == "local":
            if not self._local_done():
                if self.local_evals is not None:
                    n = min(n, self.local_evals - self.local_told)
                proposal = self.local.ask(n)
                if proposal is not None:
                    self.dry = self.dry + 1 if len(proposal) == 0 else 0
                if proposal is not None or self.reason is not None:
                    return proposal
            self._start_optimal()  # local's share is spent (or its space ran dry)
        return self.optimal.ask(n)

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        if self.phase == "first":
            self.optimal.tell(proposal, values)
            self.first_told += len(proposal)
            return
        if self.phase == "rest":
            self.optimal.tell(proposal, values)
            return
        self.local.tell(proposal, values)
        self.local_told += len(proposal)
        x = np.vstack([self.seeds, np.asarray(values, dtype=float) * self.signs])
        self.seeds = x[nondominated_mask(x)]

    def certificate(self) -> dict:
        """Optimal's certificate with this stream's local phase (``auto``); a stream
        stopped before the switch still holds optimal's bound at the root."""
        if self.reason is not None:
            return {"auto": {"reason": self.reason, "local_evaluated": self.local_told}}
        if self.optimal is None:
            self._start_optimal()
        cert = dict(self.optimal.certificate())
        cert["auto"] = {"local_evaluated": self.local_told, "skipped_local": self.skipped_local,
                        "local_front": (self.seeds * self.signs).tolist()}
        return cert


def merge_auto(certs: list[dict], objectives, front: np.ndarray, maximize=()
               ) -> tuple[bool, float | None, dict]:
    """(optimal, gap, certificate) of an ``auto`` search from its streams' certificates and
    the merged front (``front`` [n, k], user orientation, in front order): optimal's merge
    over the merged front, plus which phase first scored each front point (``found_by``)."""
    reason = certs[0]["auto"].get("reason")
    local_evaluated = sum(c["auto"]["local_evaluated"] for c in certs)
    if reason is not None:
        return False, None, {"reason": reason, "local_evaluated": local_evaluated}
    optimal, gap, out = merge([{k: v for k, v in c.items() if k != "auto"} for c in certs],
                              objectives, front, maximize)
    local = {tuple(v) for c in certs for v in c["auto"]["local_front"]}
    out["found_by"] = ["local" if tuple(v) in local else "optimal" for v in front.tolist()]
    out["local_evaluated"] = local_evaluated
    out["skipped_local"] = all(c["auto"]["skipped_local"] for c in certs)
    return optimal, gap, out


def describe(optimal: bool, gap: float | None, cert: dict | None) -> str:
    """One line for the CLI: what was proven (any strategy with a certificate)."""
    cert = cert or {}
    if cert.get("reason"):
        return f"not certified: {cert['reason']} (searched by local alone)"
    line = describe_certificate(optimal, gap, cert)
    if "found_by" in cert:
        line += (f"; auto: local scored {cert['local_evaluated']:,} and optimal "
                 f"{cert.get('evaluated', 0):,}; {cert['found_by'].count('local')} of "
                 f"{len(cert['found_by'])} front point(s) found by local")
    return line
