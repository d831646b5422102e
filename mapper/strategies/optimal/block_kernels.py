"""Compiled (numba) kernels of ``optimal``'s blocks of tilings (search.py ``_block``): the
gathers that form a block's tilings from every dimension's rows, their spatial products,
and which keep choices fit the buffers (``OrderTables.legal_keeps``).

Each kernel here is self-contained (it calls no other compiled function), so numba's
disk cache, which checks only a kernel's own source file, cannot keep stale code of a
helper from another file (kernels.py's docstring); the compiled helpers of the bounds
stay in kernels.py.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .kernel_tables import csr_offsets, kernel_array, njit


# -- keep choices that fit the buffers (orders.py ``legal_keeps``) ---------------------------
def keep_tables(axes: list, bits, keep_sets: np.ndarray, cap: list, min_util: list) -> tuple:
    """The flat tables of ``legal_keeps``: per tensor its axes as CSR offsets into (|coef|,
    dimension) terms; per level and tensor its bits per word; the keep sets [B, L, T]; per
    level its capacity in bits (-1: unbounded) and its least used bits (min utilization
    times capacity, 0 without)."""
    ax_off = np.zeros(len(axes) + 1, dtype=np.int64)
    ax_off[1:] = np.cumsum([len(a) for a in axes])
    flat = [ax for a in axes for ax in a]
    term_off, term_k = csr_offsets([[abs(k) for k, _ in ax] for ax in flat])
    _, term_d = csr_offsets([[d for _, d in ax] for ax in flat])
    low = [0.0 if c is None or not u else u * c for c, u in zip(cap, min_util)]
    return (ax_off, term_off, term_k, term_d, kernel_array(bits, np.int64),
            kernel_array(keep_sets, np.bool_),
            np.array([-1 if c is None else c for c in cap], dtype=np.int64),
            np.array(low, dtype=np.float64))


@njit(cache=True)
def _legal_keeps(ext, kt):
    ax_off, term_off, term_k, term_d, bits, keep_sets, cap, low = kt
    N, L = ext.shape[0], ext.shape[1]
    B, T = keep_sets.shape[0], keep_sets.shape[2]
    ok = np.ones((N, B), dtype=np.bool_)
    words = np.zeros((L, T), dtype=np.int64)
    # only the tiles some keep choice holds at a level with a capacity are sized
    need = np.zeros((L, T), dtype=np.bool_)
    for lv in range(L):
        for ti in range(T):
            for b in range(B):
                need[lv, ti] = need[lv, ti] or (cap[lv] >= 0 and keep_sets[b, lv, ti])
    for n in range(N):
        for lv in range(L):
            for ti in range(T):
                if not need[lv, ti]:
                    continue
                size = 1
                for a in range(ax_off[ti], ax_off[ti + 1]):
                    e = 1
                    for i in range(term_off[a], term_off[a + 1]):
                        e += term_k[i] * (ext[n, lv, term_d[i]] - 1)
                    size *= e
                # a tile's words: per axis 1 + sum |coef| x (extent - 1), the formula of
                # kernels.py's compound extents, repeated so that this kernel calls no
                # compiled helper of another file (the module docstring says why)
                words[lv, ti] = size * bits[lv, ti]
        for b in range(B):
            for lv in range(L):
                if cap[lv] < 0:
                    continue
                used = 0
                for ti in range(T):
                    if keep_sets[b, lv, ti]:
                        used += words[lv, ti]
                if used > cap[lv] or used < low[lv]:
                    ok[n, b] = False
                    break
    return ok


def legal_keeps(ext: np.ndarray, kt: tuple) -> np.ndarray:
    """bool [N, B]: the keep choices whose kept tiles fit every level's capacity (and
    reach its minimum utilization), for tilings with per-level extents ``ext`` [N, L, D]."""
    return _legal_keeps(kernel_array(ext, np.int64), kt)


# -- a block of tilings (search.py ``_block``) ---------------------------------------------
def dim_tables(dims: list) -> tuple:
    """Every dimension's per-row features (``Bounder.dims``), padded to the most rows:
    temporal, sx, sy, ext, nonunit [D, rows, L] (int64), pos [D, rows, n_pos], neg
    [D, rows, n_neg]."""
    R = max(len(f.pos) for f in dims)

    def pad(name, dtype):
        a = [getattr(f, name) for f in dims]
        out = np.zeros((len(a), R) + a[0].shape[1:], dtype=dtype)
        for i, x in enumerate(a):
            out[i, :len(x)] = x
        return out
    return tuple(pad(n, np.int64) for n in ("temporal", "sx", "sy", "ext", "nonunit")) + \
        tuple(pad(n, np.float64) for n in ("pos", "neg"))


@njit(cache=True)
def _spatial(full, perm, dt):
    f_sx, f_sy, f_nonunit = dt[1], dt[2], dt[4]
    N, D = full.shape
    L = f_sx.shape[2]
    spx = np.ones((N, L), dtype=np.int64)
    spy = np.ones((N, L), dtype=np.int64)
    nonunit = np.zeros((N, L), dtype=np.int64)
    for n in range(N):
        for k in range(D):
            di, r = perm[k], full[n, k]
            for lv in range(L):
                spx[n, lv] *= f_sx[di, r, lv]
                spy[n, lv] *= f_sy[di, r, lv]
                nonunit[n, lv] += f_nonunit[di, r, lv]
    return spx, spy, nonunit


def block_spatial(full: np.ndarray, perm, dt: tuple):
    """(spatial products on X, on Y, non-unit free loops) [N, L] per level of the tilings
    whose rows (in tree order ``perm``) are ``full`` [N, D]."""
    return _spatial(kernel_array(full, np.int64), np.array(perm, dtype=np.int64),
                    dt)


@njit(cache=True)
def _legal_rows(prefix, grid, perm, dt, fx, fy, need_pes, fact):
    f_sx, f_sy, f_nonunit = dt[1], dt[2], dt[4]
    N, K = grid.shape
    depth = prefix.shape[0]
    D = depth + K
    L = f_sx.shape[2]
    keep = np.empty(N, dtype=np.int64)
    combos = np.empty(N, dtype=np.int64)
    spx = np.ones(L, dtype=np.int64)
    spy = np.ones(L, dtype=np.int64)
    nu = np.zeros(L, dtype=np.int64)
    px = np.ones(L, dtype=np.int64)  # the prefix's products, once
    py = np.ones(L, dtype=np.int64)
    pn = np.zeros(L, dtype=np.int64)
    for k in range(depth):
        for lv in range(L):
            px[lv] *= f_sx[perm[k], prefix[k], lv]
            py[lv] *= f_sy[perm[k], prefix[k], lv]
            pn[lv] += f_nonunit[perm[k], prefix[k], lv]
    fan = 0
    low = 0
    n_ok = 0
    for n in range(N):
        for lv in range(L):
            spx[lv] = px[lv]
            spy[lv] = py[lv]
            nu[lv] = pn[lv]
        for k in range(depth, D):
            r = grid[n, k - depth]
            di = perm[k]
            for lv in range(L):
                spx[lv] *= f_sx[di, r, lv]
                spy[lv] *= f_sy[di, r, lv]
                nu[lv] += f_nonunit[di, r, lv]
        c = 1
        for lv in range(L):
            c *= fact[nu[lv]]
        ok = True
        pes = 1
        for lv in range(L):
            if spx[lv] > fx[lv] or spy[lv] > fy[lv]:
                ok = False
            pes *= spx[lv] * spy[lv]
        if not ok:
            fan += c
        elif pes < need_pes:
            low += c
        else:
            keep[n_ok] = n
            combos[n_ok] = c
            n_ok += 1
    return keep[:n_ok], combos[:n_ok], fan, low


@lru_cache(maxsize=None)
def _factorials(D: int, wide: bool) -> np.ndarray:
    """k! for k = 0..D (Python ints when ``wide``; shared: never written)."""
    return np.array([math.factorial(k) for k in range(D + 1)], dtype=object if wide
                    else np.int64)


def legal_rows(prefix, grid: np.ndarray, perm, dt: tuple, fx: np.ndarray, fy: np.ndarray,
               need_pes: float, wide: bool):
    """The completions ``grid`` [N, D - depth] (rows of the tree's dimensions from
    ``depth`` on) of the rows ``prefix`` that fit every level's fanout ``fx``/``fy`` and
    use at least ``need_pes`` MAC units: (their indices in ``grid``, their canonical loop
    orders (the product over levels of k! at k non-unit free loops), the orders of the
    tilings past a fanout, those of the tilings under ``need_pes``). In one compiled
    pass with int64 sums; with ``wide`` (the block's sums might not fit int64) in numpy
    with Python ints instead."""
    D = len(prefix) + grid.shape[1]
    fact = _factorials(D, wide)
    if not wide:
        keep, combos, fan, low = _legal_rows(
            kernel_array(prefix, np.int64), kernel_array(grid, np.int64),
            np.array(perm, dtype=np.int64), dt, fx, fy, float(need_pes), fact)
        return keep, combos, int(fan), int(low)
    full = np.concatenate([np.broadcast_to(np.array(prefix, dtype=np.int64),
                                           (len(grid), len(prefix))), grid], axis=1)
    spx, spy, nonunit = block_spatial(full, perm, dt)
    combos = np.prod(fact[nonunit], axis=1)
    ok_fan = (spx <= fx).all(axis=1) & (spy <= fy).all(axis=1)
    ok_pe = ok_fan & ((spx * spy).prod(axis=1) >= need_pes)
    keep = np.nonzero(ok_pe)[0]
    return keep, combos[keep], int(combos[~ok_fan].sum()), \
        int(combos[ok_fan & ~ok_pe].sum())


@njit(cache=True)
def _arrays(full, perm, depth, pos, neg, dt, meshes):
    f_tem, f_sx, f_sy, f_ext, _, f_pos, f_neg = dt
    N, D = full.shape
    L = f_tem.shape[2]
    M = N if meshes else 0
    temporal = np.empty((N, L, D), dtype=np.int64)
    sx = np.empty((M, L, D), dtype=np.int64)
    sy = np.empty((M, L, D), dtype=np.int64)
    ext = np.empty((N, L, D), dtype=np.int64)
    P = np.empty((N, pos.shape[0]))
    Q = np.empty((N, neg.shape[0]))
    for n in range(N):
        for j in range(pos.shape[0]):
            P[n, j] = pos[j]
        for j in range(neg.shape[0]):
            Q[n, j] = neg[j]
        for k in range(D):
            di, r = perm[k], full[n, k]
            for lv in range(L):
                temporal[n, lv, di] = f_tem[di, r, lv]
                ext[n, lv, di] = f_ext[di, r, lv]
                if meshes:
                    sx[n, lv, di] = f_sx[di, r, lv]
                    sy[n, lv, di] = f_sy[di, r, lv]
            if k >= depth:
                for j in range(pos.shape[0]):
                    P[n, j] *= f_pos[di, r, j]
                for j in range(neg.shape[0]):
                    Q[n, j] *= f_neg[di, r, j]
    return temporal, sx, sy, ext, P, Q


def block_arrays(full: np.ndarray, perm, depth: int, pos: np.ndarray, neg: np.ndarray,
                 dt: tuple, meshes: bool = True):
    """The tilings' temporal, sx, sy, ext [N, L, D] and bound features ``pos`` [N, n_pos],
    ``neg`` [N, n_neg]: the subtree's ``pos``/``neg`` times the rows' from tree position
    ``depth`` on. Without ``meshes``, sx and sy are empty ([0, L, D]): the caller forms
    them for the tilings it keeps (``block_meshes``)."""
    return _arrays(kernel_array(full, np.int64), np.array(perm, dtype=np.int64),
                   depth, kernel_array(pos, np.float64), kernel_array(neg, np.float64), dt,
                   meshes)


def block_meshes(full: np.ndarray, perm, dt: tuple):
    """(sx, sy) [N, L, D] of the tilings whose rows (tree order ``perm``) are ``full``."""
    _, sx, sy, _, _, _ = block_arrays(full, perm, 0, np.ones(0), np.ones(0), dt)
    return sx, sy
