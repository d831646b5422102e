"""``local``: an elitist local search in the mapspace's own coordinates.

Candidates are points of the mapspace (each dimension's factorization, each level's
loop order, the free keep bits), held as arrays (``SpaceArrays``, ``Genes``) so that
whole generations are built, checked and hashed with numpy. The search starts from
legal mappings drawn uniformly (``Mapspace.sample_batch``); it keeps the non-dominated
set of everything it has seen, and a few independent islands, each with an elite of
its best candidates by the product of the objectives (EDP for energy and cycles). It
proposes neighbours of those parents:

* move one prime factor of a dimension from one tiling slot to another (or re-draw the
  dimension's whole factorization);
* swap two loops of a level, or try every order of a level's non-unit loops at once
  (the batched evaluator scores thousands of rows per call);
* flip one free keep bit;

with more moves per child when the neighbourhoods are used up, and a share of fresh
uniform samples; an island that stops improving starts again from fresh samples.
Moves stay inside the mapspace, so factor rules, axes and pinned loops always hold;
fanout and capacity are checked (vectorized, the same rules as ``Mapspace.problems``)
and illegal neighbours are dropped and counted. Nothing is proposed twice.

``SpaceArrays`` is also the decoder of ``bayesian`` and a building block for other
strategies (docs/strategies.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.errors import SpecError
from loopscape.spaces.factors import lehmer_rank, permutation_table, prime_factors
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.slots import FactorTable

from .strategy import Proposal, SearchContext, Strategy, register_strategy

@dataclass
class Genes:
    """Mapspace coordinates of N candidates: factorization row per dimension [N, D],
    loop positions per level [N, L, D] (0 = outermost), keep bits [N, L, T]."""

    fi: np.ndarray
    rank: np.ndarray
    keep: np.ndarray

    def __len__(self) -> int:
        return len(self.fi)

    def take(self, idx: np.ndarray) -> "Genes":
        return Genes(self.fi[idx], self.rank[idx], self.keep[idx])

    @staticmethod
    def concat(parts: list["Genes"]) -> "Genes":
        return Genes(*(np.concatenate([getattr(g, f) for g in parts])
                       for f in ("fi", "rank", "keep")))


class SpaceArrays:
    """A mapspace in array form: builds ``MappingBatch`` rows and mapspace ids from
    coordinates, checks legality for many rows at once, samples uniformly."""

    def __init__(self, space: Mapspace, max_rows: int = 1_000_000):
        self.space = space
        w, arch = space.workload, space.arch
        self.L, self.D, self.T = len(arch.levels), len(w.dims), len(w.tensors)
        self.tables = [self._table(ds, max_rows) for ds in space.dim_spaces]
        self.slot_level = np.array([s.level for s in space.slots], dtype=np.int64)
        self.slot_temporal = np.array([s.kind == "T" for s in space.slots])
        dims = w.dims
        # Loop-order template: positions of every dim per level; free regions.
        self.template = np.zeros((self.L, self.D), dtype=np.int64)
        self.free: list[np.ndarray] = []
        self.free_start: list[int] = []
        for i, lo in enumerate(space.level_orders):
            for pos, d in enumerate(lo.template):
                self.template[i, dims.index(d)] = pos
            self.free.append(np.array([dims.index(d) for d in lo.free], dtype=np.int64))
            self.free_start.append(lo.free_start)
        self.orderable = [i for i in range(self.L) if len(self.free[i]) >= 2]
        # Keep bits.
        tn = w.tensor_names
        self.keep_fixed = np.zeros((self.L, self.T), dtype=bool)
        for i, fixed in enumerate(space.keep_fixed):
            for k, t in enumerate(tn):
                self.keep_fixed[i, k] = fixed.get(t, False)
        self.keep_free = [(i, tn.index(t)) for i, t in space.keep_free]
        # Legality data.
        self.fanout = np.array(space.fanouts, dtype=np.int64).reshape(self.L, 2)
        # Repair heuristics only (legality itself: ``space.batch_legality``): float64, so
        # that huge capacities and word sizes stay representable.
        self.cap = np.array([lvl.effective_capacity_bits if lvl.effective_capacity_bits
                             is not None else np.inf for lvl in arch.levels], dtype=np.float64)
        self.bits = np.array([[lvl.bits(t) for t in tn] for lvl in arch.levels], dtype=np.float64)
        self.coef = []
        for t in w.tensors:
            m = np.zeros((len(t.axes), self.D), dtype=np.int64)
            for a, axis in enumerate(t.axes):
                for c, d in axis:
                    m[a, dims.index(d)] += abs(c)
            self.coef.append(m)
        # Id weights (Python ints: ids can exceed 64 bits).
        self.dim_weight = []
        acc = 1
        for t in reversed(self.tables):
            self.dim_weight.append(acc)
            acc *= t.size
        self.dim_weight.reverse()
        self.perm_weight = []
        acc = 1
        for i in reversed(range(self.L)):
            self.perm_weight.append(acc)
            acc *= space.permutation_count(i)
        self.perm_weight.reverse()
        self._hash_rank = np.array([i * self.D + d for i in self.orderable for d in self.free[i]],
                                   dtype=np.int64)
        self._hash_keep = np.array([i * self.T + t for i, t in self.keep_free], dtype=np.int64)
        rs = np.random.default_rng(12345)
        self._hash = [rs.integers(1, 2 ** 63, size=s, dtype=np.uint64)
                      for s in (self.D, self.L * self.D, self.L * self.T)]

    def _table(self, ds, max_rows: int) -> FactorTable:
        table = ds.table(self.L, max_rows)
        if table is None:
            raise SpecError(f"a dimension of bound {ds.bound} has more than {max_rows:,} "
                            f"factorizations", key="strategy",
                            fix="constrain its factors, or use the random strategy")
        return table

    # -- rows ----------------------------------------------------------------------------
    def batch(self, g: Genes) -> MappingBatch:
        """The ``MappingBatch`` of candidates ``g``."""
        N = len(g)
        tsxy = np.empty((3, N, self.L, self.D), dtype=np.int64)
        for d, tab in enumerate(self.tables):
            tsxy[:, :, :, d] = tab.per_level[g.fi[:, d]].transpose(1, 0, 2)
        return MappingBatch(tsxy[0], tsxy[1], tsxy[2], g.rank.copy(), g.keep.copy())

    def legal(self, b: MappingBatch) -> np.ndarray:
        """Which rows are legal (fanout per axis, capacity and its minimum utilization,
        the constraints' minimum PE utilization), as ``Mapspace.problems`` decides."""
        return self.space.batch_legality.check_batch(b)

    def canonical(self, g: Genes, b: MappingBatch | None = None) -> None:
        """Put unit loops after the non-unit free loops of each level, in the level's
        free order (the canonical member of the pruning class), in place."""
        temporal = self.batch(g).temporal if b is None else b.temporal
        for i in self.orderable:
            fd = self.free[i]
            r = g.rank[:, i, fd]
            unit = temporal[:, i, fd] == 1
            key = np.where(unit, 1_000_000 + np.arange(len(fd))[None, :], r)
            order = np.argsort(key, axis=1, kind="stable")
            pos = np.empty_like(order)
            np.put_along_axis(pos, order, np.arange(len(fd))[None, :].repeat(len(g), 0), axis=1)
            g.rank[:, i, fd] = self.free_start[i] + pos
            if b is not None:
                b.rank[:, i, fd] = g.rank[:, i, fd]

    def hashes(self, g: Genes) -> np.ndarray:
        """A 64-bit hash per candidate (equal coordinates, equal hash)."""
        N = len(g)
        with np.errstate(over="ignore"):
            h = (g.fi.astype(np.uint64) * self._hash[0][None, :]).sum(axis=1, dtype=np.uint64)
            if len(self._hash_rank):
                r = g.rank.reshape(N, -1)[:, self._hash_rank].astype(np.uint64)
                h += (r * self._hash[1][None, :len(self._hash_rank)]).sum(axis=1,
                                                                         dtype=np.uint64)
            if len(self._hash_keep):
                k = g.keep.reshape(N, -1)[:, self._hash_keep].astype(np.uint64)
                h += (k * self._hash[2][None, :len(self._hash_keep)]).sum(axis=1,
                                                                         dtype=np.uint64)
        return h

    def ids(self, g: Genes) -> "LazyIds":
        """Mapspace ids of the candidates, computed when read (the driver reads only the
        ids of the rows it archives)."""
        return LazyIds(self, g)

    def id_of(self, g: Genes, r: int) -> int:
        """The mapspace id of candidate ``r``."""
        lp = 0
        for i in self.orderable:
            fd = self.free[i]
            seq = np.argsort(g.rank[r, i, fd]).tolist()  # free indices, outermost first
            lp += lehmer_rank(seq) * self.perm_weight[i]
        by = 0
        for k, (i, t) in enumerate(self.keep_free):
            by |= int(g.keep[r, i, t]) << k
        f = sum(int(x) * w for x, w in zip(g.fi[r], self.dim_weight))
        return (f * self.space.permutation_size + lp) * self.space.bypass_size + by

    # -- repair -----------------------------------------------------------------------------
    def repair(self, g: Genes, row: int, max_moves: int = 64) -> bool:
        """Make row ``row`` of ``g`` legal by moving prime factors outwards, in place:
        while a level's kept tiles overflow it, the largest factor (at that level or
        below) of a dimension its kept tensors depend on gives its smallest prime to the
        outermost temporal slot that allows it; while a level's spatial factors exceed an
        axis's fanout, one of them gives a prime to a temporal slot at or above it. False
        when that does not make it legal (e.g. a minimum utilization is not met)."""
        S_level = self.slot_level
        fac = [self.tables[d].fac[g.fi[row, d]].astype(np.int64) for d in range(self.D)]
        ax = [self.tables[d].ax[g.fi[row, d]].astype(np.int64) for d in range(self.D)]
        keep = g.keep[row]
        temporal_slots = [j for j in range(len(S_level)) if self.slot_temporal[j]]
        for _ in range(max_moves):
            total = np.ones((self.L, self.D), dtype=np.int64)
            spx = np.ones(self.L, dtype=np.int64)
            spy = np.ones(self.L, dtype=np.int64)
            for d in range(self.D):
                for j, lvl in enumerate(S_level):
                    total[lvl, d] *= fac[d][j]
                    if ax[d][j] == 1:
                        spx[lvl] *= fac[d][j]
                    elif ax[d][j] == 2:
                        spy[lvl] *= fac[d][j]
            incl = np.flip(np.cumprod(np.flip(total, axis=0), axis=0), axis=0)
            used = np.zeros(self.L, dtype=np.float64)
            for t, coef in enumerate(self.coef):
                words = ((incl - 1) @ coef.T + 1).prod(axis=1).astype(np.float64)
                used += np.where(keep[:, t], words * self.bits[:, t], 0)
            over = [i for i in range(self.L) if used[i] > self.cap[i]]
            wide = [(i, a) for i in range(self.L) for a, sp in ((1, spx), (2, spy))
                    if sp[i] > self.fanout[i, a - 1]]
            if not over and not wide:
                break
            moves = []  # (size, d, source slot, destination slots)
            if wide:
                i, a = wide[-1]
                dest = [j for j in reversed(temporal_slots) if S_level[j] <= i]
                for d in range(self.D):
                    for j in range(len(S_level)):
                        if S_level[j] == i and ax[d][j] == a and fac[d][j] > 1:
                            moves.append((fac[d][j], d, j, dest))
            else:
                i = over[-1]
                dest = [j for j in temporal_slots if S_level[j] < i]
                rel = [d for d in range(self.D)
                       if any(keep[i, t] and coef[:, d].any() for t, coef in enumerate(self.coef))]
                for d in rel:
                    for j in range(len(S_level)):
                        if S_level[j] >= i and fac[d][j] > 1:
                            moves.append((fac[d][j], d, j, dest))
            moves.sort(key=lambda m: -m[0])
            done = False
            for _, d, j, dest in moves:
                tab = self.tables[d]
                p = prime_factors(int(fac[d][j]))[0]
                rest = fac[d][j] // p
                a_src = ax[d][j] if rest > 1 else 0
                if tab.lookup3[j, tab.di(rest), a_src] < 0:
                    continue
                for k in dest:
                    if tab.lookup3[k, tab.di(fac[d][k] * p), 0] >= 0:
                        fac[d][j], ax[d][j] = rest, a_src
                        fac[d][k] *= p
                        done = True
                        break
                if done:
                    break
            if not done:
                return False
        for d, tab in enumerate(self.tables):
            opt = tab.lookup3[np.arange(len(S_level)), tab.di(fac[d]), ax[d]][None, :]
            g.fi[row, d] = tab.find(opt)[0]
        b = self.batch(g.take(np.array([row])))
        return bool(self.legal(b)[0])

    def genes(self, b: MappingBatch) -> Genes:
        """Coordinates of the rows of a batch of this space's mappings (canonical loop
        orders)."""
        N = len(b)
        fi = np.zeros((N, self.D), dtype=np.int64)
        for d, tab in enumerate(self.tables):
            opt = np.zeros((N, len(self.slot_level)), dtype=np.int64)
            for j, lvl in enumerate(self.slot_level):
                if self.slot_temporal[j]:
                    f = b.temporal[:, lvl, d]
                    a = np.zeros(N, dtype=np.int64)
                else:
                    fx, fy = b.spatial_x[:, lvl, d], b.spatial_y[:, lvl, d]
                    f = fx * fy
                    a = np.where(fx > 1, 1, np.where(fy > 1, 2, 0))
                opt[:, j] = tab.lookup3[j, tab.di(f), a]
            fi[:, d] = tab.find(opt)
        g = Genes(fi, np.array(b.rank, dtype=np.int64), np.array(b.keep, dtype=bool))
        self.canonical(g)
        return g

    def fresh(self, n: int, rng: np.random.Generator) -> Genes:
        """About ``n`` candidates drawn uniformly: legal ones from ``Mapspace.sample_batch``
        when the mapspace has it, else raw draws from ``draw`` (legal or not)."""
        sampler = getattr(self.space, "sample_batch", None)
        if sampler is not None:
            try:
                _, b = sampler(n, rng=rng, with_ids=False)
                return self.genes(b)
            except SpecError:  # too few legal mappings found: fall back on raw draws
                pass
        return self.draw(n, rng)

    # -- sampling ---------------------------------------------------------------------------
    def random_orders(self, n: int, rng: np.random.Generator) -> np.ndarray:
        rank = np.broadcast_to(self.template, (n, self.L, self.D)).copy()
        for i in self.orderable:
            fd = self.free[i]
            perm = np.argsort(rng.random((n, len(fd))), axis=1)
            rank[:, i, fd] = self.free_start[i] + perm
        return rank

    def draw(self, n: int, rng: np.random.Generator) -> Genes:
        """``n`` candidates from the capacity-aware product proposal of ``Mapspace``
        (legal and illegal; keep only the legal ones for uniform legal samples)."""
        space = self.space
        plan = space.proposal
        fi = np.zeros((n, self.D), dtype=np.int64)
        keep = np.broadcast_to(self.keep_fixed, (n, self.L, self.T)).copy()
        if plan:
            w = np.array([float(x) for _, x, _ in plan])
            pick = rng.choice(len(plan), size=n, p=w / w.sum())
            for p in np.unique(pick):
                rows = np.nonzero(pick == p)[0]
                by, _, limits = plan[p]
                for d, (tab, lim) in enumerate(zip(self.tables, limits)):
                    allowed = tab.within(lim)
                    if allowed is None:
                        fi[rows, d] = rng.integers(0, tab.size, size=len(rows))
                    else:
                        fi[rows, d] = allowed[rng.integers(0, len(allowed), size=len(rows))]
                for k, (i, t) in enumerate(self.keep_free):
                    keep[rows, i, t] = bool((by >> k) & 1)
        else:
            for d, tab in enumerate(self.tables):
                fi[:, d] = rng.integers(0, tab.size, size=n)
            for i, t in self.keep_free:
                keep[:, i, t] = rng.random(n) < 0.5
        return Genes(fi, self.random_orders(n, rng), keep)


class LazyIds(Sequence):
    """Mapspace ids of a proposal's rows, each computed on first read."""

    def __init__(self, arrays: "SpaceArrays", g: Genes):
        self._arrays = arrays
        self._g = g
        self._cache: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._g)

    def __getitem__(self, r):
        if isinstance(r, slice):
            return [self[k] for k in range(*r.indices(len(self)))]
        if isinstance(r, (list, tuple, np.ndarray)):
            return [self[k] for k in r]
        r = int(r)
        if r < 0:
            r += len(self)
        if not 0 <= r < len(self):
            raise IndexError(r)
        got = self._cache.get(r)
        if got is None:
            got = self._cache[r] = self._arrays.id_of(self._g, r)
        return got


def _nondominated(v: np.ndarray) -> np.ndarray:
    """Mask of the non-dominated rows of ``v`` (minimized), duplicates kept once."""
    n = len(v)
    order = np.lexsort(v.T[::-1])
    v = v[order]
    keep = np.ones(n, dtype=bool)
    for a in range(n):
        if not keep[a]:
            continue
        later = slice(a + 1, n)
        dom = (v[a] <= v[later]).all(axis=1)
        keep[later] &= ~dom
    mask = np.zeros(n, dtype=bool)
    mask[order[keep]] = True
    return mask


@register_strategy
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
      evaluations starts again from fresh samples (default 20,000);
    * ``generation``: at most this many candidates per ask (default 2048).
    """

    name = "local"

    def __init__(self, islands: int = 4, elite: int = 8, front_size: int = 32,
                 front_share: float = 0.25, fresh: float = 0.05, sweep: float = 0.25,
                 max_sweep: int = 120, init: int = 1000, restart: int = 20_000,
                 generation: int = 2048):
        for name, v in (("front_share", front_share), ("fresh", fresh), ("sweep", sweep)):
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
        self.dims = [d for d, t in enumerate(self.arrays.tables) if len(t.open_slots) >= 2]
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
                g = A.fresh(want, rng)
                cand = [(g, np.arange(len(g)) % K)]
            else:
                m = int(want / max(self._accept, 0.05) * 1.1) + 8
                cand = []
                empty = [k for k in range(K) if self.isl[k] is None]
                n_fresh = int(round(self.fresh * want)) + len(empty) * want // K
                if n_fresh:
                    g = A.fresh(n_fresh, rng)
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
            parts.append((g.take(rows), labels[rows], _take_batch(b, rows)))
            have += len(new)
        if not parts:
            return None  # nothing legal and new found: the space is (nearly) exhausted
        g = Genes.concat([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        batch = MappingBatch.concat([p[2] for p in parts]) if len(parts) > 1 else parts[0][2]
        proposal = Proposal(batch, A.ids(g), rejected=rejected)
        self.pending[id(batch)] = (g, labels)
        return proposal

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
        steps = 1 + rng.poisson(self.strength - 1.0, size=n)
        p = self._kind_p
        for s in range(int(steps.max())):
            rows = np.nonzero(steps > s)[0]
            kind = rng.choice(4, size=len(rows), p=p)
            for k, fn in enumerate((self._move_prime, self._move_redraw, self._move_swap,
                                    self._move_keep)):
                sel = rows[kind == k]
                if len(sel):
                    fn(g, sel)
        return g, labels

    @cached_property
    def _kind_p(self) -> np.ndarray:
        """Move probabilities: prime moves, re-draws, swaps, keep flips."""
        A = self.arrays
        p = np.array([0.5 if self.dims else 0, 0.1 if self.dims else 0,
                      0.3 if A.orderable else 0, 0.1 if A.keep_free else 0])
        return p / p.sum() if p.sum() else np.full(4, 0.25)

    def _move_redraw(self, g: Genes, rows: np.ndarray) -> None:
        if not self.dims:
            return
        rng = self.rng
        dsel = np.array(self.dims)[rng.integers(0, len(self.dims), size=len(rows))]
        for d in np.unique(dsel):
            r = rows[dsel == d]
            g.fi[r, d] = rng.integers(0, self.arrays.tables[d].size, size=len(r))

    def _move_prime(self, g: Genes, rows: np.ndarray) -> None:
        """Move one prime factor of one dimension from a slot to another (the spatial
        axis of a new spatial factor drawn among the allowed ones)."""
        if not self.dims:
            return
        rng = self.rng
        dsel = np.array(self.dims)[rng.integers(0, len(self.dims), size=len(rows))]
        for d in np.unique(dsel):
            r = rows[dsel == d]
            tab = self.arrays.tables[d]
            f, a = tab.factors(g.fi[r, d])
            m, S = f.shape
            src = np.argmax(rng.random((m, S)) * (f > 1), axis=1)
            fs = f[np.arange(m), src]
            dfs = tab.di(fs)
            cnt = tab.n_primes[dfs]
            p = tab.primes[dfs, (rng.random(m) * np.maximum(cnt, 1)).astype(np.int64)]
            k = len(tab.open_slots)
            dst = tab.open_slots[(tab.slot_pos[src] + 1 + rng.integers(0, k - 1, size=m)) % k]
            fd = f[np.arange(m), dst]
            ad = a[np.arange(m), dst]
            new_fs = fs // p
            new_fd = fd * p
            # Axes: a factor that becomes 1 has none; a new spatial factor picks one.
            as_ = np.where(new_fs == 1, 0, a[np.arange(m), src])
            pick_axis = rng.integers(1, 3, size=m).astype(np.int8)
            ad = np.where(fd > 1, ad, np.where(self.arrays.slot_temporal[dst], 0, pick_axis))
            o = tab.opt[g.fi[r, d]].copy()
            ok = (fs > 1) & (dst != src)
            dnew_fd = tab.di(new_fd)
            new_src_opt = tab.lookup3[src, tab.di(new_fs), as_]
            new_dst_opt = tab.lookup3[dst, dnew_fd, ad]
            # A new spatial factor whose drawn axis is not allowed tries the other one.
            other = tab.lookup3[dst, dnew_fd, 3 - np.maximum(ad, 1)]
            retry = (new_dst_opt < 0) & (fd == 1) & ~self.arrays.slot_temporal[dst]
            new_dst_opt = np.where(retry, other, new_dst_opt)
            ok &= (new_src_opt >= 0) & (new_dst_opt >= 0)
            idx = np.nonzero(ok)[0]
            o[idx, src[idx]] = new_src_opt[idx]
            o[idx, dst[idx]] = new_dst_opt[idx]
            g.fi[r[idx], d] = tab.find(o[idx])

    def _move_swap(self, g: Genes, rows: np.ndarray) -> None:
        """Swap two loops of a level's free region (non-unit ones mostly)."""
        A, rng = self.arrays, self.rng
        if not A.orderable:
            return
        lsel = np.array(A.orderable)[rng.integers(0, len(A.orderable), size=len(rows))]
        for i in np.unique(lsel):
            r = rows[lsel == i]
            fd = A.free[i]
            k = len(fd)
            # Only positions of the non-unit loops matter after canonicalization; swapping
            # two random free dims of the first few positions is enough.
            x = rng.integers(0, k, size=len(r))
            y = (x + 1 + rng.integers(0, k - 1, size=len(r))) % k
            dx, dy = fd[x], fd[y]
            px = g.rank[r, i, dx].copy()
            g.rank[r, i, dx] = g.rank[r, i, dy]
            g.rank[r, i, dy] = px

    def _move_keep(self, g: Genes, rows: np.ndarray) -> None:
        A, rng = self.arrays, self.rng
        if not A.keep_free:
            return
        k = rng.integers(0, len(A.keep_free), size=len(rows))
        lv = np.array([i for i, _ in A.keep_free])[k]
        tt = np.array([t for _, t in A.keep_free])[k]
        g.keep[rows, lv, tt] = ~g.keep[rows, lv, tt]

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
            t = np.stack([A.tables[d].per_level[parents.fi[rows, d], 0, i] for d in fd], axis=1)
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
        nd = np.nonzero(_nondominated_fast(fv))[0]
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


def _take_batch(b: MappingBatch, rows: np.ndarray) -> MappingBatch:
    return MappingBatch(b.temporal[rows], b.spatial_x[rows], b.spatial_y[rows], b.rank[rows],
                        b.keep[rows])


def _score(v: np.ndarray) -> np.ndarray:
    """Sum of the logs of the (minimized, sign-oriented) objectives: log EDP for energy
    and cycles; a maximized objective counts as its inverse."""
    signs = np.sign(v)
    signs[signs == 0] = 1
    return (np.log(np.maximum(np.abs(v), 1e-300)) * signs).sum(axis=1)


def _nondominated_fast(v: np.ndarray) -> np.ndarray:
    """Non-dominated mask (minimized); exact, O(n log n) for two objectives."""
    if v.shape[1] == 1:
        return v[:, 0] == v[:, 0].min()
    if v.shape[1] == 2:
        order = np.lexsort((v[:, 1], v[:, 0]))
        y = v[order, 1]
        best = np.minimum.accumulate(y)
        prev = np.concatenate([[np.inf], best[:-1]])
        keep = y < prev
        mask = np.zeros(len(v), dtype=bool)
        mask[order[keep]] = True
        return mask
    return _nondominated(v)
