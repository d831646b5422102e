"""``exhaustive``: every canonical legal mapping, in id order, once."""

from __future__ import annotations

from loopscape.spaces.encoding import encode
from loopscape.spaces.errors import SpecError

from .base import Proposal, SearchContext, Strategy


class ExhaustiveSearch(Strategy):
    """Walks the pruned mapspace (``Mapspace.enumerate``: unit-loop positions folded,
    illegal mappings skipped). Refuses, with the size, when the pruned space is larger
    than the evaluation budget. With several workers, worker ``w`` takes the
    factorizations whose index is ``w`` modulo the number of workers."""

    name = "exhaustive"
    supports_imperfect = True

    def __init__(self, max_size: int | None = None):
        self.max_size = max_size

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        space = ctx.space
        size = space.pruned_size
        limit = self.max_size if self.max_size is not None else ctx.extra.get("total_budget")
        if limit is not None and size > limit:
            raise SpecError(f"the pruned mapspace has {size:,} mappings, more than the budget "
                            f"of {limit:,} evaluations", key="strategy",
                            fix="raise --budget to at least the space size, add constraints, "
                                "or use another strategy (random, bayesian, local)")
        self._stride = space.permutation_size * space.bypass_size
        self._walk = space.enumerate()
        self._done = False

    def ask(self, n: int) -> Proposal | None:
        if self._done:
            return None
        ids, maps = [], []
        ctx = self.ctx
        for mid, m in self._walk:
            if (mid // self._stride) % ctx.workers != ctx.worker:
                continue
            ids.append(mid)
            maps.append(m)
            if len(ids) >= n:
                break
        else:
            self._done = True
        if not ids:
            return None
        return Proposal(encode(ctx.space.workload, ctx.space.arch, maps), ids)
