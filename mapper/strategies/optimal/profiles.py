"""Rule P (docs/optimal.md, "Spatial profiles"): a subtree bounded once per way its
unassigned dimensions can share the fanout, so energy and cycles are minimized jointly.

``subtree_bound`` (even with rule J) lets every column take its best unassigned rows
independently: the energy bound uses the spatial factors that multicast the weights best,
the cycles bound those that fill the PE array, and the EDP of a subtree is bounded by
the product of two minima that no single mapping reaches. Group each unassigned
dimension's rows by their *spatial profile* (its spatial factor on each mesh axis of
each level); within a group, take each column's least feature (the largest for the
subtracted one). A combination of one profile per unassigned dimension is legal only when
the profiles' products fit, on each axis of each level, in the fanout the assigned
dimensions leave (rule L1); every legal completion lies in one such combination, and its
columns are at least the combination's products. So the subtree's completions have
(energy, cycles) at or above one of the combinations' bounds: the subtree is removed
when the incumbent strictly dominates every combination's bound, and the least over
combinations of the gap objective (EDP: energy x cycles of one combination) bounds the
whole subtree. Within one profile, the served-words and cycles columns of rule B3 and B1
are exact (a dimension's temporal product is its bound over its spatial product), so rule
J adds nothing there.
"""

from __future__ import annotations

import numpy as np

from .bounds import Bounder
from .origins import CompoundOrigins
from .outermost import OutermostLoop
from .unique import unique_rows


class SpatialProfiles:
    """Per dimension: its rows' spatial profiles and each profile's least features."""

    def __init__(self, bd: Bounder, max_combos: int = 50_000, outermost: bool = True,
                 origins: bool = True):
        self.bd = bd
        self.outermost = OutermostLoop(bd) if outermost else None  # rule O
        self.origins = CompoundOrigins(bd) if origins else None  # rule V
        self.max_combos = max_combos
        self.counted = 0  # combinations formed so far (each extends one by one profile)
        self.keys, self.pmin, self.nmax, self.group = [], [], [], []
        for f in bd.dims:
            both = np.hstack([f.sx, f.sy]).astype(np.int64)
            firsts, inv = unique_rows(both)
            self.keys.append(both[firsts])
            self.group.append(inv)  # each row's profile
            # each profile's least pos and largest neg features over its rows
            order = np.argsort(inv, kind="stable")
            starts = np.searchsorted(inv[order], np.arange(len(firsts)))
            self.pmin.append(np.minimum.reduceat(f.pos[order], starts, axis=0))
            self.nmax.append(np.maximum.reduceat(f.neg[order], starts, axis=0)
                             if f.neg.shape[1] else np.zeros((len(firsts), 0)))
        if self.outermost is not None:  # rule Z: level 0's factors per profile
            self.outermost.profile_factors(self.group)

    def combos(self, U, spx: np.ndarray, spy: np.ndarray):
        """(pos [K, n_pos], neg [K, n_neg], first [K], profiles [K, len(U)]): the column
        products over the unassigned dimensions ``U`` of every combination of profiles
        that fits the room the assigned spatial products ``spx``, ``spy`` [L] leave, each
        combination's profile of ``U[0]`` and of every dimension of ``U``; None when
        there are more than ``max_combos`` (the rule is then skipped for this subtree)."""
        bd, L = self.bd, self.bd.L
        rx, ry = bd.fx // np.maximum(spx, 1), bd.fy // np.maximum(spy, 1)
        ux = np.ones((1, L), dtype=np.int64)
        uy = np.ones((1, L), dtype=np.int64)
        P = np.ones((1, bd.n_pos))
        Q = np.ones((1, bd.n_neg))
        first = np.zeros(1, dtype=np.int64)
        idx = np.zeros((1, 0), dtype=np.int64)
        for j, di in enumerate(U):
            k = self.keys[di]
            nx = ux[:, None, :] * k[None, :, :L]  # [K, G, L]
            ny = uy[:, None, :] * k[None, :, L:]
            ok = (nx <= rx).all(axis=2) & (ny <= ry).all(axis=2)
            a, g = np.nonzero(ok)
            self.counted += ok.size
            if len(a) > self.max_combos:
                return None
            ux, uy = nx[a, g], ny[a, g]
            P = P[a] * self.pmin[di][g]
            Q = Q[a] * self.nmax[di][g]
            first = g if j == 0 else first[a]
            idx = np.hstack([idx[a], g[:, None]])
        return P, Q, first, idx

    def spatial(self, U, idx: np.ndarray, fixed: dict[int, int]) -> np.ndarray:
        """[K, D, L]: every dimension's spatial factor (X times Y) at each level in each
        combination (profiles ``idx`` of ``U``, rows ``fixed`` of the others)."""
        bd, L = self.bd, self.bd.L
        sp = np.ones((len(idx), len(bd.dims), L))
        for di, r in fixed.items():
            sp[:, di] = bd.dims[di].sx[r] * bd.dims[di].sy[r]
        for j, di in enumerate(U):
            k = self.keys[di][idx[:, j]]
            sp[:, di] = k[:, :L] * k[:, L:]
        return sp

    def bound(self, U, pos: np.ndarray, neg: np.ndarray, spx: np.ndarray, spy: np.ndarray,
              ce: np.ndarray | None, fixed: dict[int, int] | None = None):
        """(energy [K], cycles [K], first [K]) lower bounds, one per combination of
        profiles, of the subtree with assigned column products ``pos``, ``neg`` (1-D),
        assigned spatial products ``spx``, ``spy`` [L] and B7 extents ``ce`` [1, ...],
        with each combination's profile of ``U[0]`` (the child subtrees fixing ``U[0]`` to
        a row of profile ``g`` lie in the combinations with ``first == g``); None when
        skipped. No combination at all: the subtree has no legal completion (empty).
        ``fixed`` (dimension index -> row of every assigned dimension) applies rule O
        below the root too, with the assigned loops' factors."""
        got = self.combos(list(U), spx, spy)
        if got is None:
            return None
        P, Q, first, idx = got
        if not len(P):
            return np.zeros(0), np.zeros(0), first
        c = None if ce is None else np.broadcast_to(ce, (len(P), ce.shape[1]))
        pos, neg = pos[None] * P, neg[None] * Q
        root = len(U) == len(self.bd.dims)
        if self.origins is not None and (root or fixed is not None):
            # rule V: distinct origins along compound axes (origins.py)
            f = self.origins.factor(self.spatial(list(U), idx, fixed or {}))
            if f is not None:
                pos = pos * f
        energy, cycles = self.bd.bound(pos, neg, ce=c)
        if self.outermost is not None and c is not None and (root or fixed is not None):
            # rule O: the outermost loop's refetch (outermost.py)
            energy = np.maximum(energy, self.outermost.energy(
                pos, neg, c, None if root else fixed,
                {di: idx[:, j] for j, di in enumerate(U)}))
        return energy, cycles, first
