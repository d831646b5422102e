"""``bayesian``: optuna's samplers over an encoding of the mapspace that keeps most trials
legal.

Encoding (one optuna parameter each):

* a dimension's factorization: one categorical over its factorizations (the rows of the
  mapspace's per-dimension space, which already obey the factor rules, the allowed axes
  and each axis's fanout) when it has at most ``max_choices`` of them; otherwise one
  categorical per prime factor of its bound choosing the tiling slot that takes it (only
  slots that allow a factor > 1), plus the mesh axis of each spatial slot with two;
* a level's loop order: a categorical over the permutations of its free loops when there
  are at most ``max_choices`` of them, else one float key per loop (the order is the
  keys' order, "random keys");
* each free keep bit: a categorical over 0/1.

A trial decodes to a point of the mapspace (and its id). A trial that breaks a factor
rule, the fanout or a capacity is repaired (prime factors move outwards until it fits;
the trial scores the repaired mapping); one that cannot be repaired is told as failed
(``TrialState.FAIL``) and counted as rejected. The first ``startup`` trials are uniform
legal samples, enqueued; trials that decode to a mapping scored before are answered
from a cache, and when most of a batch repeats earlier trials, unseen uniform samples
are enqueued and NSGA-II's mutation probability grows. TPE serves one objective; for
several, ``sampler="nsga2"`` (NSGA-II, the default) or ``"tpe"`` (multi-objective TPE).
Directions: minimize, except the objectives the search maximizes. Every sampler is
seeded from the search's seed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from loopscape.spaces.arrays import Genes, SpaceArrays
from loopscape.spaces.errors import SpecError
from loopscape.spaces.factors import lehmer_rank, permutation_table, prime_factors

from .base import Proposal, SearchContext, Strategy


class BayesianSearch(Strategy):
    """optuna ask/tell over the encoding above (see the module docstring).

    Options: ``sampler`` ("tpe" or "nsga2"; default TPE for one objective, NSGA-II for
    several), ``batch`` (trials per ask, default 64), ``max_choices`` (largest
    categorical, default 64), ``startup`` (uniform legal samples first, default 64),
    ``population`` (NSGA-II population size, default 64), ``repair`` (move prime
    factors outwards until an illegal trial fits, and score the repaired mapping;
    default True).
    """

    name = "bayesian"

    def __init__(self, sampler: str | None = None, batch: int = 64, max_choices: int = 64,
                 startup: int = 64, population: int = 64, repair: bool = True):
        if sampler not in (None, "tpe", "nsga2"):
            raise SpecError(f"bayesian: sampler must be 'tpe' or 'nsga2', got {sampler!r}",
                            key="strategy")
        if min(batch, max_choices, population) < 1 or startup < 0:
            raise SpecError("bayesian: batch, max_choices and population must be at least 1, "
                            "startup at least 0", key="strategy")
        self.sampler = sampler
        self.batch = batch
        self.max_choices = max_choices
        self.startup = startup
        self.population = population
        self.repair = repair

    def setup(self, ctx: SearchContext) -> None:
        import optuna

        super().setup(ctx)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.arrays = SpaceArrays(ctx.space)
        self.rng = np.random.default_rng(ctx.seed)
        kind = self.sampler or ("tpe" if len(ctx.objectives) == 1 else "nsga2")
        self.kind = kind
        seed = int(ctx.seed) % (2 ** 32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "tpe":
                sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.startup
                                                     or 10, multivariate=True,
                                                     constant_liar=True)
            else:
                sampler = self._nsga2(seed, None)
        directions = ["maximize" if o in ctx.maximize else "minimize" for o in ctx.objectives]
        self.study = optuna.create_study(directions=directions, sampler=sampler)
        self._build_distributions()
        self.cache: dict[int, np.ndarray] = {}  # hash -> objective values
        self.pending: dict[int, list] = {}
        self._enqueued = 0
        self._seed = seed
        self._mutation = 1.0 / max(1, len(self.dists))
        self._bumps = 0

    def _nsga2(self, seed: int, mutation: float | None):
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=self.population,
                                                 mutation_prob=mutation)

    # -- encoding ---------------------------------------------------------------------------
    def _build_distributions(self) -> None:
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        A = self.arrays
        space = self.ctx.space
        dims = space.workload.dims
        self.dists: dict[str, object] = {}
        self.dim_mode: list[str] = []  # "fixed", "table" or "primes"
        self.dim_primes: list[list[int]] = []
        self.dim_axis_slots: list[list[int]] = []
        for d, tab in enumerate(A.tables):
            name = dims[d]
            primes = prime_factors(tab.ds.bound) if tab.ds.bound > 1 else []
            axis_slots = []
            if tab.size <= 1:
                mode = "fixed"
            elif tab.size <= self.max_choices:
                mode = "table"
                self.dists[f"F.{name}"] = CategoricalDistribution(list(range(tab.size)))
            else:
                mode = "primes"
                slots = [int(j) for j in tab.open_slots]
                for k in range(len(primes)):
                    self.dists[f"F.{name}.{k}"] = CategoricalDistribution(slots)
                for j in slots:
                    axes = sorted({a for f, a in tab.ds.options[j] if a})
                    if len(axes) == 2:
                        axis_slots.append(j)
                        self.dists[f"A.{name}.{j}"] = CategoricalDistribution(["X", "Y"])
            self.dim_mode.append(mode)
            self.dim_primes.append(primes)
            self.dim_axis_slots.append(axis_slots)
        self.order_mode: dict[int, str] = {}
        for i in A.orderable:
            k = len(A.free[i])
            lvl = space.arch.levels[i].name
            if math.factorial(k) <= self.max_choices:
                self.order_mode[i] = "perm"
                self.dists[f"O.{lvl}"] = CategoricalDistribution(list(range(math.factorial(k))))
            else:
                self.order_mode[i] = "keys"
                for d in A.free[i]:
                    self.dists[f"O.{lvl}.{dims[d]}"] = FloatDistribution(0.0, 1.0)
        for i, t in A.keep_free:
            self.dists[self._keep_name(i, t)] = CategoricalDistribution([0, 1])

    def _keep_name(self, i: int, t: int) -> str:
        space = self.ctx.space
        return f"K.{space.arch.levels[i].name}.{space.workload.tensor_names[t]}"

    def decode(self, params: dict) -> Genes | None:
        """The mapspace point of one trial's parameters, or None when a factor lands
        where the factor rules forbid it."""
        A = self.arrays
        space = self.ctx.space
        dims = space.workload.dims
        fi = np.zeros((1, A.D), dtype=np.int64)
        for d, tab in enumerate(A.tables):
            mode = self.dim_mode[d]
            if mode == "table":
                fi[0, d] = params[f"F.{dims[d]}"]
            elif mode == "primes":
                S = len(tab.ds.slots)
                f = [1] * S
                for k, p in enumerate(self.dim_primes[d]):
                    f[params[f"F.{dims[d]}.{k}"]] *= p
                if self.repair:
                    f = self._fit_slots(tab, f)
                    if f is None:
                        return None
                opt = np.zeros((1, S), dtype=np.int64)
                for j in range(S):
                    if f[j] == 1:
                        axis = 0
                    elif space.slots[j].kind == "T":
                        axis = 0
                    elif j in self.dim_axis_slots[d]:
                        axis = 1 if params[f"A.{dims[d]}.{j}"] == "X" else 2
                    else:
                        axis = next((a for a in (1, 2) if tab.lookup3[j, tab.di(f[j]), a] >= 0),
                                    1)
                    o = tab.lookup3[j, tab.di(f[j]), axis]
                    if o < 0:
                        return None
                    opt[0, j] = o
                fi[0, d] = tab.find(opt)[0]
        rank = np.broadcast_to(A.template, (1, A.L, A.D)).copy()
        for i, mode in self.order_mode.items():
            fd = A.free[i]
            lvl = space.arch.levels[i].name
            if mode == "perm":
                perm = permutation_table(len(fd))[params[f"O.{lvl}"]]  # free indices, outer first
            else:
                keys = [params[f"O.{lvl}.{dims[d]}"] for d in fd]
                perm = np.argsort(keys, kind="stable")
            rank[0, i, fd[perm]] = A.free_start[i] + np.arange(len(fd))
        keep = A.keep_fixed[None].copy()
        for i, t in A.keep_free:
            keep[0, i, t] = bool(params[self._keep_name(i, t)])
        return Genes(fi, rank, keep)

    def _fit_slots(self, tab, f: list[int]) -> list[int] | None:
        """Move primes from slots whose factor the rules (or the fanout) forbid to the
        outermost temporal slot that takes them; None when that fails."""
        space = self.ctx.space
        temporal = [j for j, s in enumerate(space.slots) if s.kind == "T"]
        f = list(f)
        for j in range(len(f)):
            while f[j] > 1 and (tab.lookup3[j, tab.di(f[j])] < 0).all():
                p = prime_factors(f[j])[-1]
                k = next((k for k in temporal
                          if k != j and tab.lookup3[k, tab.di(f[k] * p), 0] >= 0), None)
                if k is None:
                    return None
                f[j] //= p
                f[k] *= p
        return f

    def encode(self, g: Genes, row: int) -> dict:
        """Parameters that decode to row ``row`` of ``g`` (used to enqueue samples)."""
        A = self.arrays
        space = self.ctx.space
        dims = space.workload.dims
        params: dict = {}
        for d, tab in enumerate(A.tables):
            mode = self.dim_mode[d]
            r = int(g.fi[row, d])
            if mode == "table":
                params[f"F.{dims[d]}"] = r
            elif mode == "primes":
                f = [int(x) for x in tab.fac[r]]
                ax = [int(x) for x in tab.ax[r]]
                left = [list(prime_factors(x)) if x > 1 else [] for x in f]
                for k, p in enumerate(self.dim_primes[d]):
                    j = next(j for j in range(len(f)) if p in left[j])
                    left[j].remove(p)
                    params[f"F.{dims[d]}.{k}"] = j
                for j in self.dim_axis_slots[d]:
                    params[f"A.{dims[d]}.{j}"] = "Y" if ax[j] == 2 else "X"
        for i, mode in self.order_mode.items():
            fd = A.free[i]
            lvl = space.arch.levels[i].name
            seq = np.argsort(g.rank[row, i, fd])  # free indices, outermost first
            if mode == "perm":
                params[f"O.{lvl}"] = lehmer_rank(seq.tolist())
            else:
                for pos, kk in enumerate(seq):
                    params[f"O.{lvl}.{dims[fd[kk]]}"] = (pos + 0.5) / len(fd)
        for i, t in A.keep_free:
            params[self._keep_name(i, t)] = int(g.keep[row, i, t])
        return params

    # -- ask/tell ---------------------------------------------------------------------------
    def ask(self, n: int) -> Proposal | None:
        from optuna.trial import TrialState

        A = self.arrays
        want = min(n, self.batch)
        if self._enqueued < self.startup:
            self._enqueued += self._enqueue_uniform(min(want, self.startup - self._enqueued))
        genes, trials, waiting, rejected = [], [], [], 0
        in_batch: set[int] = set()
        attempts = dups = 0
        while len(trials) < want and attempts < 4 * want:
            attempts += 1
            trial = self.study.ask(fixed_distributions=self.dists)
            g = self.decode(trial.params)
            if g is None:
                self.study.tell(trial, state=TrialState.FAIL)
                rejected += 1
                continue
            b = A.batch(g)
            if not A.legal(b)[0] and not (self.repair and A.repair(g, 0)):
                self.study.tell(trial, state=TrialState.FAIL)
                rejected += 1
                continue
            A.canonical(g)
            h = int(A.hashes(g)[0])
            known = self.cache.get(h)
            if known is not None:  # evaluated before: answer from the cache
                self.study.tell(trial, self._told_values(known))
                dups += 1
                continue
            if h in in_batch:  # proposed in this batch already: told with it
                waiting.append((trial, h))
                dups += 1
                continue
            in_batch.add(h)
            genes.append(g)
            trials.append((trial, h))
        if dups >= want // 2:
            # The sampler mostly repeats itself: mix unseen uniform samples in, and let
            # NSGA-II mutate more (optuna's default is 1 / number of parameters).
            self._enqueue_uniform(max(1, want // 4), unseen=True)
            if self.kind == "nsga2" and self._mutation < 0.5:
                self._mutation = min(0.5, self._mutation * 1.5)
                self._bumps += 1
                self.study.sampler = self._nsga2(self._seed + self._bumps, self._mutation)
        if not trials:
            # Nothing legal and new: the next trials are unseen uniform legal samples.
            if self._enqueue_uniform(want, unseen=True) == 0:
                return None
            return Proposal(_empty_batch(A), [], [], rejected=rejected)
        g = Genes.concat(genes)
        batch = A.batch(g)
        proposal = Proposal(batch, A.ids(g), tokens=[t for t, _ in trials], rejected=rejected)
        self.pending[id(batch)] = (trials, waiting)
        return proposal

    def _enqueue_uniform(self, k: int, unseen: bool = False) -> int:
        """Enqueue up to ``k`` uniform legal samples (not evaluated before, if ``unseen``)
        as the next trials; how many."""
        A = self.arrays
        g = A.fresh(max(2 * k, 64), self.rng)
        b = A.batch(g)
        ok = np.nonzero(A.legal(b))[0]
        if unseen:
            h = A.hashes(g.take(ok))
            ok = ok[[int(x) not in self.cache for x in h]]
        ok = ok[:k]
        for r in ok:
            self.study.enqueue_trial(self.encode(g, int(r)))
        return len(ok)

    def _told_values(self, v: np.ndarray):
        return float(v[0]) if len(v) == 1 else [float(x) for x in v]

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        got = self.pending.pop(id(proposal.batch), None)
        if got is None:
            return
        trials, waiting = got
        for (trial, h), v in zip(trials, np.asarray(values, dtype=float)):
            self.cache[h] = v
            self.study.tell(trial, self._told_values(v))
        for trial, h in waiting:
            self.study.tell(trial, self._told_values(self.cache[h]))


def _empty_batch(A: SpaceArrays):
    g = Genes(np.zeros((0, A.D), dtype=np.int64), np.zeros((0, A.L, A.D), dtype=np.int64),
              np.zeros((0, A.L, A.T), dtype=bool))
    return A.batch(g)


__all__ = ["BayesianSearch"]
