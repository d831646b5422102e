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
of the other children. So a row can use links only if some repeating class's move equals
a corner difference of two mesh neighbours (``candidates``, an exact necessary condition;
moves are compared as one integer code each). Only those rows have their children's
corners counted, rows sharing the fanout's spatial factors (and so the mesh) together.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.workload import Workload

from .links import mesh


def _nest_loops(b: MappingBatch, rows: np.ndarray, c: int, incl: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The non-unit temporal loops above level ``c`` of ``rows``, outermost first (level by
    level, each level's loops by rank), left-aligned in as many slots as the most loops of
    a row: (factors [n, M], steps [n, M], dim index [n, M], count [n]); unused slots have
    factor 1 and step 0. ``incl[r, l, d]``: the factors of dim d at levels >= l of row
    ``rows[r]``."""
    n, D = len(rows), b.temporal.shape[2]
    fac = b.temporal[rows, :c].astype(np.int64).reshape(n, c * D)
    nonunit = fac > 1
    cnt = np.count_nonzero(nonunit, axis=1)
    M = max(1, int(cnt.max(initial=0)))
    key = np.where(nonunit, np.repeat(np.arange(c) * D, D)[None, :] +
                   b.rank[rows, :c].reshape(n, c * D), c * D)
    order = np.argsort(key.astype(np.int16 if c * D < 1 << 15 else np.int64), axis=1,
                       kind="stable")[:, :M]
    S = (b.spatial_x[rows, :c] * b.spatial_y[rows, :c]).astype(np.int64)
    valid = np.arange(M)[None, :] < cnt[:, None]
    steps = np.where(valid, np.take_along_axis((incl[:, 1:c + 1] * S).reshape(n, c * D),
                                               order, axis=1), 0)
    fac = np.where(valid, np.take_along_axis(fac, order, axis=1), 1)
    return fac, steps, order % D, cnt


def _distinct(ids: np.ndarray, drop: np.ndarray | None = None) -> np.ndarray:
    """Distinct non-negative values along the last axis, ignoring ``drop`` entries."""
    x = ids if drop is None else np.where(drop, -1, ids)
    s = np.sort(x, axis=-1)
    new = np.ones(s.shape, dtype=bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    return (new & (s >= 0)).sum(axis=-1)


def _codes(bound: np.ndarray) -> np.ndarray:
    """Weights [A, G] such that ``v @ weights`` is zero only for ``v == 0`` among integer
    vectors with ``|v[a]| <= bound[a]`` (mixed radix, a new column when one would not fit
    in 62 bits): moves are compared by their G codes (usually one) instead of A entries."""
    cols: list[list[int]] = []
    radix = 1 << 62
    for a, bnd in enumerate(bound.tolist()):
        base = 2 * int(bnd) + 1
        if radix * base >= 1 << 62:
            cols.append([0] * len(bound))
            radix = 1
        cols[-1][a] = radix
        radix *= base
    return np.array(cols, dtype=np.int64).T


_NO_MOVE = np.iinfo(np.int64).max  # a code no move has (codes stay below 2**62)


def _column_product(x: np.ndarray) -> np.ndarray:
    """Product of the few columns of a 2-D array (faster than ``prod(axis=1)``)."""
    out = x[:, 0].copy()
    for a in range(1, x.shape[1]):
        out *= x[:, a]
    return out


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equality of codes along the last axis (broadcast)."""
    return a[..., 0] == b[..., 0] if a.shape[-1] == 1 == b.shape[-1] else (a == b).all(axis=-1)


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an integer array and each row's index among them (one
    integer per row in mixed radix when it fits, else ``np.unique`` over rows)."""
    lo = key.min(axis=0)
    cols = np.nonzero(key.max(axis=0) > lo)[0]  # the columns that vary
    radix = key[:, cols].max(axis=0) - lo[cols] + 1
    if math.prod(radix.tolist()) < 1 << 62:
        code = (key[:, cols] - lo[cols]) @ np.cumprod(np.concatenate([[1], radix]))[:-1]
        _, first, kid = np.unique(code, return_index=True, return_inverse=True)
        return key[first], kid.reshape(-1)
    keys, kid = np.unique(key, axis=0, return_inverse=True)
    return keys, kid.reshape(-1)


_CHUNK_ROWS = 2048  # rows scanned at once (their arrays stay in cache)
_CHUNK_WORDS = 1 << 18  # rows x children counted at once (bounds memory on big arrays)


def _corners(digits, unit, match, has, row):
    """For rows whose children have spatial indices ``digits`` [n, s] and whose slots
    move the corner by ``unit`` [r, s, A]: the distinct corners of each row's children,
    and for each candidate move q (of row ``row[q]``; ``match[q]``: the neighbour moves
    it equals; ``has``: which children have a neighbour at each move) the children that
    take it over a link and the distinct corners of the others."""
    offsets = np.einsum("ns,rsa->rna", digits, unit)  # [r, n, A]
    lo = offsets.min(axis=1)
    span = offsets.max(axis=1) - lo + 1
    radix = np.cumprod(np.concatenate([np.ones((len(offsets), 1), dtype=np.int64),
                                       span[:, :-1]], axis=1), axis=1)
    cid = ((offsets - lo[:, None, :]) * radix[:, None, :]).sum(axis=2)  # [r, n]
    qi, ki = np.nonzero(match[:, :len(has)])
    linked = np.zeros((len(match), len(digits)), dtype=bool)
    np.logical_or.at(linked, qi, has[ki])
    return _distinct(cid), linked.sum(axis=1), _distinct(cid[row], linked)


@lru_cache(maxsize=64)
def _children(factors: tuple[int, ...], width: int):
    """The children of a fanout with spatial loops ``factors`` (outermost first) on a mesh
    ``width`` wide: their spatial indices [n, loops], the distinct index differences
    between mesh neighbours [K, loops], and which children have a neighbour at each
    [K, n]. Few are kept: on big arrays they are large."""
    digits, pairs = mesh(factors, width)
    moves, cls = _distinct_rows(digits[pairs[:, 1]] - digits[pairs[:, 0]])
    has = np.zeros((len(moves), len(digits)), dtype=bool)
    has[cls, pairs[:, 0]] = True
    return digits, moves, has


class _Meshes:
    """Per fanout, the neighbour moves of every set of spatial factors seen (a row's Y
    factors then X factors per dim, ``2D`` slots), stacked and padded for the sets of a
    batch; and the children of one set (``_children``)."""

    def __init__(self, D: int, width: int):
        self.D, self.width, self.cache = D, width, {}

    def _loops(self, key: tuple[int, ...]) -> tuple[list[int], tuple[int, ...], int]:
        slots = [s for s in range(2 * self.D) if key[s] > 1]
        return slots, tuple(key[s] for s in slots), max(self.width, math.prod(key[self.D:]))

    def _moves(self, key: tuple[int, ...]) -> np.ndarray:
        if key not in self.cache:
            slots, factors, width = self._loops(key)
            moves = np.zeros((len(_children(factors, width)[1]), 2 * self.D), dtype=np.int64)
            moves[:, slots] = _children(factors, width)[1]
            self.cache[key] = moves
        return self.cache[key]

    def stack(self, keys: np.ndarray):
        """For the distinct ``keys`` [U, 2D]: the slots ``s`` some key uses, the neighbour
        moves [U, K, s] with a validity mask [U, K] (padding: zeros, False), and per key
        its children's count [U] and a function giving their indices [n, s] and which
        of them have a neighbour at each of its moves [K_u, n]."""
        keys_t = [tuple(k) for k in keys.tolist()]
        ones = [self._moves(k) for k in keys_t]
        slots = np.nonzero((keys > 1).any(axis=0))[0]
        K = max(len(o) for o in ones)
        moves = np.zeros((len(ones), K, len(slots)), dtype=np.int64)
        mvalid = np.zeros((len(ones), K), dtype=bool)
        for u, mv in enumerate(ones):
            moves[u, :len(mv)], mvalid[u, :len(mv)] = mv[:, slots], True

        def children(u: int) -> tuple[np.ndarray, np.ndarray]:
            own, factors, width = self._loops(keys_t[u])
            digits, _, has = _children(factors, width)
            full = np.zeros((len(digits), len(slots)), dtype=np.int64)
            full[:, np.searchsorted(slots, own)] = digits
            return full, has

        return slots, moves, mvalid, keys.prod(axis=1), children


class LinkEffectsBatch:
    """``effects(b, rows)``: what link transfers change in ``rows`` of a batch, for the
    batched model, equal to ``links.link_effects`` under Timeloop's schedule;
    ``candidates(b)``: the rows where some visit may take data over a link (an exact
    necessary condition, much cheaper: the children's corners are not counted)."""

    def __init__(self, workload: Workload, arch: Architecture, keep_stationary: bool):
        self.D, self.L = len(workload.dims), len(arch.levels)
        self.keep_stationary = keep_stationary
        self.meshes = [_Meshes(self.D, arch.fanout(i)[0]) for i in range(self.L - 1)]
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

    def candidates(self, b: MappingBatch) -> np.ndarray:
        """Per row of ``b``: whether some visit may take data over a link."""
        flag = np.zeros(len(b), dtype=bool)
        for s in range(0, len(b), _CHUNK_ROWS):
            self._scan(b, np.arange(s, min(len(b), s + _CHUNK_ROWS)), flag, None)
        return flag

    def effects(self, b: MappingBatch, rows: np.ndarray) -> dict:
        """Per (child level, tensor index): arrays over ``rows`` of the parent's saved
        words, the child's fills and added reads with links, whether they apply, and the
        numerator and denominator of ``bypass_ratio`` (0: none)."""
        out: dict = {}
        rows = np.asarray(rows, dtype=np.int64)
        for s in range(0, len(rows), _CHUNK_ROWS):
            self._scan(b, rows[s:s + _CHUNK_ROWS], None, out, s, len(rows))
        return out

    def _scan(self, b: MappingBatch, rows: np.ndarray, flag, out, first: int = 0,
              total: int = 0) -> None:
        """Every fanout and tensor of ``rows``: mark ``flag[r]`` (batch rows) where a visit
        may link (then skip the row's later fanouts), or store the effects in ``out`` at
        positions ``first + k`` of arrays of ``total`` entries."""
        n, L, D = len(rows), self.L, self.D
        if n == 0 or not self.tensors:
            return
        S = (b.spatial_x[rows] * b.spatial_y[rows]).astype(np.int64)  # [n, L, D]
        incl = np.ones((n, L + 1, D), dtype=np.int64)  # factors at levels >= l
        for l in range(L - 1, -1, -1):
            incl[:, l] = incl[:, l + 1] * b.temporal[rows, l].astype(np.int64) * S[:, l]
        # every move is a difference of two corners of a tensor's whole extents
        codes_t = [_codes(2 * (1 + (incl[:, 0] - 1) @ acoef.T).max(axis=0))
                   for _, _, acoef in self.tensors]
        fanouts = [i for i in range(L - 1) if (S[:, i] > 1).any()]
        if not fanouts:
            return
        # the temporal loops above the deepest fanout's children, in nest order: those
        # above a fanout's children are the first ``counts[:, c]`` of them
        nest = _nest_loops(b, rows, fanouts[-1] + 1, incl)
        counts = np.concatenate([np.zeros((n, 1), dtype=np.int64), np.cumsum(
            (b.temporal[rows, :fanouts[-1] + 1] > 1).sum(axis=2), axis=1)], axis=1)
        for i in fanouts:
            c = i + 1
            act = (S[:, i] > 1).any(axis=1) & (counts[:, c] > 0)
            if flag is not None:
                act &= ~flag[rows]
            sel = np.nonzero(act)[0]
            if len(sel) == 0:
                continue
            cnt = counts[sel, c]
            M = int(cnt.max())
            valid = np.arange(M)[None, :] < cnt[:, None]
            fac = np.where(valid, nest[0][sel, :M], 1)
            steps = np.where(valid, nest[1][sel, :M], 0)
            dim_of = nest[2][sel, :M]
            key = np.concatenate([b.spatial_y[rows[sel], i], b.spatial_x[rows[sel], i]],
                                 axis=1).astype(np.int64)
            keys, kid = _distinct_rows(key)
            tables = self.meshes[i].stack(keys)
            # the point move of one step of each spatial slot: Y slots step over the X
            # loop of the same dim
            box = incl[sel, c]
            slot_step = np.concatenate([box * key[:, D:], box], axis=1)[:, tables[0]]
            for (ti, coef, acoef), codes in zip(self.tensors, codes_t):
                live = np.ones(len(sel), dtype=bool) if flag is None else ~flag[rows[sel]]
                res = self._fanout(tables, kid, slot_step, coef, acoef, codes, box, fac,
                                   steps, dim_of, cnt, live, flag is not None)
                if res is None:
                    continue
                if flag is not None:
                    flag[rows[sel[res]]] = True
                    continue
                hit, without, with_, links, pfn, nchild = res
                at = sel[hit]
                self._store(out, (c, ti), first + at, without, with_, links, pfn, nchild,
                            S[at, :c].prod(axis=(1, 2)), b.keep[rows[at], c, ti], total)

    def _fanout(self, tables, kid, slot_step, coef, acoef, codes, box, fac, steps, dim_of,
                cnt, live, flags_only):
        """One fanout and tensor over rows with spatial factors ``kid`` (into ``tables``):
        with ``flags_only`` the rows where some visit may link, else (rows using links,
        and per such row the words served by the parent without and with links, link
        words, the parent's fills times the children, the children); None: no row."""
        slots, moves_t, mvalid_t, count_t, per_key = tables
        # moves compared as codes (``_codes``): [.., G] integers per move
        cw = coef.T @ codes  # [D, G]
        cw_slots = cw[slots % self.D]
        # only rows whose innermost loop moves the tile can link
        last = cnt - 1
        ar = np.arange(len(fac))
        Tc = cw[dim_of[ar, last]] * steps[ar, last][:, None]  # [R, G]
        idx = np.nonzero(Tc.any(axis=1) & live)[0]
        if len(idx) == 0:
            return None
        kid, slot_step, box, fac, steps, dim_of, last, Tc = (
            x[idx] for x in (kid, slot_step, box, fac, steps, dim_of, last, Tc))
        R, M = fac.shape
        ar = np.arange(R)
        T = coef.T[dim_of[ar, last]] * steps[ar, last][:, None]  # [R, A]
        # tile moves and refetch outcomes of the visit classes
        tau = cw[dim_of] * steps[:, :, None]  # [R, M, G]
        w = 2 * tau - np.cumsum(tau[:, ::-1], axis=1)[:, ::-1]  # tau_j - sum_{i>j} tau_i
        ext = 1 + (box - 1) @ acoef.T
        size = _column_product(ext)
        kept = _column_product(np.clip(ext - np.abs(T), 0, None))
        off = kept == 0  # a T step refetches the whole tile
        K = size - kept
        jv = np.arange(M)[None, :] < last[:, None]
        isT = _equal(w, Tc[:, None, :])
        got = np.where(isT, K[:, None], size[:, None])
        if self.keep_stationary:
            got = np.where(w.any(axis=2), got, 0)
        got = got * jv
        same = (got > 0) & (isT | off[:, None])
        # which visit classes may link: moves w_j (j < k), and T
        need = np.concatenate([same, (off | same.any(axis=1))[:, None]], axis=1)
        rows_n = np.nonzero(need.any(axis=1))[0]
        if len(rows_n) == 0:
            return None
        cand = np.concatenate([w[rows_n], Tc[rows_n][:, None, :]], axis=1)  # [Rn, M + 1, G]
        # neighbours' corner differences of those rows: [Rn, K, G]
        mv, step = moves_t[kid[rows_n]], slot_step[rows_n]
        nb = sum(mv[:, :, s, None] * (step[:, s, None] * cw_slots[s])[:, None, :]
                 for s in range(mv.shape[2]))
        nb = np.where(mvalid_t[kid[rows_n]][:, :, None], nb, _NO_MOVE)  # padding never matches
        hit = np.zeros(cand.shape[:2], dtype=bool)  # [Rn, M + 1]: equals some move
        for k in range(nb.shape[1]):
            hit |= _equal(cand, nb[:, None, k, :])
        qr, cc = np.nonzero(hit & need[rows_n])
        if len(qr) == 0:
            return None
        rr = rows_n[qr]
        if flags_only:
            return idx[np.unique(rr)]
        match = _equal(nb[qr], cand[qr, cc][:, None, :])  # [Q, K]
        # per row with a linking candidate: its children's distinct corners, and per
        # candidate the children that link and the distinct corners of the others (rows
        # grouped by spatial factors, which share the children)
        G = np.zeros(R, dtype=np.int64)
        n_linked = np.zeros((R, M + 1), dtype=np.int64)
        rest = np.zeros((R, M + 1), dtype=np.int64)
        unit = coef.T[slots % self.D]  # [s, A]
        for u in np.unique(kid[rr]).tolist():
            digits, has = per_key(u)
            qs = np.nonzero(kid[rr] == u)[0]
            rows_u, back = np.unique(rr[qs], return_inverse=True)
            back = back.reshape(-1)
            chunk = max(1, _CHUNK_WORDS // len(digits))
            for lo in range(0, len(rows_u), chunk):
                part = rows_u[lo:lo + chunk]
                sel = np.nonzero((back >= lo) & (back < lo + chunk))[0]
                q = qs[sel]
                g, nl_q, rest_q = _corners(digits, slot_step[part][:, :, None] * unit[None],
                                           match[q], has, back[sel] - lo)
                G[part] = g
                n_linked[rr[q], cc[q]] = nl_q
                rest[rr[q], cc[q]] = rest_q
        rest = np.where(n_linked > 0, rest, G[:, None])
        # per row: weights times words fetched of each visit class
        use = rest < G[:, None]
        nl = np.where(use, n_linked, 0)
        rs = np.where(use, rest, G[:, None])
        fk = fac[ar, last]
        outer = np.cumprod(np.concatenate([np.ones((R, 1), dtype=np.int64), fac[:, :-1]],
                                          axis=1), axis=1)
        W = (fac - 1) * outer * jv
        wk = (fk - 1) * K  # steps of k after the first visit: move T, if off
        wj = W * got  # steps of j: move w_j, if it repeats
        wkj = W * ((fk - 1) * K)[:, None]  # steps of k after one of j: T, if j repeated
        k_used = off & use[:, M]
        kj_used = same & use[:, M:M + 1]
        nl_T, rs_T = nl[:, M], rs[:, M]
        total = wk + wj.sum(axis=1) + wkj.sum(axis=1)
        without = (size + total) * G
        with_ = size * G + wk * np.where(k_used, rs_T, G) + (wj * rs[:, :M]).sum(axis=1) + \
            (wkj * np.where(kj_used, rs_T[:, None], G[:, None])).sum(axis=1)
        links = wk * np.where(k_used, nl_T, 0) + (wj * nl[:, :M]).sum(axis=1) + \
            (wkj * np.where(kj_used, nl_T[:, None], 0)).sum(axis=1)
        hit = np.nonzero(links > 0)[0]
        if len(hit) == 0:
            return None
        nchild = count_t[kid[hit]]
        pfn = (size[hit] + total[hit]) * nchild - links[hit]
        return idx[hit], without[hit], with_[hit], links[hit], pfn, nchild

    @staticmethod
    def _store(out, key, at, without, with_, links, pfn, n, utilized, keep, n_rows) -> None:
        """Write one (child level, tensor)'s effects at positions ``at`` of ``out[key]``
        (exact integers: Timeloop's averages, floored or rounded as ``links`` does)."""
        if key not in out:
            out[key] = [np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=np.int64),
                        np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=bool),
                        np.zeros(n_rows, dtype=object), np.zeros(n_rows, dtype=object)]
        v = out[key]
        keep = keep.astype(bool)
        byp = ~keep
        if byp.any():  # the children bypass the tensor: the parent's words per child word
            v[4][at[byp]] = with_[byp].astype(object) * n[byp]
            v[5][at[byp]] = pfn[byp].astype(object)
        k = keep
        if k.any():
            lk, u, p = links[k].astype(object), utilized[k].astype(object), pfn[k].astype(object)
            nk = n[k].astype(object)
            v[0][at[k]] = without[k] - with_[k]
            v[1][at[k]] = np.array((p * u + lk * nk) // (u * nk), dtype=np.int64)
            v[2][at[k]] = np.array((2 * lk + u) // (2 * u), dtype=np.int64)
            v[3][at[k]] = True
