"""``random``: legal mappings drawn uniformly from the mapspace (the baseline)."""

from __future__ import annotations

import random

from loopscape.spaces.encoding import encode

from .base import Proposal, SearchContext, Strategy


class RandomSearch(Strategy):
    """Uniform over the legal mapspace (``Mapspace.sample``: every legal id equally
    likely); seeded per worker so parallel runs are reproducible."""

    name = "random"
    supports_imperfect = True

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        self.rng = random.Random(ctx.seed)

    def ask(self, n: int) -> Proposal:
        space = self.ctx.space
        batched = getattr(space, "sample_batch", None)
        if batched is not None:
            ids, batch = batched(n, rng=self.rng)
            return Proposal(batch, list(ids) if ids is not None else None)
        drawn = space.sample(n, rng=self.rng)
        return Proposal(encode(space.workload, space.arch, [m for _, m in drawn]),
                        [mid for mid, _ in drawn])
