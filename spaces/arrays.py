"""The array view of a mapspace: candidates as coordinates (``Genes``) and whole batches
of them built, checked, canonicalised, hashed and numbered with numpy (``SpaceArrays``).

A candidate is a point of the mapspace: a factorization row per dimension (rows of the
dimension's ``slots.FactorTable``, in the mapspace's rank order; with imperfect factors,
its rank in the ``ImperfectDimSpace``: ``spaces/imperfect_table.py``), a loop position per
level and dimension, and the keep bits. ``SpaceArrays`` turns them into ``MappingBatch``
rows and mapspace ids, checks legality with the space's ``batch_legality`` (the
vectorized twin of ``Mapspace.problems``), puts unit loops in canonical position, hashes
candidates, reads coordinates back from batches, and draws candidates from the
mapspace's sampling proposal. The ``local`` and ``bayesian`` strategies are built on it
(docs/strategies.md); it reads the mapspace only through its public structural API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .encoding import MappingBatch
from .errors import SpecError
from .factors import lehmer_rank
from .imperfect_table import ImperfectTable
from .mapspace import Mapspace
from .repair import repair_row
from .slots import FactorTable

__all__ = ["Genes", "LazyIds", "SpaceArrays"]


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
        self._perfect: Mapspace | None = None  # the perfect part of an imperfect space
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

    def _table(self, ds, max_rows: int) -> "FactorTable | ImperfectTable":
        if getattr(ds, "imperfect", False):  # rows are ranks, unranked on demand
            return ImperfectTable(ds, self.L)
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
        residual = None
        for d, tab in enumerate(self.tables):
            tsxy[:, :, :, d] = tab.per_level_of(g.fi[:, d]).transpose(1, 0, 2)
            if getattr(tab, "imperfect", False):
                if residual is None:
                    residual = np.zeros((N, 3, self.L, self.D), dtype=np.int64)
                residual[:, :, :, d] = tab.residual_of(g.fi[:, d])
        return MappingBatch(tsxy[0], tsxy[1], tsxy[2], g.rank.copy(), g.keep.copy(),
                            residual)

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
        if N == 0:  # a batch with no legal candidate (reshape(0, -1) is ambiguous)
            return np.zeros(0, dtype=np.uint64)
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

    def repair(self, g: Genes, row: int, max_moves: int = 64) -> bool:
        """Make row ``row`` of ``g`` legal by moving prime factors outwards, in place
        (``spaces/repair.py``); False when that does not make it legal."""
        return repair_row(self, g, row, max_moves)

    def genes(self, b: MappingBatch) -> Genes:
        """Coordinates of the rows of a batch of this space's mappings (canonical loop
        orders)."""
        N = len(b)
        fi = np.zeros((N, self.D), dtype=np.int64)
        for d, tab in enumerate(self.tables):
            if getattr(tab, "imperfect", False):
                fi[:, d] = tab.rows_of(b.temporal[:, :, d], b.spatial_x[:, :, d],
                                       b.spatial_y[:, :, d])
                continue
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

    @property
    def imperfect(self) -> bool:
        """Whether some dimension takes imperfect factors (its rows are ranks)."""
        return any(getattr(t, "imperfect", False) for t in self.tables)

    def fresh_perfect(self, n: int, rng: np.random.Generator) -> Genes | None:
        """``n`` candidates drawn uniformly from the perfect factorizations of an
        imperfect space (a subset of it), or None when too few of them are legal."""
        if self._perfect is None:
            space = self.space
            self._perfect = Mapspace(space.workload, space.arch, space.constraints,
                                     imperfect=False)
        try:
            _, b = self._perfect.sample_batch(n, rng=rng, with_ids=False)
        except SpecError:
            return None
        return self.genes(b)

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
