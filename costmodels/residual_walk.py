"""Loop nests with residual loops (imperfect factorization): tiles and refetches.

Used by ``nest.analyze`` when a mapping has a residual loop (docs/semantics.md,
"Residual loops"). The analysis follows one representative instance per level, the one
whose spatial indices above it are all 0: it runs every loop it meets at full length
unless a residual applies, so it does the most work of all instances (Timeloop reports
the same instance).

* A loop runs its residual when every enclosing loop of its dimension (at any level,
  temporal or spatial) is at its last index, else its factor.
* A level's tile is the box of the loops at and below it: full (the product of the
  factors) in each dimension, except in a dimension whose enclosing loops above the
  level are all at their last index, where it is the residual extent (the points the
  loops below still cover, ``spaces.residuals.covered``).
* Refetches follow the rule of the perfect model with boxes that may change shape: a
  tile's move is the difference of the centres of the two boxes, rounded half away from
  zero (Timeloop's translation of point sets); new words are the tile minus its overlap
  with the previous tile.
* ``schedule="timeloop"`` visits each temporal loop at Timeloop's representative
  iterations (first, second weighted by the iterations in between, and the second-last
  and last where a residual changes what runs); ``schedule="exact"`` visits every
  iteration.
* Each walk is memoised (``ResidualNest.refetch``), so a row costs milliseconds: the
  visits of a subtree after its first depend only on its position relative to the
  subtree's origin, the dimensions on their last pass and the remembered translation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import add
from fractions import Fraction
from typing import Sequence

from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.residuals import covered, nest_order
from loopscape.spaces.workload import Tensor

_NULL = None
EXACT_VISIT_LIMIT = 200_000  # visits one exact walk may take (a few seconds)


@dataclass(frozen=True)
class NestLoop:
    level: int
    dim: str
    factor: int
    last: int  # residual (== factor for a perfect loop)
    step: int  # product of the factors of the same dimension nested inside
    spatial: bool


def nest_loops(mapping: Mapping) -> list[NestLoop]:
    """Every non-unit loop outermost first, with its step."""
    raw = [(i, l, sp) for i, l, sp in nest_order(mapping) if l.factor > 1]
    out = []
    for j, (i, l, sp) in enumerate(raw):
        step = math.prod(x.factor for _, x, _ in raw[j + 1:] if x.dim == l.dim)
        out.append(NestLoop(i, l.dim, l.factor, l.last, step, sp))
    return out


def residual_extent(loops: Sequence[NestLoop], dim: str) -> int:
    """Points of ``dim`` the given loops cover on their last pass."""
    return covered([l for l in loops if l.dim == dim])


def representative(n: int, run_last: bool, this_imperfect: bool
                   ) -> list[tuple[int, int, bool]]:
    """(index, weight, reuse) of the iterations of a loop of ``n`` iterations that
    Timeloop walks: the first; the second, weighted by the iterations it stands for;
    and, when a residual below must be seen (``run_last``), the last (and the
    second-last too when this loop is itself imperfect). ``reuse``: Timeloop counts the
    delta of the iteration before instead of this one's for the tile right below the
    loop (it still walks it, for the levels further in)."""
    second_last = this_imperfect and run_last
    out = [(0, 1, False)]
    idx = 1
    if (second_last and n >= 4) or (run_last and not second_last and n >= 3) \
            or (not run_last and n >= 2):
        v = (n - 2 if run_last else n - 1) - (1 if second_last else 0)
        out.append((1, v, False))
        idx = 1 + v
    if second_last and n >= 3:
        out.append((idx, 1, n >= 4))
        idx += 1
    if run_last and n >= 2:
        out.append((idx, 1, not second_last and n >= 3))
    return out


class ResidualNest:
    """Instance-0 walks of one mapping's nest (per tensor and level)."""

    def __init__(self, mapping: Mapping, dims: Sequence[str], schedule: str,
                 keep_stationary: bool):
        self.loops = nest_loops(mapping)
        self.dims = list(dims)
        self.schedule = schedule
        self.keep_stationary = keep_stationary
        # Outermost position of an imperfect loop, per dimension.
        self.first_imperfect = {}
        for j, l in enumerate(self.loops):
            if l.last != l.factor and l.dim not in self.first_imperfect:
                self.first_imperfect[l.dim] = j
        self.n_levels = len(mapping.levels)

    # -- one level's tiles ----------------------------------------------------------------
    def extents(self, c: int) -> tuple[dict[str, int], dict[str, int]]:
        """Full and residual extents per dimension of level ``c``'s tile."""
        below = [l for l in self.loops if l.level >= c]
        full = {d: math.prod(l.factor for l in below if l.dim == d) for d in self.dims}
        last = {d: residual_extent(below, d) for d in self.dims}
        return full, last

    def tile_box(self, c: int) -> dict[str, int]:
        """Largest tile of level ``c`` (its words are the level's tile): full in a
        dimension with a loop above the level (its first visit is not a last pass),
        else the points the loops at and below it cover."""
        full, last = self.extents(c)
        moved = {l.dim for l in self.loops if l.level < c}
        return {d: full[d] if d in moved else last[d] for d in self.dims}

    def on_last(self, idx: dict[int, int], upto: int, dim: str) -> bool:
        """Whether every loop of ``dim`` before position ``upto`` is at its last index."""
        for j in range(upto):
            l = self.loops[j]
            if l.dim == dim and idx.get(j, 0) != l.last - 1:
                return False
        return True

    def trips(self, j: int, idx: dict[int, int]) -> int:
        """Iterations loop ``j`` runs at index ``idx`` of the loops outside it: its
        residual on the last pass of its dimension, else its factor."""
        l = self.loops[j]
        return l.last if self.on_last(idx, j, l.dim) else l.factor

    def refetch(self, tensor: Tensor, c: int) -> int:
        """Words the instance 0 of level ``c`` fetches from above over the whole run.

        The walk visits the temporal loops above the tile at their representative (or, for
        ``schedule="exact"``, all) iterations. What a subtree of the walk fetches depends
        only on which dimensions are on their last pass there (a bit mask) and on the
        remembered state relative to the subtree's origin (the refetch rule only compares
        boxes with each other), so subtrees are memoised on that key."""
        above = [j for j, l in enumerate(self.loops) if l.level < c]
        temporal = [j for j in above if not self.loops[j].spatial]
        full, last = self.extents(c)
        boundary = len(above)  # loops before this position are above the tile
        dims = self.dims
        bit = {d: 1 << i for i, d in enumerate(dims)}
        all_last = (1 << len(dims)) - 1
        axes = tensor.axes
        A = len(axes)
        # Per loop: the translation of the tensor's axes per index step.
        tvec = [tuple(sum(k * self.loops[j].step for k, d in axis if d == self.loops[j].dim)
                      for axis in axes) for j in range(boundary)]
        # Mask of the dimensions still on their last pass after the spatial loops at
        # positions p..q-1: instance 0 sits at index 0 of each, which is that loop's
        # last index only when its residual is 1.
        def spatial_clear(p: int, q: int) -> int:
            m = all_last
            for j in range(p, q):
                l = self.loops[j]
                if l.last != 1:
                    m &= ~bit[l.dim]
            return m

        nxt = temporal[1:] + [boundary]
        clear_after = [spatial_clear(temporal[k] + 1, nxt[k]) for k in range(len(temporal))]
        clear_first = spatial_clear(0, temporal[0] if temporal else boundary)
        # Box shape per mask of dimensions on their last pass: (lo, hi) offsets per axis
        # and the box's size.
        shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...], int]] = {}

        def shape(mask: int):
            r = shapes.get(mask)
            if r is None:
                ext = {d: last[d] if mask & bit[d] else full[d] for d in dims}
                lo = tuple(sum(k * (ext[d] - 1) for k, d in axis if k < 0) for axis in axes)
                hi = tuple(sum(k * (ext[d] - 1) for k, d in axis if k > 0) for axis in axes)
                r = shapes[mask] = (lo, hi, math.prod(h - l + 1 for l, h in zip(lo, hi)))
            return r

        def half(d2: int) -> int:
            """``d2 / 2`` rounded half away from zero (Timeloop's move of a box centre)."""
            return (d2 + 1) // 2 if d2 >= 0 else -((1 - d2) // 2)

        def shift(b, base, sign: int):
            if b is None:
                return None
            return (tuple(x + sign * o for x, o in zip(b[0], base)),
                    tuple(x + sign * o for x, o in zip(b[1], base)))

        def visit(state, base, mask):
            prev, trans = state
            lo, hi, size = shape(mask)
            cur = (tuple(map(add, base, lo)), tuple(map(add, base, hi)))
            if prev is None:
                return (cur, _NULL), size
            plo, phi = prev
            clo, chi = cur
            t = tuple(half(cl + ch - pl - ph) for pl, ph, cl, ch in zip(plo, phi, clo, chi))
            new = size - math.prod(max(0, min(ah, bh) - max(al, bl) + 1)
                                   for al, ah, bl, bh in zip(clo, chi, plo, phi))
            if self.keep_stationary and not any(t):
                return (cur, trans), new  # a tile that did not move keeps the history
            if trans is _NULL:
                return (cur, t), new
            if t == trans:
                return (cur, trans), new
            return (cur, _NULL), size

        # Whether the innermost temporal loop above sits right above the tile (the
        # parent's innermost loop, no fanout in between), where Timeloop reuses deltas.
        right_above = bool(temporal) and self.loops[temporal[-1]].level == c - 1 \
            and not any(self.loops[j].spatial and self.loops[j].level == c - 1
                        for j in above)
        K = len(temporal)
        # Mask clearing of the first leaf below position k (every loop at index 0).
        first_clear = [all_last] * (K + 1)
        for k in range(K - 1, -1, -1):
            l = self.loops[temporal[k]]
            m = first_clear[k + 1] & clear_after[k]
            first_clear[k] = m if l.last == 1 else m & ~bit[l.dim]
        memo: dict = {}

        def its_of(k: int, mask: int):
            l = self.loops[temporal[k]]
            on_last = bool(mask & bit[l.dim])
            n = l.last if on_last else l.factor
            if self.schedule == "exact":
                return [(x, 1, False) for x in range(n)]
            run_last = self.first_imperfect.get(l.dim, -1) > temporal[k] and on_last
            return representative(n, run_last, l.last != l.factor)

        def walk(k: int, state, base: tuple[int, ...], mask: int):
            """(state after, words fetched) of the loops ``temporal[k:]`` from ``state``;
            ``mask``: the dimensions whose loops before this position are all at their
            last index. The first visit is the only one that sees ``state``; the rest
            depends on the translation it leaves (``tail``)."""
            if k == K:
                return visit(state, base, mask)
            first, got = visit(state, base, mask & first_clear[k])
            end, rest = tail(k, mask, first[1])
            return (shift(end[0], base, 1), end[1]), got + rest

        def tail(k: int, mask: int, trans):
            """The walk of ``temporal[k:]`` at origin 0 after its first visit, which left
            ``trans`` remembered: (final state at origin 0, words fetched after it)."""
            key = (k, mask, trans)
            hit = memo.get(key)
            if hit is not None:
                return hit
            j = temporal[k]
            l = self.loops[j]
            b = bit[l.dim]
            step = tvec[j]
            total = 0
            counted = 0
            state = None
            for x, w, reuse in its_of(k, mask):
                m2 = (mask if x == l.last - 1 else mask & ~b) & clear_after[k]
                if x == 0:  # holds the first visit
                    if k + 1 == K:
                        lo, hi, _ = shape(m2)
                        state, got = ((lo, hi), trans), 0
                    else:
                        state, got = tail(k + 1, m2, trans)
                else:
                    state, got = walk(k + 1, state, tuple(x * s for s in step), m2)
                if reuse and k == K - 1 and right_above:
                    got = counted
                counted = got
                total += w * got
            memo[key] = (state, total)
            return state, total

        if self.schedule == "exact":
            visits = math.prod(self.loops[j].factor for j in temporal)
            if visits > EXACT_VISIT_LIMIT:
                raise SpecError(f"schedule 'exact' with residual loops walks every visit: "
                                f"{visits:,} visits above level {c} exceed "
                                f"{EXACT_VISIT_LIMIT:,}", key="schedule",
                                fix="use the default schedule 'timeloop'")
        return walk(0, (None, _NULL), (0,) * A, all_last & clear_first)[1]

    # -- work of the representative instance ------------------------------------------
    def macs0(self) -> int:
        """Iterations instance 0 (every spatial index 0) runs: its MAC count."""
        out = 1
        for d in self.dims:
            loops = [l for l in self.loops if l.dim == d]

            def cnt(k: int, on_last: bool) -> int:
                if k == len(loops):
                    return 1
                l = loops[k]
                if l.spatial:
                    return cnt(k + 1, on_last and l.last == 1)
                if not on_last:
                    return l.factor * cnt(k + 1, False)
                return (l.last - 1) * cnt(k + 1, False) + cnt(k + 1, True)

            out *= cnt(0, True)
        return out

    def _outer_passes(self, j: int) -> Fraction:
        """Timeloop's count of passes of the loops enclosing loop ``j`` of its dimension
        (their residuals counted as partial passes)."""
        outer = Fraction(1)
        for m in self.loops[:j]:
            if m.dim == self.loops[j].dim:
                outer = m.last + m.factor * (outer - 1)
        return outer

    def sharing_ratio(self, level: int, tensor: Tensor, server: int) -> Fraction:
        """How much more level ``server`` serves a tensor that the imperfect spatial loops
        of ``level`` over other dimensions multicast (or reduce): Timeloop divides by the
        average number of children sharing the data, ``factor / average`` per loop;
        except (as Timeloop's numbers show) for a read-only tensor when the server holds
        every enclosing loop of that dimension itself."""
        r = Fraction(1)
        for j, l in enumerate(self.loops):
            if l.level == level and l.spatial and l.last != l.factor \
                    and l.dim not in tensor.dims \
                    and (tensor.read_write or any(m.dim == l.dim and m.level != server
                                                  for m in self.loops[:j])):
                outer = self._outer_passes(j)
                r *= Fraction(l.factor) * outer / (l.last + l.factor * (outer - 1))
        return r

    def child_ratios(self, server: int, child: int, tensor: Tensor
                     ) -> tuple[Fraction, Fraction]:
        """(fills factor, server factor) for a tensor kept at ``child`` and
        served by ``server``, under imperfect spatial loops on the way (Timeloop's
        accounting, docs/semantics.md): a loop right above the child over a dimension
        the tensor indexes averages the child's fills over the full fanout (``average /
        factor``); a loop further up (levels that bypass the tensor in between) over a
        dimension it does not index (multicast) makes the server's reads grow by
        ``factor / average``."""
        fills, server_r = Fraction(1), Fraction(1)
        for j, l in enumerate(self.loops):
            if not (l.spatial and server <= l.level < child and l.last != l.factor):
                continue
            outer = self._outer_passes(j)
            avg = (l.last + l.factor * (outer - 1)) / outer
            if l.level == child - 1 and l.dim in tensor.dims:
                fills *= avg / l.factor
            elif l.level < child - 1 and l.dim not in tensor.dims:
                server_r *= l.factor / avg
        return fills, server_r

    def utilized(self, c: int) -> float:
        """Instances of level ``c`` in use, averaged over the enclosing same-dimension
        loops of each imperfect spatial loop above it (Timeloop's rule)."""
        u = 1.0
        for j, l in enumerate(self.loops):
            if l.level >= c or not l.spatial:
                continue
            if l.last == l.factor:
                u *= l.factor
                continue
            outer = 1.0
            for m in self.loops[:j]:
                if m.dim == l.dim:
                    outer = m.last + m.factor * (outer - 1)
            u = u * (l.last + l.factor * (outer - 1)) / outer
        return u
