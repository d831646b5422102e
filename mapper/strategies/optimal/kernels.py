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


MASK_TABLE_DIMS = 12  # tabulate rule B7's outer masks up to 2^12 patterns per level


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
    L = len(A)
    # the outer masks of every pattern, tabulated while that is small (else computed)
    table = _mask_table(L, D, a_off, a_d, f_off, f_d, z_off, z_d) if D <= MASK_TABLE_DIMS \
        else np.zeros((L, 0), dtype=np.int64)
    return (col_ti, col_c, is_solo, np.array(grow, dtype=np.bool_), ax_off, term_off,
            term_k, term_d, a_off, a_d, f_off, f_d, z_off, z_d, table)


def _c(x: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=dtype)


# -- rule B7 and compound extents -----------------------------------------------------------
@njit(cache=True)
def _row_prep(tem, rt, pre, ns):
    """Per tiling (``tem`` [L, D]), what every column reads: ``pre`` [L + 1, D] the
    products of the factors above each level, ``ns`` [T, L] the level's non-unit solo
    loops of the tensor (bit d: dimension d)."""
    is_solo = rt[2]
    L, D = tem.shape
    for d in range(D):
        pre[0, d] = 1
    for lv in range(L):
        for d in range(D):
            pre[lv + 1, d] = pre[lv, d] * tem[lv, d]
    for ti in range(is_solo.shape[0]):
        for lv in range(L):
            bits = 0
            for d in range(D):
                if is_solo[ti, d] and tem[lv, d] > 1:
                    bits |= 1 << d
            ns[ti, lv] = bits


@njit(cache=True)
def _jstar(ns, c, ti):
    """The innermost level above ``c`` with a non-unit solo loop of tensor ``ti``, or -1."""
    for lv in range(c - 1, -1, -1):
        if ns[ti, lv] != 0:
            return lv
    return -1


@njit(cache=True)
def _outer_mask(ns, lv, D, a_off, a_d, f_off, f_d, z_off, z_d):
    """The loops of level ``lv`` (bit d: dimension d) that every order puts outside its
    innermost non-unit solo loop, when ``ns`` (bits) are the level's non-unit solo loops
    (runs.py)."""
    out = 0
    suf = 0
    for i in range(z_off[lv + 1] - 1, z_off[lv] - 1, -1):
        d = z_d[i]
        suf |= ns >> d & 1
        out |= suf << d
    case_z = suf
    case_f = 0
    if case_z == 0:
        for i in range(f_off[lv], f_off[lv + 1]):
            case_f |= ns >> f_d[i] & 1
    suf = 0
    for i in range(a_off[lv + 1] - 1, a_off[lv] - 1, -1):
        d = a_d[i]
        suf |= ns >> d & 1
        out |= (suf | case_z | case_f) << d
    for i in range(f_off[lv], f_off[lv + 1]):
        d = f_d[i]
        out |= (case_z | (ns >> d & 1)) << d
    return out


@njit(cache=True)
def _mask_table(L, D, a_off, a_d, f_off, f_d, z_off, z_d):
    """``_outer_mask`` of every level and pattern of non-unit solo loops, [L, 2^D]."""
    out = np.zeros((L, 1 << D), dtype=np.int64)
    for lv in range(L):
        for ns in range(1 << D):
            out[lv, ns] = _outer_mask(ns, lv, D, a_off, a_d, f_off, f_d, z_off, z_d)
    return out


@njit(cache=True)
def _factor_col(tem, ext, given, rt, col, pre, ns, ofac, mask, span):
    """Rule B7 for one tiling (``tem``, ``ext`` [L, D]; ``pre``, ``ns`` from ``_row_prep``)
    and one column: (its factor over B6, its outer part alone). Levels below
    ``given.shape[0]`` take the order ``given[level]`` (each dimension's position), the
    others the least over their orders. ``ofac``, ``mask`` (bool), ``span``: scratch [D]."""
    col_ti, col_c, is_solo, grow = rt[0], rt[1], rt[2], rt[3]
    ax_off, term_off, term_k, term_d = rt[4], rt[5], rt[6], rt[7]
    D = tem.shape[1]
    c = col_c[col]
    ti = col_ti[col]
    if c == 0:
        return 1.0, 1.0
    js = _jstar(ns, c, ti)
    # O: every loop above j*, and at j* the loops outside its innermost non-unit solo
    # one (``mask``); ``span``: the tile's extent times the factors of I
    if js < 0:
        for d in range(D):
            ofac[d] = 1
            span[d] = ext[c, d] * pre[c, d]
    else:
        if js < given.shape[0]:
            # the given order: loops at or outside the innermost non-unit solo one
            inner = -1
            for d in range(D):
                if is_solo[ti, d] and tem[js, d] > 1 and given[js, d] > inner:
                    inner = given[js, d]
            for d in range(D):
                mask[d] = given[js, d] <= inner
        else:
            table = rt[14]
            if table.shape[1]:
                bits = table[js, ns[ti, js]]
            else:
                bits = _outer_mask(ns[ti, js], js, D, rt[8], rt[9], rt[10], rt[11], rt[12],
                                   rt[13])
            for d in range(D):
                mask[d] = bits >> d & 1 == 1
        for d in range(D):
            q = 1
            for lv in range(js + 1, c):
                q *= tem[lv, d]
            if mask[d]:
                ofac[d] = pre[js, d] * tem[js, d]
            else:
                ofac[d] = pre[js, d]
                q *= tem[js, d]
            span[d] = ext[c, d] * q
    prod = 1
    for d in range(D):
        if not is_solo[ti, d]:
            prod *= ofac[d]
    f = float(prod)
    outer = f
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
    return f, outer


@njit(cache=True)
def _factor_rows(temporal, ext, given, rt):
    N, L, D = temporal.shape
    n = rt[0].shape[0]
    full = np.ones((N, n))
    outer = np.ones((N, n))
    ofac = np.ones(D, dtype=np.int64)
    mask = np.zeros(D, dtype=np.bool_)
    span = np.ones(D, dtype=np.int64)
    pre = np.ones((L + 1, D), dtype=np.int64)
    ns = np.zeros((rt[2].shape[0], L), dtype=np.int64)
    for r in range(N):
        _row_prep(temporal[r], rt, pre, ns)
        for col in range(n):
            full[r, col], outer[r, col] = _factor_col(temporal[r], ext[r], given[r], rt, col,
                                                      pre, ns, ofac, mask, span)
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


# -- per-tensor access energy of a keep chain (rules B3, B5-B7, L) ---------------------------
def chain_tables(col_a: dict, col_r: dict, col_q: dict, col_ce: dict, n_tensors: int,
                 L: int, read_pj, update_pj, fill_pj, linked, read_write, words,
                 solo_words, n_ce: int) -> tuple:
    """The flat tables of ``Bounder.chain_energy``: per (tensor, level) its columns (-1:
    none) and whether links lower its fills; per (level, tensor) the energy per word of
    reads, updates and fills; per tensor read-write, words and solo words."""
    cols = []
    for d in (col_a, col_r, col_q, col_ce):
        a = np.full((n_tensors, L), -1, dtype=np.int64)
        for (ti, k), col in d.items():
            a[ti, k] = col
        cols.append(a)
    f = lambda x: np.array(x, dtype=np.float64)  # noqa: E731
    return (*cols, f(read_pj), f(update_pj), f(fill_pj), np.array(linked, dtype=np.bool_),
            np.array(read_write, dtype=np.bool_), f(words), f(solo_words), n_ce)


@njit(cache=True)
def _ce_factor(ce, has_ce, ti, k, fills, ct):
    """The extents factor of keeper ``k``'s share of tensor ``ti`` (``Bounder._ce``)."""
    if not has_ce:
        return 1.0
    col = ct[3][ti, k]
    if fills and ct[7][ti, k]:
        return ce[col + ct[11]]
    return ce[col]


@njit(cache=True)
def _chain_row(ti, chain, n, skip_top, pos, neg, ce, has_ce, ct):
    """Tensor ``ti``'s access energy bound when exactly the levels ``chain[:n]`` keep it,
    for one row (``Bounder.chain_energy``; the same terms in the same order)."""
    col_a, col_r, col_q = ct[0], ct[1], ct[2]
    rd, up, fl, rw, words, w = ct[4], ct[5], ct[6], ct[8][ti], ct[9][ti], ct[10][ti]
    k = chain[n - 1]
    served = pos[col_a[ti, k]]
    if rw:
        held = words * neg[col_q[ti, k]]
        e = up[k, ti] * served + rd[k, ti] * max(served - held, 0.0)
    else:
        e = rd[k, ti] * served
    for a in range(n):
        c = chain[a]
        base = w * pos[col_r[ti, c]]
        if a > 0 and not (skip_top and a == 1):
            x = base * _ce_factor(ce, has_ce, ti, c, True, ct)
            if rw:  # fills = share - partition
                x = max(x - words * neg[col_q[ti, c]], 0.0)
            e = e + fl[c, ti] * x
        if a < n - 1 and not (skip_top and a == 0):
            x = base * _ce_factor(ce, has_ce, ti, chain[a + 1], False, ct)
            if rw:  # updates = served, reads = served - partition
                e = e + up[c, ti] * x + rd[c, ti] * max(x - words * neg[col_q[ti, c]], 0.0)
            else:
                e = e + rd[c, ti] * x
    return e


@njit(cache=True)
def _chain_rows(ti, chain, skip_top, pos, neg, ce, has_ce, ct):
    out = np.empty(pos.shape[0])
    for r in range(pos.shape[0]):
        out[r] = _chain_row(ti, chain, chain.shape[0], skip_top, pos[r], neg[r],
                            ce[r] if has_ce else ce[0], has_ce, ct)
    return out


def chain_energy(ti: int, chain, skip_top: bool, pos: np.ndarray, neg: np.ndarray,
                 ce: np.ndarray | None, ct: tuple) -> np.ndarray:
    """[N]: ``Bounder.chain_energy`` of rows ``pos``/``neg`` (extents ``ce`` or None)."""
    has = ce is not None
    ce = _c(ce, np.float64) if has else np.ones((1, 1))
    return _chain_rows(ti, np.array(chain, dtype=np.int64), skip_top,
                       _c(pos, np.float64), _c(neg, np.float64), ce, has, ct)


# -- rule leaf_bound: one energy per (tiling, class of every level, keep choice) -------------
@njit(cache=True)
def _class_energy(nk, m, off, roff, rows_cat, row_lvl, rep_cat, rep_lvl, temporal, ext,
                  pos, neg, keeps, keep_sets, tops, rt, ct, links):
    nT, L, D = temporal.shape
    T = keep_sets.shape[2]
    n_ce = rt[0].shape[0]
    W = 2 * n_ce if links else n_ce
    eoff = np.zeros(nT, dtype=np.int64)
    total = 0
    for t in range(nT):
        eoff[t] = total
        p = nk[t]
        for j in range(L):
            p *= m[t, j]
        total += p
    energy = np.zeros(total)
    rank = np.empty((L, D), dtype=np.int64)
    pre = np.ones((L + 1, D), dtype=np.int64)
    ns = np.zeros((rt[2].shape[0], L), dtype=np.int64)
    comp = np.ones(n_ce)
    ofac = np.ones(D, dtype=np.int64)
    mask = np.zeros(D, dtype=np.bool_)
    span = np.ones(D, dtype=np.int64)
    joff = np.zeros(L, dtype=np.int64)
    reads = np.zeros(n_ce, dtype=np.int64)
    cls = np.zeros(L, dtype=np.int64)
    ce = np.ones(W)
    chain = np.zeros(L, dtype=np.int64)
    # per (tiling, keep choice) and tensor: its chain of keepers (bit i + 1: level i
    # keeps it) and whether the probe's terms are left out (bit 0)
    codes = np.zeros(tops.shape, dtype=np.int64)
    for r in range(keeps.shape[0]):
        for ti in range(T):
            v = 1 if tops[r, ti] else 0
            for i in range(L):
                if keep_sets[keeps[r], i, ti]:
                    v |= 1 << (i + 1)
            codes[r, ti] = v
    memo = np.zeros((T, 1 << (L + 1)))
    seen = np.zeros((T, 1 << (L + 1)), dtype=np.int64)
    stamp = 0
    koff = 0
    for t in range(nT):
        tem, ex = temporal[t], ext[t]
        # B7's factors once per (level, class of that level), the others at their first
        # class: a column reads one level's order (its j*)
        _row_prep(tem, rt, pre, ns)
        for col in range(n_ce):
            # -1 (order-free): any class will do
            reads[col] = max(_jstar(ns, rt[1][col], rt[0][col]), 0)
        nf = 0
        for j in range(L):
            joff[j] = nf
            nf += m[t, j]
        F = np.empty((nf, W))
        _compound_row(ex, rt, comp)
        for j in range(L):
            for c in range(m[t, j]):
                for jj in range(L):
                    cc = c if jj == j else 0
                    r = off[t, jj] + rep_cat[rep_lvl[jj] + roff[t, jj] + cc]
                    for d in range(D):
                        rank[jj, d] = rows_cat[row_lvl[jj] + r, d]
                q = joff[j] + c
                for col in range(n_ce):
                    if reads[col] != j:
                        continue  # read at another level's class
                    fv, ov = _factor_col(tem, ex, rank, rt, col, pre, ns, ofac, mask, span)
                    F[q, col] = comp[col] * fv
                    if links:
                        F[q, n_ce + col] = comp[col] * ov
        ncls = 1
        for j in range(L):
            ncls *= m[t, j]
        for q in range(ncls):
            rem = q
            for j in range(L - 1, -1, -1):
                cls[j] = rem % m[t, j]
                rem //= m[t, j]
            for col in range(W):
                jc = reads[col % n_ce]
                ce[col] = F[joff[jc] + cls[jc], col]
            # each (tensor, chain, skip) once per class row: keep choices share them
            stamp += 1
            for k in range(nk[t]):
                e = 0.0
                for ti in range(T):
                    code = codes[koff + k, ti]
                    if seen[ti, code] != stamp:
                        n = 0
                        for i in range(L):
                            if code >> (i + 1) & 1:
                                chain[n] = i
                                n += 1
                        memo[ti, code] = _chain_row(ti, chain, n, code & 1 == 1, pos[t],
                                                    neg[t], ce, True, ct)
                        seen[ti, code] = stamp
                    e += memo[ti, code]
                energy[eoff[t] + q * nk[t] + k] = e
        koff += nk[t]
    return energy, eoff


def class_energy(prep: dict, keeps: np.ndarray, keep_sets: np.ndarray, tops: np.ndarray,
                 rt: tuple, ct: tuple, links: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rule leaf_bound's energies, one per (tiling, class of every level, keep choice), and
    where each tiling's rows start (``LeafBound._class_energy`` documents the arguments)."""
    rows_of, rep_of = prep["rows_of"], prep["rep_of"]
    row_lvl = np.cumsum([0] + [len(r) for r in rows_of[:-1]]).astype(np.int64)
    rep_lvl = np.cumsum([0] + [len(r) for r in rep_of[:-1]]).astype(np.int64)
    i8, f8 = np.int64, np.float64
    return _class_energy(_c(prep["nk"], i8), _c(prep["m"], i8), _c(prep["off"], i8),
                         _c(prep["roff"], i8), _c(np.concatenate(rows_of), i8), row_lvl,
                         _c(np.concatenate(rep_of), i8), rep_lvl, _c(prep["temporal"], i8),
                         _c(prep["ext"], i8), _c(prep["pos"], f8), _c(prep["neg"], f8),
                         _c(keeps, i8), _c(keep_sets, np.bool_), _c(tops, np.bool_),
                         rt, ct, links)
