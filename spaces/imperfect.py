"""Imperfect factorizations of one dimension over the tiling slots (the mapspace's
``imperfect`` option, docs/mapspace.md).

A choice gives every slot (outermost first) a loop end ``f_j`` (and a mesh axis for a
spatial slot with ``f_j > 1``). Allowed are exactly the sequences whose loops cover the
bound ``N`` under the coverage rule of ``spaces/residuals.py`` with each residual
determined: the slots outside the outermost non-unit slot ``k`` run 1, the slots inside
it take any ends with product ``P < N``, and ``f_k = ceil(N / P)`` (the outermost loop
runs its residual, so it is perfect). The residual of an inner loop is its digit of
``N - 1`` in the mixed radix of the ends, plus one. Every perfect factorization is one
of these (``P`` divides ``N``).

Counted by ``G(j, m)``: option tuples over slots ``j..`` whose product is at most ``m``
(memoised on ``(j, m)``); the tuples with product in ``[lo, hi]`` are
``G(j, hi) - G(j, lo - 1)``. Order (rank): outermost non-unit slot ``k`` ascending (all
ones first when ``N == 1``), then slot ``k``'s option, then the inner slots' options
lexicographically. ``limits`` (per slot, the largest extent covered by that slot and
inward, as in ``spaces/slots.py``) cap the suffix products; the slots at and outside
``k`` cover ``N``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from functools import lru_cache
from typing import Iterator, Sequence

from .constraints import Constraints
from .factors import prime_factors
from .slots import Slot, max_factor, slot_options


__all__ = ["END_MOVES", "PRIME_MOVE", "ImperfectDimSpace", "cover_bound", "end_options",
           "imperfect_dim_space", "move_end",
           "residuals_of"]


def residuals_of(bound: int, ends: Sequence[int]) -> tuple[int | None, ...]:
    """Per slot, the residual of its loop (None: perfect or unit) for loop ``ends``
    (outermost first) that cover ``bound``."""
    out: list[int | None] = []
    stride = 1
    strides = []
    for f in reversed(ends):
        strides.append(stride)
        stride *= f
    strides.reverse()
    last = bound - 1
    for f, s in zip(ends, strides):
        r = (last // s) % f + 1 if f > 1 else None
        out.append(None if r is None or r == f else r)
    return tuple(out)


def imperfect_dim_space(workload, arch, constraints: Constraints, dim: str,
                        slots: Sequence[Slot]) -> "ImperfectDimSpace":
    """The imperfect factorizations of ``dim``: temporal ends 1..bound, spatial ends
    up to the axis's fanout, each allowed by the constraints' factor rules."""
    bound = workload.bound(dim)
    return ImperfectDimSpace(bound, slots, *end_options(arch, constraints, dim, bound, slots))


def end_options(arch, constraints: Constraints, dim: str, bound: int, slots: Sequence[Slot]):
    """Per slot, the (end, axis) options the constraints allow, and the same uncapped
    by the fanout and without axes (Timeloop's count)."""
    options, allowed = slot_options(arch, constraints, dim, bound, slots,
                                    range(1, bound + 1))
    return options, [[(f, "") for f in a] for a in allowed]


class ImperfectDimSpace:
    """Imperfect factorizations of one dimension (the module docstring): the interface
    of ``slots.DimSpace`` that the mapspace uses, plus ``residuals``."""

    imperfect = True

    def __init__(self, bound: int, slots: Sequence[Slot],
                 options: Sequence[list[tuple[int, str]]],
                 uncapped: Sequence[list[tuple[int, str]]] | None = None):
        self.bound = bound
        self.slots = tuple(slots)
        self.options = [sorted(o) for o in options]
        self._uncapped = [sorted(o) for o in uncapped] if uncapped else self.options
        self._G = lru_cache(maxsize=None)(self._g)
        self._heads_memo: dict = {}

    # -- counting ------------------------------------------------------------------------
    def _g(self, j: int, m: int, limits: tuple | None, opts_id: int) -> int:
        """Option tuples over slots ``j..`` with product <= m and suffix products within
        ``limits``."""
        if limits is not None and j < len(self.slots) and limits[j] is not None:
            m = min(m, limits[j])
        if m < 1:
            return 0
        if j == len(self.slots):
            return 1
        opts = self.options if opts_id == 0 else self._uncapped
        total = 0
        for f, _ in opts[j]:
            if f > m:
                break
            total += self._G(j + 1, m // f, limits, opts_id)
        return total

    def _between(self, j: int, lo: int, hi: int, limits, opts_id: int = 0) -> int:
        """Option tuples over slots ``j..`` with product in [lo, hi]."""
        if hi < lo:
            return 0
        return self._G(j, hi, limits, opts_id) - self._G(j, lo - 1, limits, opts_id)

    def _outer_ok(self, k: int, limits, opts_id: int = 0) -> bool:
        """Slots before ``k`` may run 1 and slots up to ``k`` may cover the bound."""
        opts = self.options if opts_id == 0 else self._uncapped
        for j in range(k):
            if (1, "") not in opts[j]:
                return False
        if limits is not None:
            for j in range(min(k + 1, len(self.slots))):
                if limits[j] is not None and limits[j] < self.bound:
                    return False
        return True

    def _heads(self, limits, opts_id: int = 0) -> Iterator[tuple[int, int, str, int, int]]:
        """(k, f, axis, lo, hi) blocks in rank order; k == -1: all ones (bound 1)."""
        S = len(self.slots)
        opts = self.options if opts_id == 0 else self._uncapped
        if self.bound == 1:
            yield -1, 1, "", 1, 1
            return
        for k in range(S):
            if not self._outer_ok(k, limits, opts_id):
                break
            for f, axis in opts[k]:
                if f < 2:
                    continue
                lo = -(-self.bound // f)
                hi = -(-self.bound // (f - 1)) - 1
                yield k, f, axis, lo, hi

    def _block(self, k, lo, hi, limits, opts_id: int = 0) -> int:
        if k == -1:
            return self._G(0, 1, limits, opts_id)
        return self._between(k + 1, lo, hi, limits, opts_id)

    def _head_table(self, limits) -> tuple[list, list[int], dict]:
        """The heads in rank order, the ranks where their blocks start (plus the total)
        and the position of each (k, end, axis); memoised per ``limits``."""
        got = self._heads_memo.get(limits)
        if got is None:
            heads = list(self._heads(limits))
            starts = [0]
            for k, _, _, lo, hi in heads:
                starts.append(starts[-1] + self._block(k, lo, hi, limits))
            where = {(k, f, axis): x for x, (k, f, axis, _, _) in enumerate(heads)}
            got = self._heads_memo[limits] = (heads, starts, where)
        return got

    def count(self, limits: tuple | None = None) -> int:
        return self._head_table(limits)[1][-1]

    @property
    def size(self) -> int:
        return self.count(None)

    def uncapped_count(self) -> int:
        """Counted as Timeloop does: spatial ends not limited by the fanout, no axis."""
        return sum(self._block(k, lo, hi, None, 1)
                   for k, _, _, lo, hi in self._heads(None, 1))

    # -- ranking -------------------------------------------------------------------------
    def unrank(self, r: int, limits: tuple | None = None) -> tuple[tuple[int, str], ...]:
        S = len(self.slots)
        heads, starts, _ = self._head_table(limits)
        if not 0 <= r < starts[-1]:
            raise IndexError("rank out of range")
        x = bisect_right(starts, r) - 1
        r -= starts[x]
        for k, f, axis, lo, hi in heads[x:x + 1]:
            if k == -1:
                return tuple((1, "") for _ in range(S))
            out = [(1, "")] * k + [(f, axis)]
            prod = 1
            for j in range(k + 1, S):
                for g, ax in self.options[j]:
                    p = prod * g
                    if p > hi:
                        raise IndexError("rank out of range")  # pragma: no cover
                    b = self._inner(j, g, p, lo, hi, limits, out[k + 1:])
                    if r < b:
                        out.append((g, ax))
                        prod = p
                        break
                    r -= b
            return tuple(out)
        raise IndexError("rank out of range")

    def _inner(self, j: int, g: int, p: int, lo: int, hi: int, limits,
               between: Sequence[tuple[int, str]] = ()) -> int:
        """Choices of the slots after ``j`` when slot ``j`` takes end ``g``, the ends
        from the slot after the outermost loop through ``j`` multiply to ``p`` (those
        before ``j``: ``between``) and all of them must multiply to a product in
        ``[lo, hi]``."""
        return self._between(j + 1, -(-lo // p), self._top(j, g, p, hi, limits), limits)

    @staticmethod
    def _top(j: int, g: int, p: int, hi: int, limits) -> int:
        """Largest product of the slots after ``j`` when slot ``j`` takes ``g`` and the
        ends so far multiply to ``p``: within ``hi`` and slot ``j``'s limit."""
        top = hi // p
        if limits is not None and limits[j] is not None:
            top = min(top, limits[j] // g)
        return top

    def rank(self, choice: Sequence[tuple[int, str]], limits: tuple | None = None) -> int:
        """The rank of ``choice`` (KeyError if it is not a choice of this space)."""
        choice = [(int(f), a if f > 1 else "") for f, a in choice]
        S = len(self.slots)
        if len(choice) != S:
            raise KeyError("one (end, axis) per slot expected")
        ks = [j for j, (f, _) in enumerate(choice) if f > 1]
        k = ks[0] if ks else -1
        heads, starts, where = self._head_table(limits)
        x = where.get((k, 1, "") if k == -1 else (k,) + tuple(choice[k]))
        if x is None:
            raise KeyError(f"no outermost loop {choice[k] if k >= 0 else ''} in this space")
        r = starts[x]
        _, f, axis, lo, hi = heads[x]
        if k == -1:
            return r
        prod = 1
        for j in range(k + 1, S):
            for g, ax in self.options[j]:
                if (g, ax) == choice[j]:
                    break
                p = prod * g
                if p <= hi:
                    r += self._inner(j, g, p, lo, hi, limits, choice[k + 1:j])
            else:
                raise KeyError((self.slots[j], choice[j]))
            prod *= choice[j][0]
        if not lo <= prod <= hi:
            raise KeyError("the ends do not cover the bound with a perfect outermost loop")
        return r

    def residuals(self, choice: Sequence[tuple[int, str]]) -> tuple[int | None, ...]:
        return residuals_of(self.bound, [f for f, _ in choice])

    def walk(self, limits: tuple | None) -> Iterator[tuple[tuple[tuple[int, str], ...], int]]:
        """The choices within ``limits`` in rank order, with their rank."""
        for r in range(self.count(limits)):
            c = self.unrank(r, limits)
            yield c, self.rank(c)

    def max_factor(self, level: int, kind: str) -> int:
        return max_factor(self.slots, self.options, level, kind)

    def by_signature(self, sig_levels: Sequence[bool]) -> dict[tuple[int, ...], int]:
        """Counts grouped by which flagged levels get a temporal end > 1."""
        S = len(self.slots)
        flag = [s.kind == "T" and sig_levels[s.level] for s in self.slots]

        @lru_cache(maxsize=None)
        def gs(j: int, m: int) -> dict:
            if m < 1:
                return {}
            if j == S:
                return {(): 1}
            out: dict = {}
            for f, _ in self.options[j]:
                if f > m:
                    break
                for sig, c in gs(j + 1, m // f).items():
                    key = ((1 if f > 1 else 0,) + sig) if flag[j] else sig
                    out[key] = out.get(key, 0) + c
            return out

        total: dict[tuple[int, ...], int] = {}
        for k, f, _, lo, hi in self._heads(None):
            if k == -1:
                parts = {tuple(0 for j in range(S) if flag[j]): 1}
            else:
                pre = tuple(0 for j in range(k) if flag[j]) + ((1,) if flag[k] else ())
                a, b = gs(k + 1, hi), gs(k + 1, lo - 1)
                parts = {pre + s: c - b.get(s, 0) for s, c in a.items()}
            for s, c in parts.items():
                if c:
                    total[s] = total.get(s, 0) + c
        return total

    def table(self, levels: int, max_rows: int):
        """No factor table: imperfect spaces are sampled through ``unrank``."""
        return None


END_MOVES = 7  # the kinds of ``move_end``
PRIME_MOVE = 6  # the one that moves a prime factor


def move_end(ds, rank: int, slot: int, how: int, pick) -> int | None:
    """A neighbour of factorization ``rank`` of a dimension space (perfect or imperfect):
    slot ``slot``'s end doubles (``how`` 0), halves (1), grows by one (2), shrinks by one
    (3), becomes an allowed end drawn by ``pick`` (4), trades ends with another slot
    drawn by ``pick`` (5), or gives one prime factor of its end to another slot (6: a
    perfect factorization stays perfect), keeping mesh axes where it can; then the
    outermost non-unit
    loop takes the end that covers the bound again (the residuals follow).
    ``pick(options)`` chooses one element of a non-empty list (a seeded generator's
    choice). None when the result is not a point of the space (in a perfect space: when
    the inner ends do not divide the bound)."""
    choice = list(ds.unrank(rank))
    f, axis = choice[slot]

    def set_end(j: int, new: int, was_axis: str, was: int) -> bool:
        same = [o for o in ds.options[j]
                if o[0] == new and (o[1] == was_axis or new == 1 or was == 1)]
        if not same:
            return False
        choice[j] = pick(same)
        return True

    if how == 4:
        choice[slot] = pick(ds.options[slot])
    elif how in (5, 6):
        others = [j for j, o in enumerate(ds.options) if len(o) > 1 and j != slot]
        if not others or (how == 6 and f == 1):
            return None
        j = pick(others)
        g, gaxis = choice[j]
        if how == 5:
            ends = (g, f)
        else:
            p = pick(prime_factors(f))
            ends = (f // p, g * p)
        if not (set_end(slot, ends[0], axis, f) and set_end(j, ends[1], gaxis, g)):
            return None
    elif not set_end(slot, {0: f * 2, 1: f // 2, 2: f + 1, 3: f - 1}[how], axis, f):
        return None
    return cover_bound(ds, choice)


def cover_bound(ds, choice: Sequence[tuple[int, str]]) -> int | None:
    """The rank of ``choice`` after its outermost non-unit loop takes the end that covers
    the bound (``ceil(bound / inner ends)``); None when no point of ``ds`` has these ends."""
    choice = list(choice)
    ends = [c[0] for c in choice]
    k = next((i for i, e in enumerate(ends) if e > 1), None)
    if k is None:
        return ds.rank(choice) if ds.bound == 1 else None
    inner = math.prod(ends[k + 1:])
    if inner >= ds.bound:
        return None
    if ds.bound % inner and not getattr(ds, "imperfect", False):
        return None
    choice[k] = (-(-ds.bound // inner), choice[k][1])
    try:
        return ds.rank(choice)
    except KeyError:
        return None
