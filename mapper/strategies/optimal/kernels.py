"""Compiled (numba) kernels of ``optimal``'s hot bounding code (docs/optimal.md, "How it
searches": kernels).

The bounds are sums and products over a few levels, dimensions and tensors per tiling;
numpy's per-call cost on such tiny arrays dominated their time. Each kernel loops over
rows in compiled code on flat int64/float64 tables that the owners (``RunBound``,
``Bounder``) build once at setup; the formulas are the ones their docstrings state, in
the same order of floating operations, so the values are the same.

Tables (tuples of arrays, built by ``run_tables`` and ``chain_tables``):

* run tables: per column (tensor, keeper level) its tensor and level; per tensor which
  dimensions are solo, whether its compound axes grow by sums (``grow``), and its compound
  axes as offsets into axis terms (coefficient, dimension); per level the dimensions of
  its fixed outer sequence A, free set F and pinned inner sequence Z (offsets);
* chain tables: per (tensor, level) the bounder's columns (A, R, Q, extents) and the
  energy per word of reads, updates and fills, whether links can lower its fills, and
  per tensor its words, solo words and whether it is read-write.

Compilation is cached on disk (``cache=True``); when the cache directory cannot be
written numba compiles in memory instead, and no warning reaches the user.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from numba import njit


def _offsets(groups) -> tuple[np.ndarray, np.ndarray]:
    """CSR form of a list of int lists: (offsets [n + 1], values)."""
    off = np.zeros(len(groups) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(g) for g in groups])
    vals = np.array([v for g in groups for v in g], dtype=np.int64)
    return off, vals


def run_tables(columns: dict, D: int, solo: list, axes: list, grow: list,
               A: list, F: list, Z: list) -> tuple:
    """The flat tables of rule B7 (runs.py) and the compound extents (bounds.py)."""
    n = len(columns)
    col_ti = np.zeros(n, dtype=np.int64)
    col_c = np.zeros(n, dtype=np.int64)
    for (ti, c), col in columns.items():
        col_ti[col], col_c[col] = ti, c
    nt = len(solo)
    is_solo = np.zeros((nt, D), dtype=np.bool_)
    for ti, s in enumerate(solo):
        is_solo[ti, s] = True
    ax_off = np.zeros(nt + 1, dtype=np.int64)
    ax_off[1:] = np.cumsum([len(a) for a in axes])
    flat_axes = [ax for a in axes for ax in a]
    term_off, term_k = _offsets([[k for k, _ in ax] for ax in flat_axes])
    _, term_d = _offsets([[d for _, d in ax] for ax in flat_axes])
    a_off, a_d = _offsets(A)
    f_off, f_d = _offsets(F)
    z_off, z_d = _offsets(Z)
    return (col_ti, col_c, is_solo, np.array(grow, dtype=np.bool_), ax_off, term_off,
            term_k, term_d, a_off, a_d, f_off, f_d, z_off, z_d)


def _c(x: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=dtype)


# -- rule B7 and compound extents -----------------------------------------------------------
@njit(cache=True)
def _jstar(tem, c, ti, is_solo):
    """The innermost level above ``c`` with a non-unit solo loop of tensor ``ti``, or -1."""
    D = tem.shape[1]
    for lv in range(c - 1, -1, -1):
        for d in range(D):
            if is_solo[ti, d] and tem[lv, d] > 1:
                return lv
    return -1


@njit(cache=True)
def _outer_mask(t, lv, ti, rt, out):
    """``out`` [D] bool: the loops of level ``lv`` (factors ``t`` [D]) that every order puts
    outside its innermost non-unit solo loop of tensor ``ti`` (runs.py)."""
    is_solo = rt[2]
    a_off, a_d, f_off, f_d, z_off, z_d = rt[8], rt[9], rt[10], rt[11], rt[12], rt[13]
    D = t.shape[0]
    for d in range(D):
        out[d] = False
    suf = False
    for i in range(z_off[lv + 1] - 1, z_off[lv] - 1, -1):
        d = z_d[i]
        suf = suf or (is_solo[ti, d] and t[d] > 1)
        out[d] = suf
    case_z = suf
    case_f = False
    if not case_z:
        for i in range(f_off[lv], f_off[lv + 1]):
            d = f_d[i]
            if is_solo[ti, d] and t[d] > 1:
                case_f = True
    suf = False
    for i in range(a_off[lv + 1] - 1, a_off[lv] - 1, -1):
        d = a_d[i]
        suf = suf or (is_solo[ti, d] and t[d] > 1)
        out[d] = suf or case_z or case_f
    for i in range(f_off[lv], f_off[lv + 1]):
        d = f_d[i]
        out[d] = case_z or (is_solo[ti, d] and t[d] > 1)


@njit(cache=True)
def _factor_row(tem, ext, given, rt, full, outer, ofac, mask, span):
    """Rule B7 for one tiling (``tem``, ``ext`` [L, D]): per column its factor over B6
    (``full``) and its outer part alone (``outer``). Levels below ``given.shape[0]`` take
    the order ``given[level]`` (each dimension's position), the others the least over
    their orders. ``ofac``, ``mask`` (bool), ``span``: scratch [D]."""
    col_ti, col_c, is_solo, grow = rt[0], rt[1], rt[2], rt[3]
    ax_off, term_off, term_k, term_d = rt[4], rt[5], rt[6], rt[7]
    D = tem.shape[1]
    ng = given.shape[0]
    for col in range(col_ti.shape[0]):
        c = col_c[col]
        ti = col_ti[col]
        if c == 0:
            full[col] = 1.0
            outer[col] = 1.0
            continue
        js = _jstar(tem, c, ti, is_solo)
        for d in range(D):
            ofac[d] = 1
        for lv in range(c):
            if js > lv:
                for d in range(D):
                    ofac[d] *= tem[lv, d]
            elif js == lv and lv < ng:
                # the given order: loops at or outside the innermost non-unit solo one
                inner = -1
                for d in range(D):
                    if is_solo[ti, d] and tem[lv, d] > 1 and given[lv, d] > inner:
                        inner = given[lv, d]
                for d in range(D):
                    if given[lv, d] <= inner:
                        ofac[d] *= tem[lv, d]
            elif js == lv:
                _outer_mask(tem[lv], lv, ti, rt, mask)
                for d in range(D):
                    if mask[d]:
                        ofac[d] *= tem[lv, d]
        prod = 1
        for d in range(D):
            if not is_solo[ti, d]:
                prod *= ofac[d]
        f = float(prod)
        outer[col] = f
        for d in range(D):
            tp = 1
            for lv in range(c):
                tp *= tem[lv, d]
            span[d] = ext[c, d] * (tp // ofac[d])
        for a in range(ax_off[ti], ax_off[ti + 1]):
            width = 1
            union = 1
            for i in range(term_off[a], term_off[a + 1]):
                k, d = term_k[i], term_d[i]
                width += k * (ext[c, d] - 1)
                union += k * (span[d] - 1)
            ok = grow[ti]
            for i in range(term_off[a], term_off[a + 1]):
                k, d = term_k[i], term_d[i]
                ok = ok and (span[d] == ext[c, d] or k * ext[c, d] <= width)
            f = f * (union / width if ok else 1.0)
        full[col] = f


@njit(cache=True)
def _factor_rows(temporal, ext, given, rt):
    N, L, D = temporal.shape
    n = rt[0].shape[0]
    full = np.ones((N, n))
    outer = np.ones((N, n))
    ofac = np.ones(D, dtype=np.int64)
    mask = np.zeros(D, dtype=np.bool_)
    span = np.ones(D, dtype=np.int64)
    for r in range(N):
        _factor_row(temporal[r], ext[r], given[r], rt, full[r], outer[r], ofac, mask, span)
    return full, outer


def factor_pair(temporal: np.ndarray, ext: np.ndarray, given: np.ndarray | None,
                rt: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(B7's factor, its outer part) [N, columns] of tilings ``temporal``/``ext`` [N, L, D];
    ``given`` [N, G, D]: the orders of the levels below G (None: none given)."""
    N, L, D = temporal.shape
    if given is None:
        given = np.zeros((N, 0, D), dtype=np.int64)
    return _factor_rows(_c(temporal, np.int64), _c(ext, np.int64), _c(given, np.int64), rt)


@njit(cache=True)
def _compound_row(ext, rt, out):
    """Per column: the product of the tile's extents along the tensor's compound axes."""
    col_ti, col_c, ax_off, term_off, term_k, term_d = rt[0], rt[1], rt[4], rt[5], rt[6], rt[7]
    for col in range(col_ti.shape[0]):
        ti, c = col_ti[col], col_c[col]
        v = 1.0
        for a in range(ax_off[ti], ax_off[ti + 1]):
            w = 1
            for i in range(term_off[a], term_off[a + 1]):
                w += term_k[i] * (ext[c, term_d[i]] - 1)
            v *= w
        out[col] = v


@njit(cache=True)
def _compound_rows(ext, rt):
    out = np.ones((ext.shape[0], rt[0].shape[0]))
    for r in range(ext.shape[0]):
        _compound_row(ext[r], rt, out[r])
    return out


def compound_extents(ext: np.ndarray, rt: tuple) -> np.ndarray:
    """[N, columns]: compound extents of tilings with per-level extents ``ext`` [N, L, D]."""
    return _compound_rows(_c(ext, np.int64), rt)
