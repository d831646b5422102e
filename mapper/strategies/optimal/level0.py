"""Rule Z and rule S's pieces of rule O's cases (docs/optimal.md, "The outermost level's
loops as a set (rule Z)" and "Kept tiles share a level (rule S)").

Rule O's pair cases at the outermost level fix its first two loops and leave the others
open. ``Level0Loops`` (mixed into ``OutermostLoop``) refines them: the second loop's
factor exact, the further loops split by whether a dimension that does not index a
simple read-only tensor has one (``further``), what each combination's spatial profiles
allow (``possible``), the refills those loops force on the keepers of such a tensor
(``counts``, ``refilled``: level 0's iterations visit each disjoint slice ``a f`` times,
and a visit can start holding at most the keepers' capacity, only right after a visit
of the same slice), and rule S's slices and shared capacities (``slice_words``,
``shared``).
"""

from __future__ import annotations

import itertools

import numpy as np


class Level0Loops:
    """Mixed into ``OutermostLoop``: needs ``bd``, ``di``, ``values0``, ``least_f``,
    ``most_f``, ``pairs``, ``indexes``, ``zsplit``, ``cap``, ``cap_bits`` and ``slice_cache``."""

    def profile_factors(self, groups: list[np.ndarray]) -> None:
        """Per dimension (``bd.dims`` order) and spatial profile (``groups``: each row's
        profile, rule P), the factors its rows take at level 0: whether one is 1 (no
        loop), each non-unit value (``values0``), and the least and largest non-unit one
        (rule Z restricts each combination's cases to them)."""
        self.p_one, self.p_has, self.p_lo, self.p_hi = [], [], [], []
        for di, g in enumerate(groups):
            t0 = self.bd.dims[di].temporal[:, 0]
            G = int(g.max()) + 1 if len(g) else 0
            one = np.zeros(G, dtype=bool)
            one[g[t0 == 1]] = True
            has = np.zeros((G, len(self.values0[di])), dtype=bool)
            for j, v in enumerate(self.values0[di]):
                has[g[t0 == v], j] = True
            lo = np.full(G, np.inf)
            np.minimum.at(lo, g[t0 > 1], t0[t0 > 1].astype(float))
            hi = np.ones(G)
            np.maximum.at(hi, g, t0.astype(float))
            self.p_one.append(one)
            self.p_has.append(has)
            self.p_lo.append(lo)
            self.p_hi.append(hi)

    def possible(self, case: tuple, prof: dict) -> np.ndarray | bool:
        """[K] (or True): the combinations whose profiles (``prof``: unassigned dimension
        index -> each combination's profile) let an unassigned dimension take the
        case's factor at level 0: the first and second loops' values, a loop for the
        further ones, none (factor 1) for the others; every dimension none when the
        case has no loop at level 0."""
        d0, j0, f0, d1, f1, alone, (rest, maybe, exact1) = case
        ok = True
        for di, g in prof.items():
            d = self.bd.st.dims[di]
            if d0 is None or j0 > 0 or (alone and d != d0) or \
                    (d1 is not None and d not in (d0, d1) + rest + maybe):
                ok = ok & self.p_one[di][g]
            elif d in (d0, d1):
                v = self.values0[di]
                f = f0 if d == d0 else f1
                if f in v and (d == d1 and exact1 or d == d0 and self.pairs):
                    ok = ok & self.p_has[di][g, v.index(f)]
                else:
                    ok = ok & self.p_has[di][g].any(axis=1)
            elif d in rest:
                ok = ok & self.p_has[di][g].any(axis=1)
        return ok

    def further(self, d0: str, d1: str, fixed: dict[int, int],
                 coarse: bool = False) -> list[tuple]:
        """Rule Z's split of a pair case by the further loops at level 0: [(with, maybe)],
        the other dimensions that have a non-unit loop there (an assigned one that has
        it; an unassigned one that does not index some tensor rule Z refills, either
        way) and those left open (the other unassigned ones with rows that have it)."""
        sets, maybe = [()], ()
        for d, di in self.di.items():
            if d in (d0, d1) or self.bd.workload.bound(d) <= 1:
                continue
            if di in fixed:
                if self.loopf[di][fixed[di], 0] > 1:
                    sets = [s + (d,) for s in sets]
            elif self.values0[di]:
                if d in self.zsplit and not coarse:
                    sets = sets + [s + (d,) for s in sets]
                else:
                    maybe = maybe + (d,)
        return [(s, maybe, not coarse) for s in sets]

    def counts(self, ti: int, case: tuple, fixed: dict[int, int] | None,
                prof: dict | None = None):
        """Rule Z's counts of a case for a simple read-only tensor ``ti``: (variants, ``K``,
        ``lo``, ``hi``). ``K``: at most the distinct slices of ``ti`` the further loops at
        level 0 visit; ``lo``, ``hi``: the least and the largest product of their factors
        that do not index ``ti``; each variant (``a``, ``A``, ``s``): the first one or two
        loops' factors that do not index ``ti`` (their product ``a``, at least) and all
        (``A``, at most), and at most how many of their steps keep the slice (``s``: a
        step of a loop that does not index ``ti`` inside which no loop that does
        wraps). A second loop's factor is exact in a case, but the bound need not grow
        with it; its largest value is a second variant, so that it does (rule Z's floor
        takes the least). None when the case does not list every loop at level 0."""
        d0, j0, f0, d1, f1, alone, (rest, maybe, exact1) = case
        if d0 is None or j0 > 0 or not self.pairs or (d1 is None and not alone):
            return None
        fixed = fixed or {}
        idx = self.indexes[ti]
        K, lo, hi = 1.0, 1.0, 1.0
        for d in rest + maybe:
            di = self.di[d]
            if di in fixed:
                least = most = int(self.bd.dims[di].temporal[fixed[di], 0])
            elif prof is not None and di in prof:  # the combination's profile's rows
                least, most = self.p_lo[di][prof[di]], self.p_hi[di][prof[di]]
                least = np.where(np.isfinite(least), least, most)  # (none: not possible)
            else:
                least, most = int(self.least_f[di][0]), int(self.most_f[di][0])
            if d in maybe:
                least = 1  # it may have no loop at level 0
            if d in idx:
                K *= most
            else:
                lo, hi = lo * least, hi * most
        # no further loop that surely exists indexes ti (an open one may have none)
        none = all(d not in idx for d in rest)
        i0 = d0 in idx
        if d1 is None:  # alone: d0's steps keep the slice when it does not index ti
            return [(1.0 if i0 else f0, f0, 0.0 if i0 else f0 - 1.0)], K, lo, hi
        i1 = d1 in idx
        top = f1 if exact1 or self.di[d1] in fixed else int(self.most_f[self.di[d1]][0])
        variants = []
        for g in ({f1, top} if exact1 else {top}):
            a = (1.0 if i0 else f0) * (1.0 if i1 else (g if exact1 else f1))
            s = (f0 * (g - 1.0) if not i1 and none else 0.0) + \
                (f0 - 1.0 if not i0 and not i1 and none else 0.0)
            variants.append((a, float(f0 * g), s))
        return variants, K, lo, hi

    @staticmethod
    def zkey(z: tuple) -> tuple:
        """A hashable key of rule Z's counts (cases with equal counts price alike)."""
        def k(x):
            return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=np.float64).tobytes()
        variants, K, lo, hi = z
        return tuple(variants), k(K), k(lo), k(hi)

    def refilled(self, ti: int, ch: tuple, z: tuple, ce: np.ndarray, inst: np.ndarray,
                  P: np.ndarray) -> np.ndarray:
        """``ce`` with the columns of chain ``ch``'s keepers below the outermost level at
        least rule Z's multiple of one pass (``z`` from ``_level0``): level 0's
        iterations visit each disjoint slice of the tensor ``a f`` times (``f`` the
        further loops' product that does not index it), each visit needs the slice's
        words again, and only a visit right after one of the same slice can start with
        words held: at most ``C`` (a keeper's capacity in words of the tensor times its
        instances; ``w`` the tensor's words), at each of at most ``A K (f - 1)`` such
        visits inside the first loops' iterations and ``s`` at their steps. Linear in
        ``f``: the least of its two ends (and of the variants)."""
        bd = self.bd
        variants, K, lo, hi = z
        out = None
        for c in ch[1:]:
            r = self.cap[c][ti] * inst[:, c] / bd.solo_words[ti]  # C / w
            m = None
            for a, A, s in variants:
                for f in (lo, hi):
                    n = A * K * (f - 1.0) + s  # visits that may start with words held
                    # (a keeper that can hold the whole tensor: only where none does)
                    v = np.where(np.asarray(n) > 0,
                                 np.where(r < 1, a * f - n * np.minimum(r, 1.0), 0.0), a * f)
                    m = v if m is None else np.minimum(m, v)
            col = bd.col_ce[(ti, c)]
            cols = (col, col + bd.n_ce) if bd.links else (col,)
            src = ce if out is None else out
            if not any(np.any(m > src[:, j]) for j in cols):
                continue
            if out is None:
                out = np.array(ce, dtype=np.float64, copy=True)
            for j in cols:
                out[:, j] = np.maximum(out[:, j], m)
        return ce if out is None else out  # (``ce`` itself: no column rises)

    def slice_words(self, case: tuple, fixed: dict[int, int] | None,
                     fkey: tuple) -> list[float]:
        """Per tensor, the words of one iteration's slice of the loops at level 0 at
        least, in a case: each dimension's extent is its bound over the largest factor
        its level-0 loop can take there (exact when assigned or the case's first loop
        at level 0; 1 when the case has no loop at level 0 or the first loop is alone);
        ``fkey``: the assigned dimensions' level-0 factors (the cache key with the case)."""
        d0, j0, f0, d1, f1, alone, (rest, maybe, exact1) = case
        fixed = fixed or {}
        wl = self.bd.workload
        key = (case, fkey)
        if key in self.slice_cache:
            return self.slice_cache[key]
        top = {}
        for d in wl.dims:
            di = self.di.get(d)
            if di is None or d0 is None or j0 > 0:
                f = 1
            elif di in fixed:
                f = int(self.bd.dims[di].temporal[fixed[di], 0])
            elif d == d0:
                f = f0 if self.pairs else int(self.most_f[di][0])
            elif d == d1:  # the second loop at level 0: its exact factor (or largest)
                f = f1 if exact1 else int(self.most_f[di][0])
            elif alone or (d1 is not None and d not in rest + maybe):
                f = 1  # no loop at level 0 (rule Z's split)
            else:
                f = int(self.most_f[di][0])
            top[d] = -(-wl.bound(d) // max(f, 1))
        out = self.slice_cache[key] = [float(t.size(top)) for t in wl.tensors]
        return out

    def shared(self, per_tensor: list, needs: list) -> tuple[np.ndarray, bool]:
        """([K], binds): the least over chain choices (one per tensor) of the summed
        energies, a choice being illegal when the tensors whose first keeper ``k`` must
        hold a slice at once need more bits together than one instance of ``k`` holds
        (rule S: the model checks the sum of the kept tiles at a level); ``binds`` [K]
        (or False): where some need exceeds a capacity (elsewhere the plain sum of the
        least terms)."""
        total: dict[int, object] = {}  # per level: every tensor's need there, summed
        for need in needs:
            for k, b in {n[0]: n[1] for n in need if n is not None}.items():
                total[k] = total.get(k, 0.0) + b
        over = [b > self.cap_bits[k] * (1 + 1e-9) for k, b in total.items()]
        binds = np.any(over, axis=0) if over else False
        if not np.any(binds):
            return sum(np.min(vals, axis=0) for vals in per_tensor), binds  # nothing binds
        levels = {}
        for ti, need in enumerate(needs):
            for n in need:
                if n is not None and np.isfinite(self.cap_bits[n[0]]):
                    levels.setdefault(n[0], set()).add(ti)
        # a level binds only where the tensors' needs there may exceed it together
        shared = {k for k, ts in levels.items() if len(ts) > 1 and
                  np.any(total[k] > self.cap_bits[k] * (1 + 1e-9))}
        # per tensor, its options: (energy, level or None, bits): chains whose need is not
        # at a shared level merge into one free option (with their own fit)
        options = []
        for vals, need in zip(per_tensor, needs):
            free = [v if n is None or n[0] not in levels else
                    np.where(n[1] <= self.cap_bits[n[0]] * (1 + 1e-9), v, np.inf)
                    for v, n in zip(vals, need) if n is None or n[0] not in shared]
            opts = [(np.min(free, axis=0), None, None)] if free else []
            for k in sorted(shared):
                at = [(v, n[1]) for v, n in zip(vals, need) if n is not None and n[0] == k]
                if at:  # every chain with first keeper k needs the same bits in a case
                    opts.append((np.min([v for v, _ in at], axis=0), k, at[0][1]))
            options.append(opts)
        if not shared:
            return sum(o[0][0] for o in options), binds
        best = None
        for pick in itertools.product(*options):
            total = sum(o[0] for o in pick)
            for k in shared:
                used = sum(o[2] for o in pick if o[1] == k)
                if not np.isscalar(used) or used:
                    total = np.where(used <= self.cap_bits[k] * (1 + 1e-9), total, np.inf)
            best = total if best is None else np.minimum(best, total)
        return best, binds
