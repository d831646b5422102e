"""Compiled (numba) kernels of ``optimal``'s hot bounding code (docs/optimal.md, "How it
searches": kernels).

The bounds are sums and products over a few levels, dimensions and tensors per tiling;
numpy's per-call cost on such tiny arrays dominated their time. Each kernel loops over
rows in compiled code on flat int64/float64 tables that the owners (``RunBound``,
``Bounder``) build once at setup; the formulas are the ones their docstrings state, in
the same order of floating operations, so the values are the same.

The tables (``run_tables``, ``chain_tables``) and the disk cache (``njit``) are in
kernel_tables.py.

The kernels stay in this one module although it is longer than the others: numba's disk
cache checks only the source file of the function it caches, so a kernel that inlined a
helper from another file could keep the helper's old code after that file changed (a
wrong bound, a false certificate). Within one file any edit recompiles them all. Only
self-contained kernels (calling no other compiled function) live elsewhere: those of a
block of tilings, in block_kernels.py.
"""

from __future__ import annotations

import numpy as np

from .kernel_tables import kernel_array as _c, njit


# -- rule B7 and compound extents -----------------------------------------------------------
# Inner helpers take their tables as separate arrays and index rows (no tuples, no row
# views): numba pays reference counting for each array it takes out of a tuple or slices.
@njit(cache=True, inline="always")
def _solo_bits(is_solo):
    """[T]: each tensor's solo dimensions as bits (bit d: dimension d)."""
    out = np.zeros(is_solo.shape[0], dtype=np.int64)
    for ti in range(is_solo.shape[0]):
        for d in range(is_solo.shape[1]):
            if is_solo[ti, d]:
                out[ti] |= 1 << d
    return out


@njit(cache=True, inline="always")
def _row_prep(tem, r, solo_bits, pre, ns):
    """Per tiling ``tem[r]`` [L, D], what every column reads: ``pre`` [L + 1, D] the
    products of the factors above each level, ``ns`` [T, L] the level's non-unit solo
    loops of the tensor (bit d: dimension d; ``solo_bits`` [T]: the solo dimensions)."""
    L, D = tem.shape[1], tem.shape[2]
    for d in range(D):
        pre[0, d] = 1
    for lv in range(L):
        nonunit = 0
        for d in range(D):
            t = tem[r, lv, d]
            pre[lv + 1, d] = pre[lv, d] * t
            if t > 1:
                nonunit |= 1 << d
        for ti in range(solo_bits.shape[0]):
            ns[ti, lv] = nonunit & solo_bits[ti]


@njit(cache=True, inline="always")
def _jstar(ns, c, ti):
    """The innermost level above ``c`` with a non-unit solo loop of tensor ``ti``, or -1."""
    for lv in range(c - 1, -1, -1):
        if ns[ti, lv] != 0:
            return lv
    return -1


@njit(cache=True, inline="always")
def _outer_mask(ns, lv, a_off, a_d, f_off, f_d, z_off, z_d):
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


@njit(cache=True, inline="always")
def _out_bits(tem, r, given, g, js, ti, ns, a_off, a_d, f_off, f_d, z_off, z_d):
    """The loops of level ``js`` (bit d: dimension d) in rule B7's outer part ``O`` for
    tensor ``ti``: those at or outside its innermost non-unit solo loop in the order
    ``given[g, js]`` when ``js`` is below ``given.shape[1]``, else those every order puts
    there. The given order enters B7 only through these bits."""
    if js >= given.shape[1]:
        return _outer_mask(ns[ti, js], js, a_off, a_d, f_off, f_d, z_off, z_d)
    D = tem.shape[2]
    inner = -1
    for d in range(D):
        if ns[ti, js] >> d & 1 and given[g, js, d] > inner:
            inner = given[g, js, d]
    out = 0
    for d in range(D):
        if given[g, js, d] <= inner:
            out |= 1 << d
    return out


@njit(cache=True, inline="always")
def _factor_out(tem, ext, r, js, out, col, pre, ofac, span, col_ti, col_c, is_solo, grow,
                ax_off, term_off, term_k, term_d):
    """Rule B7 for tiling ``r`` and one column whose level ``js`` (-1: none) puts the
    loops ``out`` (``_out_bits``) outside: (its factor over B6, its outer part alone).
    ``ofac``, ``span``: scratch [D]."""
    D = tem.shape[2]
    c = col_c[col]
    ti = col_ti[col]
    # O: every loop above j*, and at j* the loops outside its innermost non-unit solo
    # one (bits ``out``); ``span``: the tile's extent times the factors of I
    if js < 0:
        for d in range(D):
            ofac[d] = 1
            span[d] = ext[r, c, d] * pre[c, d]
    else:
        for d in range(D):
            q = 1
            for lv in range(js + 1, c):
                q *= tem[r, lv, d]
            if out >> d & 1:
                ofac[d] = pre[js, d] * tem[r, js, d]
            else:
                ofac[d] = pre[js, d]
                q *= tem[r, js, d]
            span[d] = ext[r, c, d] * q
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
            width += k * (ext[r, c, d] - 1)
            union += k * (span[d] - 1)
        ok = grow[ti]
        for i in range(term_off[a], term_off[a + 1]):
            k, d = term_k[i], term_d[i]
            ok = ok and (span[d] == ext[r, c, d] or k * ext[r, c, d] <= width)
        f = f * (union / width if ok else 1.0)
    return f, outer


@njit(cache=True, inline="always")
def _factor_col(tem, ext, r, given, g, col, pre, ns, ofac, span, col_ti, col_c, is_solo,
                grow, ax_off, term_off, term_k, term_d, a_off, a_d, f_off, f_d, z_off, z_d):
    """Rule B7 for tiling ``r`` (``tem``, ``ext`` [N, L, D]; ``pre``, ``ns`` from
    ``_row_prep``) and one column: (its factor over B6, its outer part alone). Levels
    below ``given.shape[1]`` take the order ``given[g, level]`` (each dimension's
    position), the others the least over their orders. ``ofac``, ``span``: scratch [D]."""
    c = col_c[col]
    ti = col_ti[col]
    if c == 0:
        return 1.0, 1.0
    js = _jstar(ns, c, ti)
    if js < 0:
        return _factor_out(tem, ext, r, js, 0, col, pre, ofac, span, col_ti, col_c,
                           is_solo, grow, ax_off, term_off, term_k, term_d)
    out = _out_bits(tem, r, given, g, js, ti, ns, a_off, a_d, f_off, f_d, z_off, z_d)
    return _factor_out(tem, ext, r, js, out, col, pre, ofac, span, col_ti, col_c, is_solo,
                       grow, ax_off, term_off, term_k, term_d)


@njit(cache=True)
def _factor_rows(temporal, ext, given, rt):
    col_ti, col_c, is_solo, grow, ax_off, term_off, term_k, term_d = rt[:8]
    a_off, a_d, f_off, f_d, z_off, z_d = rt[8:]
    N, L, D = temporal.shape
    n = col_ti.shape[0]
    full = np.ones((N, n))
    outer = np.ones((N, n))
    ofac = np.ones(D, dtype=np.int64)
    span = np.ones(D, dtype=np.int64)
    pre = np.ones((L + 1, D), dtype=np.int64)
    ns = np.zeros((is_solo.shape[0], L), dtype=np.int64)
    solo_bits = _solo_bits(is_solo)
    for r in range(N):
        _row_prep(temporal, r, solo_bits, pre, ns)
        for col in range(n):
            if col_c[col] == 0:  # the outermost level's column: 1 (``_factor_col``)
                continue
            full[r, col], outer[r, col] = _factor_col(
                temporal, ext, r, given, r, col, pre, ns, ofac, span, col_ti, col_c,
                is_solo, grow, ax_off, term_off, term_k, term_d, a_off, a_d, f_off, f_d,
                z_off, z_d)
    return full, outer


def factor_pair(temporal: np.ndarray, ext: np.ndarray, given: np.ndarray | None,
                rt: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(B7's factor, its outer part) [N, columns] of tilings ``temporal``/``ext`` [N, L, D];
    ``given`` [N, G, D]: the orders of the levels below G (None: none given)."""
    N, L, D = temporal.shape
    if given is None:
        given = np.zeros((N, 0, D), dtype=np.int64)
    return _factor_rows(_c(temporal, np.int64), _c(ext, np.int64), _c(given, np.int64), rt)


@njit(cache=True, inline="always")
def _compound_col(ext, r, col, col_ti, col_c, ax_off, term_off, term_k, term_d):
    """The product of tiling ``r``'s tile extents along the column's compound axes."""
    ti, c = col_ti[col], col_c[col]
    v = 1.0
    for a in range(ax_off[ti], ax_off[ti + 1]):
        w = 1
        for i in range(term_off[a], term_off[a + 1]):
            w += term_k[i] * (ext[r, c, term_d[i]] - 1)
        v *= w
    return v


@njit(cache=True)
def _compound_rows(ext, rt):
    col_ti, col_c, ax_off, term_off, term_k, term_d = rt[0], rt[1], rt[4], rt[5], rt[6], rt[7]
    out = np.ones((ext.shape[0], col_ti.shape[0]))
    for r in range(ext.shape[0]):
        for col in range(col_ti.shape[0]):
            out[r, col] = _compound_col(ext, r, col, col_ti, col_c, ax_off, term_off, term_k,
                                        term_d)
    return out


def compound_extents(ext: np.ndarray, rt: tuple) -> np.ndarray:
    """[N, columns]: compound extents of tilings with per-level extents ``ext`` [N, L, D]."""
    return _compound_rows(_c(ext, np.int64), rt)


# -- per-tensor access energy of a keep chain (rules B3, B5-B7, L) ---------------------------
@njit(cache=True, inline="always")
def _chain_row(ti, chain, n, skip_top, pos, neg, r, ce, rc, has_ce, col_a, col_r, col_q,
               col_ce, rd, up, fl, linked, rw_, words_, solo_, n_ce, comp_):
    """Tensor ``ti``'s access energy bound when exactly the levels ``chain[:n]`` keep it,
    for row ``r`` of ``pos``/``neg`` and row ``rc`` of the extents ``ce``
    (``Bounder.chain_energy``: the same terms in the same order)."""
    rw, words, w = rw_[ti], words_[ti], solo_[ti]
    k = chain[n - 1]
    # B3: the innermost keeper serves the MACs (holds under links too, rule L: a
    # bypassing level's words per word it passes on stay at least its solo multicast
    # groups)
    served = pos[r, col_a[ti, k]]
    if rw:
        held = words * neg[r, col_q[ti, k]]
        e = up[k, ti] * served + rd[k, ti] * max(served - held, 0.0)
    else:
        e = rd[k, ti] * served
    # B5/B6/B7: every keeper receives, per instance, at least its tile times the solo
    # loops above it (fills, read-only tensors) and serves the next keeper at least that
    # keeper's share (reads; updates for outputs). Under links the serve terms stay, and
    # a read-only keeper right below a fanout counts only B7's outer part in its fills.
    for a in range(n):
        c = chain[a]
        base = w * pos[r, col_r[ti, c]]
        if a > 0 and not (skip_top and a == 1):
            x = base
            if has_ce:
                col = col_ce[ti, c]
                x = base * (ce[rc, col + n_ce] if linked[ti, c] else ce[rc, col])
            if rw:  # fills = share - partition (B7 can exceed it)
                x = max(x - words * neg[r, col_q[ti, c]], 0.0)
            e = e + fl[c, ti] * x
        if a < n - 1 and not (skip_top and a == 0):
            x = base
            if has_ce:
                x = base * ce[rc, col_ce[ti, chain[a + 1]]]
            if a == 0 and c == 0:  # rule C: the outermost level serves every touched word
                x = max(x, comp_[ti])
            if rw:  # updates = served, reads = served - partition
                e = e + up[c, ti] * x + rd[c, ti] * max(x - words * neg[r, col_q[ti, c]], 0.0)
            else:
                e = e + rd[c, ti] * x
    return e


@njit(cache=True)
def _chain_rows(ti, chain, skip_top, pos, neg, ce, has_ce, ct):
    col_a, col_r, col_q, col_ce, rd, up, fl, linked, rw, words, solo, n_ce, cw = ct
    out = np.empty(pos.shape[0])
    for r in range(pos.shape[0]):
        out[r] = _chain_row(ti, chain, chain.shape[0], skip_top, pos, neg, r, ce,
                            r if has_ce else 0, has_ce, col_a, col_r, col_q, col_ce, rd, up,
                            fl, linked, rw, words, solo, n_ce, cw)
    return out


def chain_energy(ti: int, chain, skip_top: bool, pos: np.ndarray, neg: np.ndarray,
                 ce: np.ndarray | None, ct: tuple) -> np.ndarray:
    """[N]: ``Bounder.chain_energy`` of rows ``pos``/``neg`` (extents ``ce`` or None)."""
    has = ce is not None
    ce = _c(ce, np.float64) if has else np.ones((1, 1))
    return _chain_rows(ti, np.array(chain, dtype=np.int64), skip_top,
                       _c(pos, np.float64), _c(neg, np.float64), ce, has, ct)


# -- rule tiling_bound on a block, one tensor's B7 at a time (staged.py) ----------------------
@njit(cache=True, inline="always")
def _tensor_term(ti, ch_off, ch_flat, tc_off, pos, neg, r, ce, ct):
    """Tensor ``ti``'s least chain energy for row ``r`` (``Bounder.bound``'s term)."""
    col_a, col_r, col_q, col_ce, rd, up, fl, linked, rw, words, solo, n_ce, cw = ct
    best = np.inf
    for c in range(tc_off[ti], tc_off[ti + 1]):
        e = _chain_row(ti, ch_flat[ch_off[c]:ch_off[c + 1]], ch_off[c + 1] - ch_off[c],
                       False, pos, neg, r, ce, r, True, col_a, col_r, col_q, col_ce, rd, up,
                       fl, linked, rw, words, solo, n_ce, cw)
        if e < best:
            best = e
    return best


@njit(cache=True, inline="always")
def _dominated_row(en, cyc, kinds, fixed, scale, inc, v):
    """``strictly_dominated`` of one row's ``objective_bounds`` (energy ``en``, cycles
    ``cyc``), the same formulas (kinds: 0 energy, 1 cycles, 2 edp, 3 utilization, else
    the constant ``fixed[j]``); ``v``: scratch [objectives]."""
    for j in range(kinds.shape[0]):
        kd = kinds[j]
        v[j] = en if kd == 0 else cyc if kd == 1 else en * 1e-12 * cyc * (1 - 1e-9) \
            if kd == 2 else -scale / cyc if kd == 3 else fixed[j]
    for m in range(inc.shape[0]):
        le, lt = True, False
        for j in range(v.shape[0]):
            le = le and inc[m, j] <= v[j]
            lt = lt or inc[m, j] < v[j]
        if le and lt:
            return True
    return False


@njit(cache=True)
def staged_rows(temporal, ext, pos, neg, base, ce, order, cols_off, cols, ch_off, ch_flat,
                tc_off, rt, ct, links, kinds, fixed, scale, inc, safety, energy, gone, stat):
    """Per row of ``temporal``/``ext``: ``Bounder.bound``'s energy (``energy``) with
    ``Bounder.tiling_extents``'s ``ce``, B7 computed for the tensors of ``order`` one at
    a time; a row stops (``gone``) once its energy so far is strictly dominated by
    ``inc``, except at the last tensor (the caller's test). staged.py has the rest."""
    col_ti, col_c, is_solo, grow, ax_off, term_off, term_k, term_d = rt[:8]
    a_off, a_d, f_off, f_d, z_off, z_d = rt[8:]
    N, L, D = temporal.shape
    n = col_ti.shape[0]
    T = tc_off.shape[0] - 1
    given = np.zeros((1, 0, D), dtype=np.int64)
    ofac = np.ones(D, dtype=np.int64)
    span = np.ones(D, dtype=np.int64)
    pre = np.ones((L + 1, D), dtype=np.int64)
    ns = np.zeros((is_solo.shape[0], L), dtype=np.int64)
    solo_bits = _solo_bits(is_solo)
    terms = np.zeros(T)
    v = np.empty(kinds.shape[0])
    for r in range(N):
        for col in range(n):  # the compound extents (``compound_extents``), twice with links
            ce[r, col] = _compound_col(ext, r, col, col_ti, col_c, ax_off, term_off, term_k,
                                       term_d)
            if links:
                ce[r, n + col] = ce[r, col]
        for ti in range(T):  # B6 with compound extents (B7's factors at 1), except for
            if ti != order[0]:  # the tensor priced first (``order`` holds every tensor)
                terms[ti] = _tensor_term(ti, ch_off, ch_flat, tc_off, pos, neg, r, ce, ct)
        _row_prep(temporal, r, solo_bits, pre, ns)
        en = 0.0
        for s in range(order.shape[0]):
            ti = order[s]
            for j in range(cols_off[ti], cols_off[ti + 1]):
                col = cols[j]
                f, o = _factor_col(temporal, ext, r, given, 0, col, pre, ns, ofac, span,
                                   col_ti, col_c, is_solo, grow, ax_off, term_off, term_k,
                                   term_d, a_off, a_d, f_off, f_d, z_off, z_d)
                if links:
                    ce[r, n + col] = ce[r, col] * o
                ce[r, col] = ce[r, col] * f
            terms[ti] = _tensor_term(ti, ch_off, ch_flat, tc_off, pos, neg, r, ce, ct)
            stat[ti, 0] += 1
            e = base[r]
            for tj in range(T):
                e = e + terms[tj]
            en = e * safety
            if _dominated_row(en, pos[r, 0], kinds, fixed, scale, inc, v):
                stat[ti, 1] += 1  # (the last tensor's test only counts: the caller's)
                if s < order.shape[0] - 1:
                    gone[r] = True
                    break
        energy[r] = en


# -- rule leaf_bound: one energy per (tiling, class of every level, keep choice) -------------
@njit(cache=True)
def _class_factors(temporal, ext, t, m, roff, sig_cat, sig_lvl, wide_cat, least, reads, comp,
                   joff, F, none, pre, ns, ofac, span, bits, got, rt, links):
    """Rows ``F`` of tiling ``t``: B7's factors once per (level j, class of j), the other
    levels at their first class, for the columns that read level j (``reads``); the
    order-free columns (-1) only in row 0. A column's factor reads the class's order only
    through the loops of its outer part there, the class's signature (``sig_cat``,
    RunBound.signature): classes that agree there share one computation (``bits``
    [columns, classes]: the signatures computed, ``got``: their factors). ``none``: an
    empty order array (the order-free columns read none). With ``least``, the classes
    ``wide_cat`` marks are skipped (``_undominated_classes``)."""
    col_ti, col_c, is_solo, grow, ax_off, term_off, term_k, term_d = rt[:8]
    a_off, a_d, f_off, f_d, z_off, z_d = rt[8:]
    L = temporal.shape[1]
    n_ce = col_ti.shape[0]
    for j in range(L):
        for col in range(n_ce):
            bits[col, 0] = 0
        for c in range(m[t, j]):
            s = sig_lvl[j] + roff[t, j] + c  # the class's signature row
            q = joff[j] + c
            if least and wide_cat[s] and q != 0:  # row 0 holds the order-free columns
                continue
            for col in range(n_ce):
                # an order-free column (-1) once, in the first row
                if reads[col] == j:
                    out = sig_cat[s, col]
                    k = 1
                    while k <= bits[col, 0] and bits[col, k] != out:
                        k += 1
                    if k > bits[col, 0]:
                        bits[col, 0] = k
                        bits[col, k] = out
                        got[col, k, 0], got[col, k, 1] = _factor_out(
                            temporal, ext, t, j, out, col, pre, ofac, span, col_ti, col_c,
                            is_solo, grow, ax_off, term_off, term_k, term_d)
                    fv, ov = got[col, k, 0], got[col, k, 1]
                elif reads[col] < 0 and q == 0:
                    fv, ov = _factor_col(temporal, ext, t, none, 0, col, pre, ns, ofac, span,
                                         col_ti, col_c, is_solo, grow, ax_off, term_off,
                                         term_k, term_d, a_off, a_d, f_off, f_d, z_off, z_d)
                else:
                    continue
                F[q, col] = comp[col] * fv
                if links:
                    F[q, n_ce + col] = comp[col] * ov


@njit(cache=True, inline="always")
def _undominated_classes(F, joff, reads, n_ce, j, m_j, wide, key, alive):
    """The classes of level ``j`` that the least energy over the class rows needs, into
    ``alive``; returns their count. A class is skipped when one kept class has every
    factor of the columns reading ``j`` at most its own: each chain's energy is
    non-decreasing in every factor, in floating point too, so the least row keeps its
    value. The classes are taken by increasing sum of those factors (a class can only be
    covered by one with a sum as small), so each is compared with the kept ones alone.
    The classes ``wide`` marks are left out first: their outer loops include another
    class's in every column, so each of their factors is at least that class's (moving a
    non-solo loop from I to O multiplies O's product by its factor and divides the union
    of a run's tiles by at most as much; docs/optimal.md). ``key``: scratch [m_j]."""
    W = F.shape[1]
    for c in range(m_j):
        if wide[c]:
            key[c] = np.inf
            continue
        v = 0.0
        for col in range(W):
            if reads[col % n_ce] == j:
                v += F[joff[j] + c, col]
        key[c] = v
    order = np.argsort(key[:m_j], kind="mergesort")
    n = 0
    for c in order:
        if wide[c]:
            continue
        covered = False
        for i in range(n):
            o = alive[i]
            le = True
            for col in range(W):
                if reads[col % n_ce] == j and F[joff[j] + o, col] > F[joff[j] + c, col]:
                    le = False
                    break
            if le:
                covered = True
                break
        if not covered:
            alive[n] = c
            n += 1
    return n


@njit(cache=True)
def _class_energy(nk, m, roff, sig_cat, sig_lvl, wide_cat, temporal, ext, pos, neg, keeps,
                  keep_sets, tops, rt, ct, links, least, cap):
    col_ti, col_c, is_solo, grow, ax_off, term_off, term_k, term_d = rt[:8]
    a_off, a_d, f_off, f_d, z_off, z_d = rt[8:]
    col_a, col_r, col_q, col_ce, rd, up, fl, linked, rw, words, solo, n_ce, cw = ct
    nT, L, D = temporal.shape
    T = keep_sets.shape[2]
    W = 2 * n_ce if links else n_ce
    eoff = np.zeros(nT, dtype=np.int64)
    total = 0
    for t in range(nT):
        eoff[t] = total
        p = nk[t]
        for j in range(L):
            p *= m[t, j]
        total += 1 if least else p
    # ``least``: one value per tiling, the least over its rows (inf: more than ``cap``
    # rows left after the dominated classes, not bounded)
    energy = np.full(total, np.inf) if least else np.zeros(total)
    mmax = 1
    for t in range(nT):
        for j in range(L):
            mmax = max(mmax, m[t, j])
    alive = np.zeros((L, mmax), dtype=np.int64)  # per level: the classes enumerated
    bits = np.zeros((n_ce, mmax + 1), dtype=np.int64)  # _class_factors' scratch
    got = np.zeros((n_ce, mmax + 1, 2))
    na = np.zeros(L, dtype=np.int64)
    key = np.zeros(mmax)
    none = np.zeros((1, 0, D), dtype=np.int64)
    pre = np.ones((L + 1, D), dtype=np.int64)
    ns = np.zeros((is_solo.shape[0], L), dtype=np.int64)
    solo_bits = _solo_bits(is_solo)
    comp = np.ones(n_ce)
    ofac = np.ones(D, dtype=np.int64)
    span = np.ones(D, dtype=np.int64)
    joff = np.zeros(L, dtype=np.int64)
    reads = np.zeros(n_ce, dtype=np.int64)
    cls = np.zeros(L, dtype=np.int64)
    ce = np.ones((1, W))
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
        _row_prep(temporal, t, solo_bits, pre, ns)
        for col in range(n_ce):
            # B7's factor of a column reads one level's order (its j*), or none (-1:
            # order-free, computed once)
            reads[col] = _jstar(ns, col_c[col], col_ti[col])
            comp[col] = _compound_col(ext, t, col, col_ti, col_c, ax_off, term_off, term_k,
                                      term_d)
        # the factors once per (level, class of that level), the others at their first
        # class, only for the columns that read that level
        nf = 0
        for j in range(L):
            joff[j] = nf
            nf += m[t, j]
        F = np.empty((nf, W))
        _class_factors(temporal, ext, t, m, roff, sig_cat, sig_lvl, wide_cat, least, reads,
                       comp, joff, F, none, pre, ns, ofac, span, bits, got, rt, links)
        # per level the classes enumerated: all, or (``least``) the undominated ones
        ncls = 1
        for j in range(L):
            if least:
                w0 = sig_lvl[j] + roff[t, j]
                na[j] = _undominated_classes(F, joff, reads, n_ce, j, m[t, j],
                                             wide_cat[w0:w0 + m[t, j]], key, alive[j])
            else:
                na[j] = m[t, j]
                for c in range(m[t, j]):
                    alive[j, c] = c
            ncls *= na[j]
        if least and ncls * nk[t] > cap:
            koff += nk[t]
            continue
        for q in range(ncls):
            rem = q
            for j in range(L - 1, -1, -1):
                cls[j] = alive[j, rem % na[j]]
                rem //= na[j]
            for col in range(W):
                jc = reads[col % n_ce]
                ce[0, col] = F[0, col] if jc < 0 else F[joff[jc] + cls[jc], col]
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
                        memo[ti, code] = _chain_row(
                            ti, chain, n, code & 1 == 1, pos, neg, t, ce, 0, True, col_a,
                            col_r, col_q, col_ce, rd, up, fl, linked, rw, words, solo, n_ce,
                            cw)
                        seen[ti, code] = stamp
                    e += memo[ti, code]
                if least:
                    energy[t] = min(energy[t], e)
                else:
                    energy[eoff[t] + q * nk[t] + k] = e
        koff += nk[t]
    return energy, eoff


def class_energy(prep: dict, keeps: np.ndarray, keep_sets: np.ndarray, tops: np.ndarray,
                 rt: tuple, ct: tuple, links: bool, cap: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rule leaf_bound's energies, one per (tiling, class of every level, keep choice), and
    where each tiling's rows start (``LeafBound._class_energy`` documents the arguments).
    With ``cap``: one energy per tiling, the least over its rows, enumerating only each
    level's undominated classes (inf for a tiling with more than ``cap`` such rows)."""
    i8, f8 = np.int64, np.float64
    return _class_energy(_c(prep["nk"], i8), _c(prep["m"], i8), _c(prep["roff"], i8),
                         _c(prep["sig_cat"], i8), prep["sig_lvl"],
                         _c(prep["wide_cat"], np.bool_), _c(prep["temporal"], i8),
                         _c(prep["ext"], i8), _c(prep["pos"], f8), _c(prep["neg"], f8),
                         _c(keeps, i8), _c(keep_sets, np.bool_), _c(tops, np.bool_),
                         rt, ct, links, cap is not None, 0 if cap is None else cap)
