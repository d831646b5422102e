"""``climb``: stochastic hill climbing over mapspace ids, for any space the id API serves
(perfect or imperfect factors; docs/strategies.md).

It draws ``init`` legal mappings uniformly, then proposes neighbours of its ``elite``
best mappings (by the sum of the logs of the minimized objectives, i.e. EDP for energy
and cycles): a neighbour changes one dimension's end at one slot (x2, /2, +1 or -1, or a
random allowed end) and gives the outermost loop of that dimension the end that covers
the bound again (residuals follow: ``spaces/imperfect.py``), or draws a new loop order
of one level, or flips one keep bit. Illegal and already-seen neighbours are dropped.
Reads the mapspace through its public API (``dim_spaces``, ``mapping``, ``id``,
``is_legal``, ``sample``, sizes); seeded.
"""

from __future__ import annotations

import random

import numpy as np

from loopscape.spaces.encoding import encode
from loopscape.spaces.imperfect import END_MOVES, move_end

from .base import Proposal, SearchContext, Strategy


class ClimbSearch(Strategy):
    """Hill climbing by small id moves (the module docstring)."""

    name = "climb"
    supports_imperfect = True

    def __init__(self, init: int = 64, elite: int = 4, tries: int = 50):
        self.init = init
        self.elite_size = elite
        self.tries = tries

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        self.rng = random.Random(ctx.seed)
        self.seen: set[int] = set()
        self.elite: list[tuple[float, int]] = []
        self.drawn = 0
        sp = ctx.space
        self.sizes = [ds.size for ds in sp.dim_spaces]
        self.lp_size, self.by_size = sp.permutation_size, sp.bypass_size
        self.n_free = len(sp.keep_free)

    # -- id <-> parts ---------------------------------------------------------------------
    def _split(self, mid: int) -> tuple[list[int], int, int]:
        by = mid % self.by_size
        mid //= self.by_size
        lp = mid % self.lp_size
        fi = mid // self.lp_size
        ranks = []
        for s in reversed(self.sizes):
            ranks.append(fi % s)
            fi //= s
        return ranks[::-1], lp, by

    def _join(self, ranks: list[int], lp: int, by: int) -> int:
        fi = 0
        for r, s in zip(ranks, self.sizes):
            fi = fi * s + r
        return (fi * self.lp_size + lp) * self.by_size + by

    # -- moves -----------------------------------------------------------------------------
    def _move_dim(self, ds, rank: int) -> int | None:
        rng = self.rng
        open_slots = [j for j, o in enumerate(ds.options) if len(o) > 1]
        if not open_slots:
            return None
        j = rng.choice(open_slots)
        return move_end(ds, rank, j, rng.randrange(END_MOVES), rng.choice)

    def _neighbour(self, mid: int) -> int | None:
        ranks, lp, by = self._split(mid)
        what = self.rng.random()
        if what < 0.7:
            d = self.rng.randrange(len(ranks))
            r = self._move_dim(self.ctx.space.dim_spaces[d], ranks[d])
            if r is None:
                return None
            ranks[d] = r
        elif what < 0.85 or not self.n_free:
            lp = self.rng.randrange(self.lp_size)
        else:
            by ^= 1 << self.rng.randrange(self.n_free)
        return self._join(ranks, lp, by)

    # -- strategy ------------------------------------------------------------------------
    def ask(self, n: int) -> Proposal | None:
        sp = self.ctx.space
        ids, maps, rejected = [], [], 0
        if self.drawn < self.init or not self.elite:
            m_n = min(n, max(1, self.init - self.drawn))
            for mid, m in sp.sample(m_n, rng=self.rng):
                if mid not in self.seen:
                    self.seen.add(mid)
                    ids.append(mid)
                    maps.append(m)
            self.drawn += m_n
        else:
            for _ in range(n * self.tries):
                if len(ids) >= n:
                    break
                _, parent = self.elite[self.rng.randrange(len(self.elite))]
                mid = self._neighbour(parent)
                if mid is None or mid in self.seen:
                    continue
                self.seen.add(mid)
                m = sp.mapping(mid)
                if not sp.is_legal(m):
                    rejected += 1
                    continue
                ids.append(mid)
                maps.append(m)
        return Proposal(encode(sp.workload, sp.arch, maps), ids, rejected=rejected)

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        signs = np.array([-1.0 if o in self.ctx.maximize else 1.0 for o in self.ctx.objectives])
        v = np.maximum(np.asarray(values, dtype=float), 1e-300)
        score = (signs * np.log(v)).sum(axis=1)
        pool = self.elite + [(float(s), int(mid)) for s, mid in zip(score, proposal.ids)]
        pool.sort()
        self.elite = pool[:self.elite_size]
