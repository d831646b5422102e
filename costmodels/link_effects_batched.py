"""Link transfers (``links.link_effects``) for many mapping rows at once, in numpy
(docs/semantics.md, "Link transfers"); the scalar ``link_effects`` stays the reference.

Under Timeloop's schedule the visits of the non-unit temporal loops above a fanout's
children (outermost first, innermost ``k``) fall into a few classes, each with one tile
move and one refetch outcome (``links._deltas``): a step of loop ``j`` moves the tile by
``w_j = tau_j - sum_{i>j} tau_i``, and the remembered translation before it is
``T = tau_k``. With ``S`` the tile's words and ``K`` the words a ``T`` step fetches:

* the first visit (weight 1) fetches ``S``, never from a neighbour;
* a step of ``k`` after it (weight ``f_k - 1``) fetches ``K``; it repeats the previous
  outcome only when ``T`` moves the tile off itself (``K == S``);
* a step of ``j < k`` (weight ``(f_j - 1) * prod_{i<j} f_i``) fetches nothing when it is
  stationary and the semantics keeps the translation, ``K`` when ``w_j == T``, else
  ``S``; it repeats the outcome when it fetches and ``w_j == T`` or ``K == S``; the steps
  of ``k`` after it (its weight times ``f_k - 1``) fetch ``K`` and repeat when it did.

When a visit repeats the previous outcome, a child whose mesh neighbour's corner is its
own plus the move takes its delta over the link; the parent serves the distinct corners
of the other children. Those counts depend only on the move and the children's corners,
which rows sharing the fanout's spatial factors compute together.
"""

from __future__ import annotations

import math

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.workload import Workload

from .links import mesh


def nest_loops(b: MappingBatch, rows: np.ndarray, c: int, incl: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The non-unit temporal loops above level ``c`` of ``rows``, outermost first (level by
    level, each level's loops by rank), left-aligned in ``M = c * D`` slots:
    (factors [n, M], steps [n, M], dim index [n, M], count [n]); unused slots have factor 1
    and step 0. ``incl[r, l, d]``: the factors of dim d at levels >= l of row ``rows[r]``."""
    n, D = len(rows), b.temporal.shape[2]
    M = c * D
    fac = b.temporal[rows, :c].astype(np.int64).reshape(n, M)
    nonunit = fac > 1
    lvl = np.repeat(np.arange(c), D)[None, :]
    key = np.where(nonunit, lvl * D + b.rank[rows, :c].astype(np.int64).reshape(n, M), 1 << 40)
    order = np.argsort(key, axis=1, kind="stable")
    cnt = nonunit.sum(axis=1)
    S = (b.spatial_x[rows, :c] * b.spatial_y[rows, :c]).astype(np.int64)
    steps = (incl[:, 1:c + 1] * S).reshape(n, M)
    valid = np.arange(M)[None, :] < cnt[:, None]
    steps = np.where(valid, np.take_along_axis(steps, order, axis=1), 0)
    fac = np.where(valid, np.take_along_axis(fac, order, axis=1), 1)
    dim_of = np.take_along_axis(np.broadcast_to(np.tile(np.arange(D), c), (n, M)), order, axis=1)
    return fac, steps, dim_of, cnt


def _distinct(ids: np.ndarray, drop: np.ndarray | None = None) -> np.ndarray:
    """Distinct non-negative values along the last axis, ignoring ``drop`` entries."""
    x = ids if drop is None else np.where(drop, -1, ids)
    s = np.sort(x, axis=-1)
    new = np.ones(s.shape, dtype=bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    return (new & (s >= 0)).sum(axis=-1)


class _Mesh:
    """The children of one set of spatial factors (loops outermost first) on a mesh
    ``width`` wide: their spatial indices, the distinct index differences between
    neighbours, and per difference which children have a neighbour that far."""

    def __init__(self, factors: tuple[int, ...], width: int):
        self.digits, pairs = mesh(factors, width)
        self.n = len(self.digits)
        diff = self.digits[pairs[:, 1]] - self.digits[pairs[:, 0]]
        self.moves, cls = np.unique(diff, axis=0, return_inverse=True)
        self.has = np.zeros((len(self.moves), self.n), dtype=bool)  # [K, children]
        self.has[cls.reshape(-1), pairs[:, 0]] = True


class LinkEffectsBatch:
    """``effects(b, rows)``: what link transfers change in ``rows`` of a batch, for the
    batched model, equal to ``links.link_effects`` under Timeloop's schedule."""

    def __init__(self, workload: Workload, arch: Architecture, keep_stationary: bool):
        self.D, self.L = len(workload.dims), len(arch.levels)
        self.keep_stationary = keep_stationary
        self.width = [arch.fanout(i)[0] for i in range(self.L - 1)]
        self.tensors = []  # (index, signed coefficients [A, D], |coefficients| [A, D])
        for ti, t in enumerate(workload.tensors):
            if t.read_write:
                continue
            c = np.zeros((len(t.axes), self.D), dtype=np.int64)
            ac = np.zeros_like(c)
            for a, axis in enumerate(t.axes):
                for k, d in axis:
                    c[a, workload.dims.index(d)] += k
                    ac[a, workload.dims.index(d)] += abs(k)
            self.tensors.append((ti, c, ac))
        self.meshes: dict[tuple, _Mesh] = {}

    def _mesh(self, factors: tuple[int, ...], width: int) -> _Mesh:
        key = (factors, width)
        if key not in self.meshes:
            self.meshes[key] = _Mesh(factors, width)
        return self.meshes[key]

    def effects(self, b: MappingBatch, rows: np.ndarray) -> dict:
        """Per (child level, tensor index): arrays over ``rows`` of the parent's saved
        words, the child's fills and added reads with links, whether they apply, and the
        numerator and denominator of ``bypass_ratio`` (0: none)."""
        rows = np.asarray(rows, dtype=np.int64)
        n, L, D = len(rows), self.L, self.D
        out: dict = {}
        if n == 0 or not self.tensors:
            return out
        S = (b.spatial_x[rows] * b.spatial_y[rows]).astype(np.int64)  # [n, L, D]
        incl = np.ones((n, L + 1, D), dtype=np.int64)  # factors at levels >= l
        for l in range(L - 1, -1, -1):
            incl[:, l] = incl[:, l + 1] * b.temporal[rows, l].astype(np.int64) * S[:, l]
        utilized = np.cumprod(np.concatenate([np.ones((n, 1), dtype=np.int64),
                                              S.prod(axis=2)], axis=1), axis=1)  # [n, L+1]
        for i in range(L - 1):
            c = i + 1
            sel = np.nonzero((S[:, i] > 1).any(axis=1))[0]
            if len(sel) == 0:
                continue
            fac, steps, dim_of, cnt = nest_loops(b, rows[sel], c, incl[sel])
            has_loops = cnt > 0
            sel, fac, steps, dim_of, cnt = (x[has_loops] for x in (sel, fac, steps, dim_of, cnt))
            if len(sel) == 0:
                continue
            r_all = rows[sel]
            key = np.concatenate([b.spatial_y[r_all, i], b.spatial_x[r_all, i]], axis=1)
            keys, inverse = np.unique(key, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            for g, kk in enumerate(keys.tolist()):
                loops = [(d, f) for d, f in enumerate(kk[:D]) if f > 1] + \
                        [(d, f) for d, f in enumerate(kk[D:]) if f > 1]
                lx = math.prod(kk[D:])
                m = self._mesh(tuple(f for _, f in loops), max(self.width[i], lx))
                inner = [math.prod(f for dd, f in loops[a + 1:] if dd == d)
                         for a, (d, _) in enumerate(loops)]
                gi = np.nonzero(inverse == g)[0]
                sg = sel[gi]
                for ti, coef, acoef in self.tensors:
                    res = self._fanout(m, loops, inner, coef, acoef, incl[sg, c],
                                       fac[gi], steps[gi], dim_of[gi], cnt[gi])
                    if res is None:
                        continue
                    hit, without, with_, links, pfn = res
                    self._store(out, (c, ti), sg[hit], without[hit], with_[hit], links[hit],
                                pfn[hit], m.n, utilized[sg[hit], c],
                                b.keep[rows[sg[hit]], c, ti], n)
        return out

    def _fanout(self, m: _Mesh, loops, inner, coef, acoef, box, fac, steps, dim_of, cnt):
        """Words served by the parent without and with links, link words and the parent's
        fills times the children (numpy over rows sharing the spatial factors ``loops``);
        None when no row uses a link."""
        R, M = fac.shape
        ar = np.arange(R)
        # children's corners: spatial index times the point move of each loop
        unit = np.zeros((R, len(loops), coef.shape[0]), dtype=np.int64)
        for a, (d, _) in enumerate(loops):
            unit[:, a, :] = (inner[a] * box[:, d])[:, None] * coef[:, d][None, :]
        offsets = np.einsum("ks,rsa->rka", m.digits, unit)  # [R, n, A]
        lo = offsets.min(axis=1)
        span = offsets.max(axis=1) - lo + 1
        radix = np.cumprod(np.concatenate([np.ones((R, 1), dtype=np.int64), span[:, :-1]],
                                          axis=1), axis=1)
        cid = ((offsets - lo[:, None, :]) * radix[:, None, :]).sum(axis=2)  # [R, n]
        nb = np.einsum("ks,rsa->rka", m.moves, unit)  # neighbour corner differences [R, K, A]
        # tile moves and refetch outcomes of the visit classes
        tau = coef.T[dim_of] * steps[:, :, None]  # [R, M, A]
        suffix = np.cumsum(tau[:, ::-1], axis=1)[:, ::-1]
        w = 2 * tau - suffix
        last = cnt - 1
        T = tau[ar, last]
        moving = T.any(axis=1)
        if not moving.any():
            return None
        ext = 1 + (box - 1) @ acoef.T
        size = ext.prod(axis=1)
        kept = np.clip(ext - np.abs(T), 0, None).prod(axis=1)
        off = kept == 0  # a T step refetches the whole tile
        K = size - kept
        jv = (np.arange(M)[None, :] < last[:, None]) & moving[:, None]
        isT = (w == T[:, None, :]).all(axis=2)
        got = np.where(isT, K[:, None], size[:, None])
        if self.keep_stationary:
            got = np.where(w.any(axis=2), got, 0)
        got = got * jv
        same = (got > 0) & (isT | off[:, None])
        outer = np.cumprod(np.concatenate([np.ones((R, 1), dtype=np.int64), fac[:, :-1]],
                                          axis=1), axis=1)
        W = (fac - 1) * outer * jv
        fk = fac[ar, last]
        # which visit classes may link: moves w_j (j < k) and T
        cand = np.concatenate([w, T[:, None, :]], axis=1)  # [R, M + 1, A]
        need = np.concatenate([same, (moving & (off | same.any(axis=1)))[:, None]], axis=1)
        G = _distinct(cid)
        n_linked = np.zeros((R, M + 1), dtype=np.int64)
        rest = np.broadcast_to(G[:, None], (R, M + 1)).copy()
        rr, cc = np.nonzero(need)
        if len(rr) == 0:
            return None
        match = (nb[rr][:, :, :] == cand[rr, cc][:, None, :]).all(axis=2)  # [Q, K]
        q = np.nonzero(match.any(axis=1))[0]
        if len(q) == 0:
            return None
        rr, cc, match = rr[q], cc[q], match[q]
        ks = (match.astype(np.int64) @ m.has.astype(np.int64)) > 0  # [Q, children]
        n_linked[rr, cc] = ks.sum(axis=1)
        rest[rr, cc] = _distinct(cid[rr], ks)
        use = need & (rest < G[:, None])
        nl = np.where(use, n_linked, 0)
        rs = np.where(use, rest, G[:, None])
        n = m.n
        # weights times words fetched per class, and the class's candidate column
        wk = (fk - 1) * K * moving  # steps of k after the first visit: T, if off
        wj = W * got  # steps of j: w_j
        wkj = W * ((fk - 1) * K)[:, None] * jv  # steps of k after a step of j: T, if j repeated
        use_kj = same & use[:, M:M + 1]
        nl_T, rs_T = nl[:, M], rs[:, M]
        k_used = off & use[:, M]
        total = wk + wj.sum(axis=1) + wkj.sum(axis=1)
        without = size * G + total * G
        with_ = size * G + wk * np.where(k_used, rs_T, G) + (wj * rs[:, :M]).sum(axis=1) + \
            (wkj * np.where(use_kj, rs_T[:, None], G[:, None])).sum(axis=1)
        links = wk * np.where(k_used, nl_T, 0) + (wj * nl[:, :M]).sum(axis=1) + \
            (wkj * np.where(use_kj, nl_T[:, None], 0)).sum(axis=1)
        pfn = size * n + total * n - (wk * np.where(k_used, nl_T, 0)) - \
            (wj * nl[:, :M]).sum(axis=1) - (wkj * np.where(use_kj, nl_T[:, None], 0)).sum(axis=1)
        hit = np.nonzero(links > 0)[0]
        if len(hit) == 0:
            return None
        return hit, without, with_, links, pfn

    @staticmethod
    def _store(out, key, at, without, with_, links, pfn, n, utilized, keep, n_rows) -> None:
        """Write one (child level, tensor)'s effects at positions ``at`` of ``out[key]``
        (exact integers: Timeloop's averages, floored or rounded as ``links`` does)."""
        if key not in out:
            out[key] = [np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=np.int64),
                        np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=bool),
                        np.zeros(n_rows, dtype=object), np.zeros(n_rows, dtype=object)]
        v = out[key]
        byp = ~keep
        if byp.any():  # the children bypass the tensor: the parent's words per child word
            v[4][at[byp]] = with_[byp].astype(object) * n
            v[5][at[byp]] = pfn[byp].astype(object)
        k = keep
        if k.any():
            lk, u, p = links[k].astype(object), utilized[k].astype(object), pfn[k].astype(object)
            v[0][at[k]] = without[k] - with_[k]
            v[1][at[k]] = np.array((p * u + lk * n) // (u * n), dtype=np.int64)
            v[2][at[k]] = np.array((2 * lk + u) // (2 * u), dtype=np.int64)
            v[3][at[k]] = True
