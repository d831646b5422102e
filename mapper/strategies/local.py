"""``local``: an elitist local search in the mapspace's own coordinates.

Candidates are points of the mapspace (each dimension's factorization, each level's
loop order, the free keep bits), held as arrays (``SpaceArrays``, ``Genes``) so that
whole generations are built, checked and hashed with numpy. The search starts from
legal mappings drawn uniformly (``Mapspace.sample_batch``); it keeps the non-dominated
set of everything it has seen, and a few independent islands, each with an elite of
its best candidates by the product of the objectives (EDP for energy and cycles). It
proposes neighbours of those parents:

* move one prime factor of a dimension from one tiling slot to another (or re-draw the
  dimension's whole factorization); in an imperfect space (``--imperfect``), change one
  slot's loop end instead (x2, /2, +1, -1 or any allowed end) and let the outermost loop
  of the dimension cover the bound again, the residuals following
  (``spaces.imperfect.move_end``);
* swap two loops of a level, or try every order of a level's non-unit loops at once
  (the batched evaluator scores thousands of rows per call);
* flip one free keep bit;
* exchange a prime factor between two dimensions across two slots, so every slot keeps
  its product (``moves.Moves.exchange``; off unless the ``exchange`` option is set):
  mappings that fill the whole mesh in different ways are one move apart, where prime
  moves would pass through idle PEs or overfull buffers;

with more moves per child when the neighbourhoods are used up, and a share of fresh
uniform samples; an island that stops improving starts again from fresh samples.
Moves stay inside the mapspace, so factor rules, axes and pinned loops always hold;
fanout and capacity are checked (vectorized, the same rules as ``Mapspace.problems``)
and illegal neighbours are dropped and counted. Nothing is proposed twice. The array
view is ``loopscape.spaces.arrays``; the front, ``mapper/pareto.py``'s filter.
"""

from __future__ import annotations

import math

import numpy as np

from loopscape.spaces.arrays import Genes, SpaceArrays
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.errors import SpecError
from loopscape.spaces.factors import permutation_table

from ..pareto import nondominated_mask
from .base import Proposal, SearchContext, Strategy
from .moves import Moves


class LocalSearch(Strategy):
    """Elitist local search in mapspace coordinates, on a few independent islands (see
    the module docstring).

    Options (constructor keywords):

    * ``islands``: independent sub-searches, each with its own elite (default 4);
    * ``elite``: parents per island, its best candidates by the product of the
      objectives (EDP for energy and cycles), drawn with a bias to the best (default 8);
    * ``front_size``: at most this many non-dominated candidates serve as parents too,
      spread evenly along the first objective (default 32), for ``front_share`` of the
      children (default 0.25);
    * ``fresh``: share of each batch drawn uniformly from the legal space (default 0.05);
    * ``sweep``: share of each batch spent on trying every order of one level's non-unit
      loops for a few parents (default 0.25), at most ``max_sweep`` orders each (120);
    * ``init``: uniform samples evaluated before the first neighbours (default 1000);
    * ``restart``: an island whose best has not improved for this many of its
      evaluations starts again from fresh samples (default 20,000; ``auto`` gives its
      ``local`` phase 2,000);
    * ``generation``: at most this many candidates per ask (default 2048);
    * ``perfect_share``: in an imperfect space (``--imperfect``), the share of fresh
      samples drawn uniformly from its perfect factorizations (default 0.5); the rest
      are uniform over the whole space, and moves reach every point of it;
    * ``exchange``: weight of the exchange move against prime moves 0.5, re-draws 0.1,
      swaps 0.3 and keep flips 0.1 (default 0: off, so ``local`` alone and ``optimal``'s
      warm start draw as before; ``auto`` gives its ``local`` phase 0.3; off in
      imperfect spaces).
    """

    name = "local"
    supports_imperfect = True

    def __init__(self, islands: int = 4, elite: int = 8, front_size: int = 32,
                 front_share: float = 0.25, fresh: float = 0.05, sweep: float = 0.25,
                 max_sweep: int = 120, init: int = 1000, restart: int = 20_000,
                 generation: int = 2048, perfect_share: float = 0.5,
                 exchange: float = 0.0):
        for name, v in (("front_share", front_share), ("fresh", fresh), ("sweep", sweep),
                        ("perfect_share", perfect_share), ("exchange", exchange)):
            if not 0 <= v <= 1:
                raise SpecError(f"local: {name} is a share in [0, 1], got {v}", key="strategy")
        for name, v in (("islands", islands), ("elite", elite), ("front_size", front_size),
                        ("max_sweep", max_sweep), ("init", init), ("restart", restart),
                        ("generation", generation)):
            if v < 1:
                raise SpecError(f"local: {name} must be at least 1, got {v}", key="strategy")
        self.islands = islands
        self.elite = elite
        self.front_size = front_size
        self.front_share = front_share
        self.fresh = fresh
        self.sweep = sweep
        self.max_sweep = max_sweep
        self.init = init
        self.restart = restart
        self.generation = generation
        self.perfect_share = perfect_share
        self.exchange = exchange

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        self.rng = np.random.default_rng(ctx.seed)
        self.arrays = SpaceArrays(ctx.space)
        self.signs = np.array([-1.0 if o in ctx.maximize else 1.0 for o in ctx.objectives])
        self.seen: set[int] = set()
        K = self.islands
        self.isl: list[tuple[Genes, np.ndarray] | None] = [None] * K  # elite, scores
        self.stale = [0] * K  # island evaluations since its best last improved
        self.front: tuple[Genes, np.ndarray] | None = None  # non-dominated (thinned)
        self.pending: dict[int, tuple[Genes, np.ndarray]] = {}
        self.told = 0
        self.restarts = 0
        self.moves = Moves(self.arrays, self.rng, self.exchange)
        self._accept = 0.5  # running share of candidates that are legal and new
        self.strength = 1.5  # mean moves per child; grows when neighbourhoods are used up

    # -- ask -------------------------------------------------------------------------------
    def ask(self, n: int) -> Proposal | None:
        A, rng, K = self.arrays, self.rng, self.islands
        n = min(n, self.generation)
        if self.told < self.init:  # a first, smaller batch of uniform samples
            n = min(n, self.init - self.told)
        parts: list[tuple[Genes, np.ndarray, MappingBatch]] = []
        have = rejected = tries = 0
        while have < n and tries < 20:
            tries += 1
            want = n - have
            if self.front is None or self.told < self.init:
                g = self._fresh(want)
                cand = [(g, np.arange(len(g)) % K)]
            else:
                m = int(want / max(self._accept, 0.05) * 1.1) + 8
                cand = []
                empty = [k for k in range(K) if self.isl[k] is None]
                n_fresh = int(round(self.fresh * want)) + len(empty) * want // K
                if n_fresh:
                    g = self._fresh(n_fresh)
                    pool = np.array(empty or list(range(K)))  # restarted islands first
                    labels = pool[np.arange(len(g)) % len(pool)]
                    cand.append((g, labels))
                n_sweep = int(round(self.sweep * m))
                if n_sweep:
                    cand.append(self._sweeps(n_sweep))
                if m - n_sweep > 0:
                    cand.append(self._neighbours(m - n_sweep))
            g = Genes.concat([c[0] for c in cand]) if len(cand) > 1 else cand[0][0]
            labels = np.concatenate([c[1] for c in cand])
            b = A.batch(g)
            A.canonical(g, b)
            ok = A.legal(b)
            rejected += int((~ok).sum())
            idx = np.nonzero(ok)[0]
            h = A.hashes(g.take(idx))
            _, first = np.unique(h, return_index=True)
            first.sort()
            seen = self.seen
            new = [k for k in first.tolist() if int(h[k]) not in seen]
            self._accept = 0.5 * self._accept + 0.5 * len(new) / len(g)
            if self.front is not None and self.told >= self.init:
                novelty = len(new) / max(len(idx), 1)  # share of legal ones that are new
                if novelty < 0.3:
                    self.strength = min(self.strength * 1.25, 8.0)
                elif novelty > 0.6:
                    self.strength = max(self.strength / 1.25, 1.0)
            if len(new) > want:  # an unbiased subset of the surplus
                new = sorted(rng.choice(new, size=want, replace=False).tolist())
            if not new:
                continue
            seen.update(int(h[k]) for k in new)
            rows = idx[np.array(new)]
            parts.append((g.take(rows), labels[rows], b.take(rows)))
            have += len(new)
        if not parts:
            return None  # nothing legal and new found: the space is (nearly) exhausted
        g = Genes.concat([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        batch = MappingBatch.concat([p[2] for p in parts]) if len(parts) > 1 else parts[0][2]
        proposal = Proposal(batch, A.ids(g), rejected=rejected)
        self.pending[id(batch)] = (g, labels)
        return proposal

    def _fresh(self, n: int) -> Genes:
        """About ``n`` uniform samples of the space; in an imperfect space, a share
        ``perfect_share`` of them uniform over its perfect factorizations."""
        A, rng = self.arrays, self.rng
        k = int(round(self.perfect_share * n)) if A.imperfect else 0
        perfect = A.fresh_perfect(k, rng) if k else None
        if perfect is None:
            return A.fresh(n, rng)
        return Genes.concat([perfect, A.fresh(n - k, rng)]) if n > k else perfect

    def _parents(self, n: int) -> tuple[Genes, np.ndarray]:
        """``n`` parents and their island labels (-1: the front): ``front_share`` drawn
        uniformly from the front, the rest spread over the islands that have an elite,
        rank-biased towards each one's best."""
        rng = self.rng
        live = [k for k in range(self.islands) if self.isl[k] is not None]
        n_front = n if not live else int(round(self.front_share * n))
        parts, labels = [], []
        if n_front:
            fg, _ = self.front
            parts.append(fg.take(rng.integers(0, len(fg), size=n_front)))
            labels.append(np.full(n_front, -1))
        rest = n - n_front
        for j, k in enumerate(live):
            m = rest // len(live) + (1 if j < rest % len(live) else 0)
            if m:
                eg, _ = self.isl[k]
                u = rng.random(m)
                parts.append(eg.take((u * u * len(eg)).astype(np.int64)))
                labels.append(np.full(m, k))
        return (Genes.concat(parts) if len(parts) > 1 else parts[0]), np.concatenate(labels)

    def _neighbours(self, n: int) -> tuple[Genes, np.ndarray]:
        """Children of elite parents, each after 1 + Poisson(strength - 1) moves."""
        rng = self.rng
        g, labels = self._parents(n)
        self.moves.apply(g, 1 + rng.poisson(self.strength - 1.0, size=n))
        return g, labels


    def _sweeps(self, n: int) -> tuple[Genes, np.ndarray]:
        """Every order (up to ``max_sweep`` of them) of one level's non-unit free loops,
        for a few elite parents (canonical: unit loops follow in free order)."""
        A, rng = self.arrays, self.rng
        if not A.orderable:
            return self._neighbours(n)
        parents, plabels = self._parents(max(1, n // 4))
        lv = np.array(A.orderable)[rng.integers(0, len(A.orderable), size=len(parents))]
        # Non-unit free loops of each parent at its level.
        counts = np.zeros(len(parents), dtype=np.int64)
        units: dict[int, np.ndarray] = {}
        for i in np.unique(lv):
            rows = np.nonzero(lv == i)[0]
            fd = A.free[i]
            t = np.stack([A.tables[d].per_level_of(parents.fi[rows, d])[:, 0, i] for d in fd],
                         axis=1)
            units[int(i)] = t == 1
            k = (t > 1).sum(axis=1)
            counts[rows] = np.where(k >= 2, np.minimum([math.factorial(x) for x in k],
                                                       self.max_sweep), 0)
        take = np.nonzero(np.cumsum(counts) - counts < n)[0]
        take = take[counts[take] > 0]
        out, out_labels = [], []
        for i in np.unique(lv[take]):
            i = int(i)
            rows_i = np.nonzero(lv == i)[0]
            fd, start = A.free[i], A.free_start[i]
            F = len(fd)
            sel = take[lv[take] == i]
            unit_all = units[i][np.searchsorted(rows_i, sel)]  # [P, F]
            ks = (~unit_all).sum(axis=1)
            for k in np.unique(ks):
                k = int(k)
                p_rows, unit = sel[ks == k], unit_all[ks == k]
                perms = permutation_table(k)
                if len(perms) > self.max_sweep:
                    perms = perms[rng.choice(len(perms), size=self.max_sweep, replace=False)]
                M = len(perms)
                # Free indices per parent: non-unit first, then unit, each in free order.
                order = np.argsort(np.where(unit, F + np.arange(F), np.arange(F)), axis=1,
                                   kind="stable")
                gg = parents.take(np.repeat(p_rows, M))
                out_labels.append(plabels[np.repeat(p_rows, M)])
                rr = np.arange(len(gg))[:, None]
                nonunit_dims = np.repeat(fd[order[:, :k]], M, axis=0)
                gg.rank[rr, i, nonunit_dims] = start + np.tile(np.argsort(perms, axis=1),
                                                               (len(p_rows), 1))
                if k < F:
                    unit_dims = np.repeat(fd[order[:, k:]], M, axis=0)
                    gg.rank[rr, i, unit_dims] = start + k + np.arange(F - k)[None, :]
                out.append(gg)
        have = sum(len(g) for g in out)
        if have < n:
            g, lab = self._neighbours(n - have)
            out.append(g)
            out_labels.append(lab)
        return (Genes.concat(out) if len(out) > 1 else out[0]), np.concatenate(out_labels)

    # -- tell ------------------------------------------------------------------------------
    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        got = self.pending.pop(id(proposal.batch), None)
        if got is None:
            return
        g, labels = got
        self.told += len(g)
        v = np.asarray(values, dtype=float) * self.signs[None, :]  # minimized
        # Front: the non-dominated set of everything seen, thinned evenly along the
        # first objective.
        fg, fv = (g, v) if self.front is None else (Genes.concat([self.front[0], g]),
                                                    np.concatenate([self.front[1], v]))
        if fv.shape[1] == 1:  # one objective: every row at the minimum (ties all kept)
            nd = np.nonzero(fv[:, 0] == fv[:, 0].min())[0]
        else:
            nd = np.nonzero(nondominated_mask(fv))[0]
        if len(nd) > self.front_size:
            nd = nd[np.argsort(fv[nd, 0], kind="stable")]
            nd = nd[np.linspace(0, len(nd) - 1, self.front_size).round().astype(np.int64)]
        self.front = (fg.take(nd), fv[nd])
        # Islands: each keeps its best by score; a stale one starts again.
        score = _score(v)
        for k in range(self.islands):
            rows = np.nonzero(labels == k)[0]
            if not len(rows):
                continue
            if self.isl[k] is None:
                eg, es, old = g.take(rows), score[rows], np.inf
            else:
                eg = Genes.concat([self.isl[k][0], g.take(rows)])
                es = np.concatenate([self.isl[k][1], score[rows]])
                old = float(self.isl[k][1][0])
            top = np.argsort(es, kind="stable")[:self.elite]
            self.isl[k] = (eg.take(top), es[top])
            if es[top[0]] < old - 1e-12 * abs(old):
                self.stale[k] = 0
            else:
                self.stale[k] += len(rows)
                if self.stale[k] >= self.restart:
                    self.isl[k] = None  # rebuilt from fresh samples
                    self.stale[k] = 0
                    self.restarts += 1


def _score(v: np.ndarray) -> np.ndarray:
    """Sum of the logs of the (minimized, sign-oriented) objectives: log EDP for energy
    and cycles; a maximized objective counts as its inverse."""
    signs = np.sign(v)
    signs[signs == 0] = 1
    return (np.log(np.maximum(np.abs(v), 1e-300)) * signs).sum(axis=1)
