"""Repair of an illegal candidate of the array view: move prime factors outwards until
its tiles fit and its spatial factors stay within each fanout (used by ``bayesian``;
the legality decision itself is ``Mapspace.batch_legality``)."""

from __future__ import annotations

import numpy as np

from .factors import prime_factors


def repair_row(arrays, g, row: int, max_moves: int = 64) -> bool:
    """Make row ``row`` of ``g`` (``Genes`` of ``arrays``, a ``SpaceArrays``) legal by
    moving prime factors outwards, in place:
    while a level's kept tiles overflow it, the largest factor (at that level or
    below) of a dimension its kept tensors depend on gives its smallest prime to the
    outermost temporal slot that allows it; while a level's spatial factors exceed an
    axis's fanout, one of them gives a prime to a temporal slot at or above it. False
    when that does not make it legal (e.g. a minimum utilization is not met)."""
    S_level = arrays.slot_level
    fac = [arrays.tables[d].fac[g.fi[row, d]].astype(np.int64) for d in range(arrays.D)]
    ax = [arrays.tables[d].ax[g.fi[row, d]].astype(np.int64) for d in range(arrays.D)]
    keep = g.keep[row]
    temporal_slots = [j for j in range(len(S_level)) if arrays.slot_temporal[j]]
    for _ in range(max_moves):
        total = np.ones((arrays.L, arrays.D), dtype=np.int64)
        spx = np.ones(arrays.L, dtype=np.int64)
        spy = np.ones(arrays.L, dtype=np.int64)
        for d in range(arrays.D):
            for j, lvl in enumerate(S_level):
                total[lvl, d] *= fac[d][j]
                if ax[d][j] == 1:
                    spx[lvl] *= fac[d][j]
                elif ax[d][j] == 2:
                    spy[lvl] *= fac[d][j]
        incl = np.flip(np.cumprod(np.flip(total, axis=0), axis=0), axis=0)
        used = np.zeros(arrays.L, dtype=np.float64)
        for t, coef in enumerate(arrays.coef):
            words = ((incl - 1) @ coef.T + 1).prod(axis=1).astype(np.float64)
            used += np.where(keep[:, t], words * arrays.bits[:, t], 0)
        over = [i for i in range(arrays.L) if used[i] > arrays.cap[i]]
        wide = [(i, a) for i in range(arrays.L) for a, sp in ((1, spx), (2, spy))
                if sp[i] > arrays.fanout[i, a - 1]]
        if not over and not wide:
            break
        moves = []  # (size, d, source slot, destination slots)
        if wide:
            i, a = wide[-1]
            dest = [j for j in reversed(temporal_slots) if S_level[j] <= i]
            for d in range(arrays.D):
                for j in range(len(S_level)):
                    if S_level[j] == i and ax[d][j] == a and fac[d][j] > 1:
                        moves.append((fac[d][j], d, j, dest))
        else:
            i = over[-1]
            dest = [j for j in temporal_slots if S_level[j] < i]
            rel = [d for d in range(arrays.D)
                   if any(keep[i, t] and coef[:, d].any() for t, coef in enumerate(arrays.coef))]
            for d in rel:
                for j in range(len(S_level)):
                    if S_level[j] >= i and fac[d][j] > 1:
                        moves.append((fac[d][j], d, j, dest))
        moves.sort(key=lambda m: -m[0])
        done = False
        for _, d, j, dest in moves:
            tab = arrays.tables[d]
            p = prime_factors(int(fac[d][j]))[0]
            rest = fac[d][j] // p
            a_src = ax[d][j] if rest > 1 else 0
            if tab.lookup3[j, tab.di(rest), a_src] < 0:
                continue
            for k in dest:
                if tab.lookup3[k, tab.di(fac[d][k] * p), 0] >= 0:
                    fac[d][j], ax[d][j] = rest, a_src
                    fac[d][k] *= p
                    done = True
                    break
            if done:
                break
        if not done:
            return False
    for d, tab in enumerate(arrays.tables):
        opt = tab.lookup3[np.arange(len(S_level)), tab.di(fac[d]), ax[d]][None, :]
        g.fi[row, d] = tab.find(opt)[0]
    b = arrays.batch(g.take(np.array([row])))
    return bool(arrays.legal(b)[0])
