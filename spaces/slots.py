"""The per-dimension slot model of a mapspace: tiling slots, the ordered factorizations of
one dimension's bound over them, and those factorizations as numpy tables.

A **slot** is one level's temporal loop ("T") or its spatial fanout ("S"), outermost
first. ``DimSpace`` holds, per slot, the (factor, axis) options the constraints allow,
and counts, ranks and unranks the factorizations by dynamic programming over (slot,
remaining quotient); row ``r`` of its ``FactorTable`` is ``unrank(r)``. ``limits`` (one
entry per slot, or None) caps the remaining quotient on entering a slot, i.e. the
dimension's extent covered by that slot and everything inside it: the samplers use it to
skip splits whose tiles cannot fit. ``CappedTable`` is the subset of a table within one
limits tuple, in the same order. ``tiling_slots`` and ``dim_space`` build them from an
architecture and constraints. The mapspace (ids), the batched sampler, the local search
and bayesian (coordinates and moves) all use these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from .arch import Architecture
from .constraints import Constraints, FactorRule, allowed_axes
from .factors import divisors, prime_factors
from .workload import Workload

AXIS_CODES = {"": 0, "X": 1, "Y": 2}
_FREE = FactorRule()


@dataclass(frozen=True)
class Slot:
    """One tiling slot: a level's temporal loop ("T") or its spatial fanout ("S")."""

    level: int
    kind: str


def has_temporal_slot(arch: Architecture, i: int) -> bool:
    """Whether level ``i`` gets a temporal slot: not a dummy level (it holds no data)
    under a parent without fanout, whose loops are exactly the parent's innermost."""
    lvl = arch.levels[i]
    return not (lvl.dummy and i > 0 and arch.fanout(i - 1) == (1, 1))


def tiling_slots(arch: Architecture) -> tuple[Slot, ...]:
    """The tiling slots, outermost first: each level's temporal slot, then its spatial
    slot where it fans out."""
    return tuple(s for i in range(len(arch.levels)) for s in (
        [Slot(i, "T")] if has_temporal_slot(arch, i) else []) + (
        [Slot(i, "S")] if arch.fanout(i) != (1, 1) else []))


def slot_options(arch: Architecture, constraints: Constraints, dim: str, bound: int,
                 slots: Sequence[Slot], candidates: Sequence[int]
                 ) -> tuple[list[list[tuple[int, str]]], list[list[int]]]:
    """Per slot, the (factor, axis) pairs among ``candidates`` that the constraints'
    factor rules, the allowed mesh axes and each axis's fanout permit (axis "" for
    temporal or 1), and the factors the rules allow whatever the fanout (Timeloop's
    count). Shared by the perfect (divisors) and imperfect (any end) spaces."""
    options, uncapped = [], []
    for slot in slots:
        name = arch.levels[slot.level].name
        lc = constraints.level(name)
        if slot.kind == "T":
            rule = constraints.temporal_rule(name, dim) or _FREE
        else:
            rule = (lc.spatial_rule(dim) if lc is not None else None) or _FREE
        allowed = [f for f in candidates if rule.allows(f, bound)]
        uncapped.append(allowed)
        if slot.kind == "T":
            # Rules may forbid 1; a unit factor stays possible only if allowed.
            opts = [(f, "") for f in allowed]
        else:
            fx, fy = arch.fanout(slot.level)
            opts = [(1, "")] if rule.allows(1, bound) else []
            for axis, _ in allowed_axes(lc, dim, fx, fy):
                cap = fx if axis == "X" else fy
                opts += [(f, axis) for f in allowed if 1 < f <= cap]
        options.append(opts)
    return options, uncapped


def max_factor(slots: Sequence[Slot], options: Sequence[Sequence[tuple[int, str]]],
               level: int, kind: str) -> int:
    """Largest factor the slot ``options`` give a dimension at ``level``: ``kind`` "T"
    temporal, "SX"/"SY" spatial on one mesh axis (1: never more than 1)."""
    best = 1
    for slot, opts in zip(slots, options):
        if slot.level != level:
            continue
        for f, axis in opts:
            k = "T" if slot.kind == "T" else "S" + axis if axis else ""
            if k == kind:
                best = max(best, f)
    return best


def dim_space(workload: Workload, arch: Architecture, constraints: Constraints, dim: str,
              slots: Sequence[Slot]) -> "DimSpace":
    """The factorizations of ``dim`` over ``slots`` that the constraints' factor rules,
    the allowed mesh axes and each axis's fanout permit."""
    bound = workload.bound(dim)
    options, uncapped = slot_options(arch, constraints, dim, bound, slots, divisors(bound))
    return DimSpace(bound, slots, options, uncapped)


class DimSpace:
    """Ordered factorizations of one dimension's bound over the slots, with per-slot
    options; counted, ranked and unranked by dynamic programming."""

    def __init__(self, bound: int, slots: Sequence[Slot], options: Sequence[list[tuple[int, str]]],
                 uncapped: Sequence[list[int]] | None = None):
        # options[j]: allowed (factor, axis) pairs of slot j; axis "" for temporal or f == 1.
        self.bound = bound
        self.slots = tuple(slots)
        self.options = [sorted(o) for o in options]
        # Per slot, the factors the rules allow whatever the fanout (Timeloop's count).
        self.uncapped: list[list[int]] = [list(u) for u in uncapped] if uncapped else []
        self._memo = lru_cache(maxsize=None)(self._count_impl)
        self._table: FactorTable | None = None

    def _count_impl(self, j: int, q: int, limits: tuple | None = None) -> int:
        if limits is not None and j < len(self.slots) and limits[j] is not None \
                and q > limits[j]:
            return 0
        if j == len(self.slots):
            return 1 if q == 1 else 0
        return sum(self._memo(j + 1, q // f, limits) for f, _ in self.options[j] if q % f == 0)

    def count_from(self, j: int, q: int, limits: tuple | None = None) -> int:
        """Factorizations of the quotient ``q`` over slots ``j`` and inward."""
        return self._memo(j, q, limits)

    @property
    def size(self) -> int:
        return self._memo(0, self.bound)

    def count(self, limits: tuple | None = None) -> int:
        return self._memo(0, self.bound, limits)

    def max_factor(self, level: int, kind: str) -> int:
        """Largest factor this dimension may take at ``level`` (see ``max_factor``)."""
        return max_factor(self.slots, self.options, level, kind)

    def unrank(self, r: int, limits: tuple | None = None) -> tuple[tuple[int, str], ...]:
        out = []
        q = self.bound
        for j in range(len(self.slots)):
            for f, axis in self.options[j]:
                if q % f:
                    continue
                block = self._memo(j + 1, q // f, limits)
                if r < block:
                    out.append((f, axis))
                    q //= f
                    break
                r -= block
            else:  # pragma: no cover - guarded by size
                raise IndexError("rank out of range")
        return tuple(out)

    def rank(self, choice: Sequence[tuple[int, str]]) -> int:
        r = 0
        q = self.bound
        for j, (f, axis) in enumerate(choice):
            for g, ax in self.options[j]:
                if (g, ax) == (f, axis):
                    break
                if q % g == 0:
                    r += self._memo(j + 1, q // g)
            else:
                raise KeyError((self.slots[j], f, axis))
            q //= f
        if q != 1:
            raise KeyError("factors do not multiply to the bound")
        return r

    def walk(self, limits: tuple | None) -> Iterator[tuple[tuple[tuple[int, str], ...], int]]:
        """The factorizations within ``limits`` in rank order, with their uncapped rank."""
        nslots = len(self.slots)

        def go(j: int, q: int, choice: tuple, r: int):
            if j == nslots:
                yield choice, r
                return
            for f, axis in self.options[j]:
                if q % f:
                    continue
                if self._memo(j + 1, q // f, limits):
                    yield from go(j + 1, q // f, choice + ((f, axis),), r)
                r += self._memo(j + 1, q // f)

        yield from go(0, self.bound, (), 0)

    def by_signature(self, sig_levels: Sequence[bool]) -> dict[tuple[int, ...], int]:
        """Counts grouped by which levels (those flagged in ``sig_levels``) get a
        temporal factor > 1."""
        states: dict[tuple[int, tuple[int, ...]], int] = {(self.bound, ()): 1}
        for j, slot in enumerate(self.slots):
            new: dict[tuple[int, tuple[int, ...]], int] = {}
            for (q, sig), c in states.items():
                for f, _ in self.options[j]:
                    if q % f:
                        continue
                    s = sig
                    if slot.kind == "T" and sig_levels[slot.level]:
                        s = sig + (1 if f > 1 else 0,)
                    key = (q // f, s)
                    new[key] = new.get(key, 0) + c
            states = new
        out: dict[tuple[int, ...], int] = {}
        for (q, sig), c in states.items():
            if q == 1:
                out[sig] = out.get(sig, 0) + c
        return out

    def uncapped_count(self) -> int:
        """Factorizations counted as Timeloop does (spatial factors not limited by the
        fanout, the axis not part of the choice)."""
        opts = self.uncapped

        @lru_cache(maxsize=None)
        def count(j: int, q: int) -> int:
            if j == len(opts):
                return 1 if q == 1 else 0
            return sum(count(j + 1, q // f) for f in opts[j] if q % f == 0)
        return count(0, self.bound)

    def table(self, levels: int, max_rows: int) -> "FactorTable | None":
        """The table of all factorizations (built once; None if more than ``max_rows``)."""
        if self.size > max_rows:
            return None
        if self._table is None or self._table.levels != levels:
            self._table = FactorTable(self, levels)
        return self._table


class FactorTable:
    """Every factorization of one dimension in rank order (row r is ``unrank(r)``):
    option indices ``opt`` [n, S], factors ``fac`` and axis codes ``ax`` (0 none, 1 X,
    2 Y) [n, S]; per level ``per_level`` [n, 3, L] (temporal, X, Y), the same level-major
    in ``T``, ``SX``, ``SY`` [L, n]; ``quot`` [S + 1, n], the quotient entering each slot.
    Lookups for moves: ``lookup3[slot, divisor index, axis]`` (option index or -1),
    ``find`` (rows of option-index rows), the prime factors of every divisor."""

    def __init__(self, ds: DimSpace, levels: int):
        self.ds = ds
        self.levels = L = levels
        S = len(ds.slots)
        fval = [np.array([f for f, _ in o], dtype=np.int64) for o in ds.options]
        aval = [np.array([AXIS_CODES[a] for _, a in o], dtype=np.int8) for o in ds.options]
        radix = [max(1, len(o)) for o in ds.options]
        opt = np.zeros((1, 0), dtype=np.int32)
        q = np.array([ds.bound], dtype=np.int64)
        for j in range(S):
            f = fval[j]
            if len(f) == 0:
                opt = np.zeros((0, S), dtype=np.int32)
                break
            ok = (q[:, None] % f[None, :]) == 0
            r, o = np.nonzero(ok)  # row-major: lexicographic in (prefix, option)
            q = q[r] // f[o]
            opt = np.concatenate([opt[r], o[:, None].astype(np.int32)], axis=1)
            vals = np.unique(q)
            live = np.array([ds.count_from(j + 1, int(v)) > 0 for v in vals], dtype=bool)
            alive = np.isin(q, vals[live])
            opt, q = opt[alive], q[alive]
        self.opt = opt
        self.size = n = len(opt)
        assert n == ds.size, (n, ds.size)
        self.weights = np.ones(S, dtype=np.int64)
        if math.prod(radix) < 2 ** 62:
            w = 1
            for j in reversed(range(S)):
                self.weights[j] = w
                w *= radix[j]
            self.key = opt.astype(np.int64) @ self.weights
            self._index = None
        else:  # pragma: no cover - astronomically many options per slot
            self.key = None
            self._index = {tuple(row): i for i, row in enumerate(opt.tolist())}
        small = np.int16 if ds.bound < 2 ** 15 else np.int32
        self.fac = np.empty(opt.shape, dtype=small)
        self.ax = np.empty(opt.shape, dtype=np.int8)
        for j in range(S):
            if n:
                self.fac[:, j] = fval[j][opt[:, j]]
                self.ax[:, j] = aval[j][opt[:, j]]
        self.per_level = np.ones((n, 3, L), dtype=small)
        for j, slot in enumerate(ds.slots):
            if slot.kind == "T":
                self.per_level[:, 0, slot.level] = self.fac[:, j]
            else:
                for k in (1, 2):
                    self.per_level[:, k, slot.level] *= np.where(self.ax[:, j] == k,
                                                                 self.fac[:, j], 1).astype(small)
        self.T = np.ascontiguousarray(self.per_level[:, 0, :].T)
        self.SX = np.ascontiguousarray(self.per_level[:, 1, :].T)
        self.SY = np.ascontiguousarray(self.per_level[:, 2, :].T)
        quot = np.ones((S + 1, n), dtype=np.int64)
        for j in range(S - 1, -1, -1):
            quot[j] = quot[j + 1] * self.fac[:, j]
        self.quot = quot
        # Tables indexed by divisor of the bound (``di``).
        self.divs = np.array(divisors(ds.bound), dtype=np.int64)
        self.lookup3 = -np.ones((S, len(self.divs), 3), dtype=np.int32)
        for j in range(S):
            for k, (f, a) in enumerate(ds.options[j]):
                self.lookup3[j, self.di(f), AXIS_CODES[a]] = k
        self.open_slots = np.array([j for j in range(S) if any(f > 1 for f, _ in ds.options[j])],
                                   dtype=np.int64)
        self.slot_pos = np.full(S, -1, dtype=np.int64)
        self.slot_pos[self.open_slots] = np.arange(len(self.open_slots))
        pf = [prime_factors(int(x)) for x in self.divs]
        self.primes = np.ones((len(self.divs), max(1, max(len(p) for p in pf))), dtype=np.int64)
        self.n_primes = np.array([len(p) for p in pf], dtype=np.int64)
        for x, p in enumerate(pf):
            self.primes[x, :len(p)] = p
        self._within: dict[tuple, np.ndarray] = {}

    def di(self, f):
        """Index of the divisor(s) ``f`` of the bound in ``divs``."""
        return np.searchsorted(self.divs, f)

    def per_level_of(self, rows: np.ndarray) -> np.ndarray:
        """Factors [n, 3, L] (temporal, X, Y per level) of table rows."""
        return self.per_level[rows]

    def factors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Factors and axis codes [n, S] of table rows."""
        return self.fac[rows].astype(np.int64), self.ax[rows]

    def find(self, opt: np.ndarray) -> np.ndarray:
        """Table rows of option-index rows [n, S] (all assumed valid and complete)."""
        if self.key is None:  # pragma: no cover
            return np.array([self._index[tuple(r)] for r in opt.tolist()], dtype=np.int64)
        k = opt.astype(np.int64) @ self.weights
        return np.searchsorted(self.key, k)

    def within(self, limits: tuple | None) -> np.ndarray | None:
        """Rows (ascending, so in capped-rank order) whose extent entering each slot
        stays within ``limits``; None when there are no limits (all rows)."""
        if limits is None:
            return None
        got = self._within.get(limits)
        if got is None:
            ok = np.ones(self.size, dtype=bool)
            for j, lim in enumerate(limits):
                if lim is not None:
                    ok &= self.quot[j] <= lim
            got = np.flatnonzero(ok)
            got = got.astype(np.int32) if self.size < 2 ** 31 else got
            self._within[limits] = got
        return got


@dataclass
class CappedTable:
    """The factorizations of one dimension under one limits tuple, in capped-rank order
    (row r is ``unrank(r, limits)``): ``sel`` indexes them in the dimension's full table,
    or ``own`` holds them (``T``, ``SX``, ``SY`` as [L, rows], and uncapped ``rank``);
    both None: too large, rows are unranked on demand."""

    limits: tuple | None
    count: int
    sel: np.ndarray | None = None
    own: dict | None = None

    @staticmethod
    def build(ds: DimSpace, lim: tuple | None, full: FactorTable | None, levels: int,
              max_rows: int) -> "CappedTable":
        count = ds.count(lim)
        tb = CappedTable(lim, count)
        if full is not None:
            sel = full.within(lim)
            tb.sel = sel if sel is not None else np.arange(full.size, dtype=np.int32)
            assert len(tb.sel) == count
            return tb
        if count > max_rows:
            return tb
        # The full table is too large but this one is not: walk it in rank order.
        T = np.ones((levels, count), dtype=np.int32)
        SX = np.ones((levels, count), dtype=np.int32)
        SY = np.ones((levels, count), dtype=np.int32)
        rank = np.empty(count, dtype=np.int64)
        for k, (choice, r) in enumerate(ds.walk(lim)):
            fill_factors(ds, choice, T, SX, SY, k)
            rank[k] = r
        tb.own = {"T": T, "SX": SX, "SY": SY, "rank": rank}
        return tb


def fill_factors(ds: DimSpace, choice, T, SX, SY, k: int) -> None:
    """Write one factorization's factors into column ``k`` of [L, n] arrays."""
    for slot, (f, axis) in zip(ds.slots, choice):
        if slot.kind == "T":
            T[slot.level, k] = f
        elif f > 1:
            (SX if axis == "X" else SY)[slot.level, k] = f
