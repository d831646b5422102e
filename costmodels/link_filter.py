"""Which rows of a mapping batch may use inter-PE links: an exact necessary condition of
``links.link_effects`` under Timeloop's schedule, in numpy (docs/semantics.md, "Link
transfers"). The batched evaluator scores only the rows it flags with the scalar model.

A child takes a delta over a link at a visit only when (a) the visit and the one before
both fetch something and the refetch rule gives them the same outcome, and (b) the tile's
move between them equals the corner difference of two mesh neighbours. Under Timeloop's
schedule (indices 0 and 1 of every non-unit temporal loop above the children, outermost
first) the moves are ``w_j = tau_j - sum_{i>j} tau_i``, and the refetch rule's state before
every step of an outer loop is the innermost translation ``T = tau_k``. Every other visit
is a step of loop ``k``, so:

* ``T == 0``: every other visit fetches nothing, so no link is ever used;
* the tile moves off itself at each ``T`` step (zero overlap): every fetching visit takes
  the whole tile, so a link needs some move ``w_j`` (non-zero when a stationary step
  fetches nothing) among the neighbours' corner differences;
* otherwise a ``T`` step fetches a slice, and only an outer step with ``w_j == T`` fetches
  the same slice: a link needs such a ``j`` and ``T`` among the differences.

The neighbours' corner differences depend on the fanout's spatial factors (the mesh
placement), which many rows share: they are computed once per distinct set of factors.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.mapping import Mapping, tile_box
from loopscape.spaces.workload import Workload

from .link_effects_batched import LinkEffectsBatch
from .links import LinkEffect, link_effects
from .nest import loop_steps
from .options import ModelOptions


@lru_cache(maxsize=4096)
def _digit_moves(factors: tuple[int, ...], width: int) -> tuple[tuple[int, ...], ...]:
    """Differences of the spatial indices (outermost loop first) between mesh neighbours:
    children are numbered by their indices in mixed radix and placed row by row, ``width``
    per row; both signs."""
    total = math.prod(factors)

    def digits(n: int) -> tuple[int, ...]:
        out = []
        for f in reversed(factors):
            out.append(n % f)
            n //= f
        return tuple(reversed(out))

    moves = set()
    for n in range(total):
        for m in ((n + 1) if (n + 1) % width else None, n + width):
            if m is not None and m < total:
                d = tuple(a - b for a, b in zip(digits(m), digits(n)))
                moves.add(d)
                moves.add(tuple(-x for x in d))
    return tuple(sorted(moves))


def mapping_link_effects(workload: Workload, arch: Architecture, mapping: Mapping,
                         options: ModelOptions, schedule: str = "timeloop"
                         ) -> dict[tuple[int, str], LinkEffect]:
    """``link_effects`` of one mapping, its inputs derived as ``nest.analyze`` does."""
    n = len(arch.levels)
    loops = loop_steps(mapping, workload.dims)
    temporal_above = [[(d, f, s) for lvl in loops[:c] for d, f, s, sp in lvl if not sp and f > 1]
                      for c in range(n)]
    # extents only below a fanout (the only tiles link_effects looks at)
    extents = [{t.name: t.extents(tile_box(mapping, c, workload.dims)) for t in workload.tensors}
               if c and any(l.factor > 1 for l in mapping.levels[c - 1].spatial) else {}
               for c in range(n)]
    utilized = [1]
    for lvl in loops[:-1]:
        utilized.append(utilized[-1] * math.prod(f for _, f, _, sp in lvl if sp))
    return link_effects(workload, arch, mapping, extents, temporal_above, utilized, schedule,
                        options.keeps_stationary_translation)


class LinkFilter:
    """``flags(batch)``: rows where some fanout's children may take data over links;
    ``effects(batch, rows, options)``: what links change in those rows, for the batched
    model (in numpy, ``link_effects_batched``); ``scalar_effects``: the same from the
    scalar ``link_effects`` row by row (the reference)."""

    def __init__(self, workload: Workload, arch: Architecture, keep_stationary: bool,
                 vectorized: bool = True):
        self.workload, self.arch = workload, arch
        self.vectorized = vectorized
        dims = workload.dims
        self.D, self.L = len(dims), len(arch.levels)
        self.keep_stationary = keep_stationary
        self.fanout = [arch.fanout(i) for i in range(self.L - 1)]
        self.tensors = []  # (index, signed coefficients [A, D], |coefficients| [A, D])
        for ti, t in enumerate(workload.tensors):
            if t.read_write:
                continue
            c = np.zeros((len(t.axes), self.D), dtype=np.int64)
            ac = np.zeros_like(c)
            for a, axis in enumerate(t.axes):
                for k, d in axis:
                    c[a, dims.index(d)] += k
                    ac[a, dims.index(d)] += abs(k)
            self.tensors.append((ti, c, ac))
        self.batched = LinkEffectsBatch(workload, arch, keep_stationary)

    def flags(self, b: MappingBatch) -> np.ndarray:
        N, L, D = len(b), self.L, self.D
        flag = np.zeros(N, dtype=bool)
        if N == 0 or not self.tensors:
            return flag
        tv = b.temporal.astype(np.int64)
        sx = b.spatial_x.astype(np.int64)
        sy = b.spatial_y.astype(np.int64)
        S = sx * sy
        incl = np.ones((N, L + 1, D), dtype=np.int64)  # factors at levels >= l
        for l in range(L - 1, -1, -1):
            incl[:, l] = incl[:, l + 1] * tv[:, l] * S[:, l]
        rank = b.rank.astype(np.int64)
        for i in range(L - 1):
            c = i + 1
            rows = np.nonzero(~flag & (S[:, i] > 1).any(axis=1))[0]
            if len(rows) == 0:
                continue
            M = c * D
            fac = tv[rows, :c].reshape(len(rows), M)
            nonunit = fac > 1
            lvl = np.repeat(np.arange(c), D)[None, :]
            order_key = np.where(nonunit, lvl * D + rank[rows, :c].reshape(len(rows), M), 1 << 40)
            order = np.argsort(order_key, axis=1, kind="stable")
            cnt = nonunit.sum(axis=1)
            steps = (incl[rows, 1:c + 1] * S[rows, :c]).reshape(len(rows), M)
            steps = np.take_along_axis(steps, order, axis=1)
            dim_of = np.take_along_axis(np.broadcast_to(np.tile(np.arange(D), c), fac.shape),
                                        order, axis=1)
            valid = np.arange(M)[None, :] < cnt[:, None]
            steps = np.where(valid, steps, 0)
            last = np.maximum(cnt - 1, 0)
            box = incl[rows, c]
            base = incl[rows, c]  # steps of the fanout's loops below them
            hit = np.zeros(len(rows), dtype=bool)
            for k, (ti, coef, acoef) in enumerate(self.tensors):
                sel = cnt > 0
                if not sel.any():
                    continue
                tau = coef.T[dim_of] * steps[:, :, None]  # [n, M, A]
                suffix = np.cumsum(tau[:, ::-1], axis=1)[:, ::-1]
                w = tau - (suffix - tau)  # tau_j minus the translations inside loop j
                T = tau[np.arange(len(rows)), last]  # [n, A]
                ext = 1 + (box - 1) @ acoef.T  # [n, A]
                moving = T.any(axis=1)
                off_tile = (np.abs(T) >= ext).any(axis=1)
                inner = np.arange(M)[None, :] < last[:, None]
                same = (w == T[:, None, :]).all(axis=2) & inner
                cand = np.where(off_tile[:, None],
                                valid & (w.any(axis=2) | (not self.keep_stationary)),
                                (np.arange(M)[None, :] == last[:, None]) & same.any(axis=1)[:, None])
                cand &= (sel & moving & ~hit)[:, None]
                todo = np.nonzero(cand.any(axis=1))[0]
                if len(todo):
                    hit[todo[self._neighbour_match(sy[rows[todo], i], sx[rows[todo], i],
                                                   base[todo], coef, w[todo], cand[todo], i)]] = True
            flag[rows[hit]] = True
        return flag

    def effects(self, b: MappingBatch, rows: np.ndarray, options: ModelOptions) -> dict:
        """Per (child level, tensor index): arrays over ``rows`` of the parent's saved
        words, the child's fills and added reads with links, whether they apply, and the
        numerator and denominator (0: none) of ``bypass_ratio``: in numpy, or with
        ``vectorized=False`` from ``scalar_effects``."""
        if self.vectorized:
            return self.batched.effects(b, rows)
        return self.scalar_effects(b, rows, options)

    def scalar_effects(self, b: MappingBatch, rows: np.ndarray, options: ModelOptions
                       ) -> dict:
        """``effects`` from the scalar ``link_effects``, one row at a time (the reference)."""
        names = self.workload.tensor_names
        n = len(rows)
        out: dict = {}
        for k, r in enumerate(rows.tolist()):
            m = decode(self.workload, self.arch, b, r)
            for (c, t), e in mapping_link_effects(self.workload, self.arch, m, options).items():
                key = (c, names.index(t))
                if key not in out:
                    out[key] = [np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                                np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                                np.zeros(n, dtype=object), np.zeros(n, dtype=object)]
                v = out[key]
                if e.bypass_ratio is not None:  # the children bypass the tensor
                    v[4][k], v[5][k] = e.bypass_ratio.numerator, e.bypass_ratio.denominator
                else:
                    v[0][k], v[1][k], v[2][k], v[3][k] = \
                        e.saved_words, e.fills, e.extra_reads, True
        return out

    def _neighbour_match(self, sy, sx, base, coef, w, cand, i) -> np.ndarray:
        """Rows where some candidate move ``w[r, j]`` (``cand[r, j]``) equals the corner
        difference of two mesh neighbours of fanout ``i``."""
        out = np.zeros(len(sy), dtype=bool)
        keys, inverse = np.unique(np.concatenate([sy, sx], axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        fx, fy = self.fanout[i]
        D = self.D
        for g, key in enumerate(keys.tolist()):
            loops = [(d, f) for d, f in enumerate(key[:D]) if f > 1] + \
                    [(d, f) for d, f in enumerate(key[D:]) if f > 1]
            lx = math.prod(f for f in key[D:])
            inner = [math.prod(f for dd, f in loops[a + 1:] if dd == d)
                     for a, (d, _) in enumerate(loops)]
            moves = np.array(_digit_moves(tuple(f for _, f in loops), max(fx, lx)),
                             dtype=np.int64)  # [K, s]
            r = np.nonzero(inverse == g)[0]
            # point move of each digit move, per row: [n, K, D]
            unit = np.zeros((len(r), len(loops), D), dtype=np.int64)
            for a, (d, _) in enumerate(loops):
                unit[:, a, d] = inner[a] * base[r, d]
            diffs = np.einsum("ks,nsd,ad->nka", moves, unit, coef)
            eq = (w[r][:, :, None, :] == diffs[:, None, :, :]).all(axis=3).any(axis=2)
            out[r] = (eq & cand[r]).any(axis=1)
        return out


def bypass_served(served: np.ndarray, child_served, num: np.ndarray, den: np.ndarray
                  ) -> np.ndarray:
    """``served`` with the rows where ``den`` > 0 replaced by the words the parent serves
    to children that bypass the tensor and used links (``links.bypass_served``): the
    children's words times ``num / den``, truncated, in exact integers."""
    rows = np.nonzero(den != 0)[0]
    out = np.array(np.broadcast_to(served, den.shape), dtype=np.int64)
    child = np.broadcast_to(child_served, den.shape)
    for r in rows.tolist():
        out[r] = int(child[r]) * int(num[r]) // int(den[r])
    return out
