"""Imperfect factorizations with residuals at some tiling slots only (the constraints'
``imperfect: {levels: [...]}``, docs/mapspace.md).

A loop at slot ``j`` runs its residual on the last pass when its end ``f_j`` does not
divide ``q_j = ceil(N / P)``, the passes its dimension needs at and outside ``j`` (``P``
the product of the ends inside ``j``): its digit of ``N - 1`` in the mixed radix of the
ends is ``(q_j - 1) mod f_j`` (``spaces/imperfect.py``), and the loop is perfect exactly
when that digit is ``f_j - 1``. A slot where residuals are not allowed must take an end
``f_j`` with ``f_j | q_j`` (or 1). The outermost non-unit loop is perfect anyway.

So the count of inner choices depends on their exact product, not only on a bound of
it: per slot ``j`` an array ``cnt_j[P]`` holds the option tuples over slots ``j..``
with product exactly ``P`` (``P < N``) that obey every slot's rule and the limits,
built from the innermost slot outwards (``cnt_j[f P] += cnt_{j+1}[P]`` over the ends
``f`` of slot ``j`` allowed at ``P``). Ranks, order and limits are those of
``ImperfectDimSpace``, which uses these counts through ``_between`` and ``_inner``.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from .errors import SpecError
from .constraints import Constraints
from .imperfect import ImperfectDimSpace, end_options
from .slots import Slot

__all__ = ["LevelImperfectDimSpace", "level_imperfect_dim_space"]

_COUNT_LIMIT = 2 ** 61  # counts per product stay exact in int64 below this


def level_imperfect_dim_space(workload, arch, constraints: Constraints, dim: str,
                              slots: Sequence[Slot]) -> "LevelImperfectDimSpace":
    """``imperfect.imperfect_dim_space`` with residuals only at the slots of the levels
    in ``constraints.imperfect_levels``."""
    bound = workload.bound(dim)
    names = arch.level_names
    return LevelImperfectDimSpace(bound, slots, *end_options(arch, constraints, dim, bound, slots),
                                  [names[s.level] in constraints.imperfect_levels
                                   for s in slots])


class LevelImperfectDimSpace(ImperfectDimSpace):
    """``ImperfectDimSpace`` where only the slots flagged in ``allowed`` may run a
    residual (the module docstring)."""

    def __init__(self, bound: int, slots: Sequence[Slot],
                 options: Sequence[list[tuple[int, str]]],
                 uncapped: Sequence[list[tuple[int, str]]] | None,
                 allowed: Sequence[bool]):
        super().__init__(bound, slots, options, uncapped)
        self.allowed = tuple(bool(a) for a in allowed)
        n = max(bound, 2)
        p = np.arange(n, dtype=np.int64)
        p[0] = 1
        self._passes = -(-bound // p)  # q = ceil(N / P) per inner product P (index P)
        self._memo: dict = {}

    def _step(self, c: np.ndarray, j: int, opts) -> dict[int, np.ndarray]:
        """Per end f of slot ``j`` (with its multiplicity), the counts moved to f x P."""
        n = len(c)
        out = {}
        for f, m in sorted(Counter(f for f, _ in opts).items()):
            top = (n - 1) // f
            if top < 1:
                continue
            src = c[1:top + 1]
            if f > 1 and not self.allowed[j]:
                src = np.where(self._passes[1:top + 1] % f == 0, src, 0)
            out[f] = (m, top, src)
        return out

    def _counts(self, limits, opts_id: int) -> list[np.ndarray]:
        """Per slot j (and S), the cumulative counts over the exact inner product."""
        key = (limits, opts_id)
        got = self._memo.get(key)
        if got is not None:
            return got
        opts = self.options if opts_id == 0 else self._uncapped
        S = len(self.slots)
        n = len(self._passes)
        c = np.zeros(n, dtype=np.int64)
        c[1] = 1
        cums = [None] * (S + 1)
        cums[S] = np.concatenate([[0], np.cumsum(c)])
        for j in range(S - 1, -1, -1):
            new = np.zeros(n, dtype=np.int64)
            for f, (m, top, src) in self._step(c, j, opts[j]).items():
                new[f:f * top + 1:f] += m * src
            if limits is not None and limits[j] is not None:
                new[max(0, limits[j]) + 1:] = 0
            if float(new.sum()) > _COUNT_LIMIT:
                raise SpecError(f"too many factorizations of a dimension of bound "
                                f"{self.bound} to count per product", key="constraints.imperfect",
                                fix="drop the levels of imperfect, or constrain the factors")
            c = new
            cums[j] = np.concatenate([[0], np.cumsum(c)])
        self._memo[key] = cums
        return cums

    def _between(self, j: int, lo: int, hi: int, limits, opts_id: int = 0) -> int:
        cum = self._counts(limits, opts_id)[j]
        lo, hi = max(lo, 1), min(hi, len(cum) - 2)
        if hi < lo:
            return 0
        return int(cum[hi + 1] - cum[lo])

    def _inner(self, j: int, g: int, p: int, lo: int, hi: int, limits,
               between: Sequence[tuple[int, str]] = ()) -> int:
        # The rules of slot j and of the restricted slots chosen before it (from the
        # slot after the outermost loop on) bear on the product R of the slots after j:
        # slot i's inner product is (the ends from i + 1 through j) x R.
        first = j - len(between)
        ends = [f for f, _ in between] + [g]
        rules = []
        m = 1
        for i in range(j, first - 1, -1):
            f = ends[i - first]
            if f > 1 and not self.allowed[i]:
                rules.append((f, m))
            m *= f
        if not rules:
            return super()._inner(j, g, p, lo, hi, limits, between)
        a = max(-(-lo // p), 1)
        b = min(self._top(j, g, p, hi, limits), len(self._passes) - 1)
        if b < a:
            return 0
        cnt = np.diff(self._counts(limits, 0)[j + 1][a:b + 2])
        r = np.arange(a, b + 1, dtype=np.int64)
        ok = np.ones(len(r), dtype=bool)
        for f, m in rules:
            ok &= (-(-self.bound // (m * r))) % f == 0
        return int(cnt[ok].sum())

    def rank(self, choice: Sequence[tuple[int, str]], limits: tuple | None = None) -> int:
        res = self.residuals([(int(f), a) for f, a in choice])
        for j, r in enumerate(res):
            if r is not None and not self.allowed[j]:
                raise KeyError(f"slot {self.slots[j]} may not run a residual")
        return super().rank(choice, limits)

    def by_signature(self, sig_levels: Sequence[bool]) -> dict[tuple[int, ...], int]:
        """Counts grouped by which flagged levels get a temporal end > 1."""
        S = len(self.slots)
        flag = [s.kind == "T" and sig_levels[s.level] for s in self.slots]
        n = len(self._passes)
        one = np.zeros(n, dtype=np.int64)
        one[1] = 1
        per = [None] * (S + 1)
        per[S] = {(): one}
        for j in range(S - 1, -1, -1):
            new: dict = {}
            for sig, c in per[j + 1].items():
                for f, (m, top, src) in self._step(c, j, self.options[j]).items():
                    key = ((1 if f > 1 else 0,) + sig) if flag[j] else sig
                    arr = new.get(key)
                    if arr is None:
                        arr = new[key] = np.zeros(n, dtype=np.int64)
                    arr[f:f * top + 1:f] += m * src
            per[j] = new
        total: dict = {}
        for k, f, _, lo, hi in self._heads(None):
            if k == -1:
                parts = {tuple(0 for j in range(S) if flag[j]): 1}
            else:
                pre = tuple(0 for j in range(k) if flag[j]) + ((1,) if flag[k] else ())
                parts = {pre + s: int(arr[lo:min(hi, n - 1) + 1].sum())
                         for s, arr in per[k + 1].items()}
            for s, c in parts.items():
                if c:
                    total[s] = total.get(s, 0) + c
        return total
