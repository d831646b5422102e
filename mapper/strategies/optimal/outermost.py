"""Rule O: the outermost loop's refetch that capacity forces (docs/optimal.md, "The
outermost loop (rule O)").

Rule P bounds each combination of spatial profiles with every tensor's cheapest chain,
and at the root no temporal factor is known, so no refetch is counted: each tensor is
read once from the outermost level, which needs every keeper to hold what it must reuse.
Rule O prices the mapping's outermost non-unit temporal loop instead, case by case. Let
it be a loop over dimension ``d0`` at level ``j0`` (or let there be none). Then for a
tensor ``t`` and a chain whose first keeper below the outermost level is ``k1``:

* ``j0 < k1`` and ``d0`` does not index ``t``: each of the loop's (at least 2)
  iterations covers every value of the other dimensions, so the MACs read every touched
  word ``T`` of ``t`` in each; at the first visit of an iteration ``k1``'s instances hold
  at most ``H`` words of ``t`` (their previous tiles); every other word the iteration
  needs is in some tile of ``k1`` during it (every keeper passes on what the MACs read,
  and a lower keeper's tile lies in one of ``k1``'s), and the first such tile fetches it
  from the parent, not over a link (a link carries a word a neighbour held at the
  previous visit). So ``k1`` receives, and the outermost level serves it, at least
  ``T + (T - H)`` words (rule C counts ``T``).
* ``j0 >= k1`` (or no non-unit loop): ``k1`` has one visit, its tiles hold every touched
  word at once, so the chain is illegal when ``T > H``.

``H`` is the instances of ``k1`` times its capacity in words of ``t`` (before multiple
buffering: the model fetches against the previous tile alone, which fits); for a simple
tensor, instances that agree in the spatial indices of ``t``'s dimensions hold the same
tile, so only the distinct tiles count. The cases are every dimension with a bound above
1 at every level, and none: a superset of what a mapping can do, so the least over the
cases bounds every mapping of the combination.

Below the root (docs/optimal.md, "Rule O below the root") the assigned rows drop the
cases their loops contradict, give the loop's factor ``F0`` (``T + (F0 - 1)(T - H')``,
``H'`` at most one iteration's slice of a simple tensor), add the refills of the keepers
of a read-only tensor the loop's iterations repeat, and split a case at the outermost
level by ``F0`` and by the second loop there (or none: then a keeper with no loop
between holds one slice at once).

Rule S (docs/optimal.md, "Kept tiles share a level (rule S)"): in each case a chain
whose first keeper has one instance right below the outermost level needs at least that
level's slice of the tensor there, and the chains chosen for the tensors must fit each
level's capacity together (``shared``).

Rule Z (docs/optimal.md, "The outermost level's loops as a set (rule Z)", ``level0.py``):
each pair case is refined by the second loop's exact factor and the further loops at
the outermost level, whose repeats refill the keepers of simple read-only tensors; a
coarse case per group bounds its cases, so they are priced only where it could lower
the least (``energy``).
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder, solo_dims
from .compulsory import touched_words
from .level0 import Level0Loops


class OutermostLoop(Level0Loops):
    """Rule O's energy bound of combinations of spatial profiles (``energy``)."""

    def __init__(self, bd: Bounder):
        self.bd = bd
        wl, arch, L = bd.workload, bd.arch, bd.L
        tensors = wl.tensors
        self.touched = [touched_words(t, wl) for t in tensors]
        self.cap = [[np.inf if lv.capacity_words is None else
                     float(lv.capacity_words * lv.word_bits // lv.bits(t.name))
                     for t in tensors] for lv in arch.levels]
        top = arch.levels[0]
        self.rd0 = [top.read_energy_pj / top.block_words(t.name) for t in tensors]
        self.up0 = [top.update_energy_pj / top.block_words(t.name) for t in tensors]
        # rule S: bits one instance may fill, and bits per word of each tensor, per level
        self.cap_bits = [np.inf if lv.effective_capacity_bits is None else
                         float(lv.effective_capacity_bits) for lv in arch.levels]
        self.word_bits_of = [[float(lv.bits(t.name)) for t in tensors] for lv in arch.levels]
        self.slice_cache: dict = {}  # (case, assigned level-0 factors) -> slice words
        self.comp = [float(x) for x in bd.chain_tables[-1]]  # rule C's words, as priced
        self.indexes = [{d for axis in t.axes for c, d in axis if c != 0} for t in tensors]
        self.cases = [(d, j) for d in wl.dims if wl.bound(d) > 1 for j in range(L)]
        self.cases.append((None, L))  # no non-unit temporal loop
        # Known factors (interior nodes): per dimension (bd.dims order) and row, the least
        # non-unit loop factor at each level (1: no such loop), the least over its rows
        # (0: no row has one there), and the words of a simple tensor's axis over that
        # dimension in one iteration of the temporal loops above each level.
        st = bd.st
        self.di = {d: i for i, d in enumerate(st.dims)}
        self.loopf, self.least_f, self.most_f, self.span, self.span_max = [], [], [], [], []
        self.values0 = []  # per dimension, the non-unit factors its rows take at level 0
        for di, f in enumerate(bd.dims):
            F = st.factors[di]
            lf = np.zeros((len(F), L), dtype=np.int64)
            for j, (lvl, kind) in enumerate(st.slots):
                if kind == "T":
                    v = np.where(F[:, j] > 1, F[:, j], 0)
                    lf[:, lvl] = np.where(lf[:, lvl] == 0, v,
                                          np.where(v == 0, lf[:, lvl], np.minimum(lf[:, lvl], v)))
            self.loopf.append(np.maximum(lf, 1))
            self.least_f.append(np.array([lf[lf[:, j] > 0, j].min() if (lf[:, j] > 0).any()
                                          else 0 for j in range(L)]))
            self.most_f.append(f.temporal.max(axis=0))  # the largest product at each level
            self.values0.append(sorted({int(v) for v in f.temporal[:, 0] if v > 1}))
            above = np.cumprod(np.hstack([np.ones((len(F), 1), dtype=np.int64),
                                          f.temporal[:, :-1]]), axis=1)  # levels < k
            sp = f.ext[:, :1] / above  # every factor but the temporal ones above k
            self.span.append(sp)
            self.span_max.append(sp.max(axis=0))
        self.axis_dims = [[axis[0][1] for axis in t.axes] if bd.simple[ti] else None
                          for ti, t in enumerate(tensors)]
        self.perfect = [f.prod(axis=1) == b for f, b in zip(st.factors, st.bounds)]
        self.solo = [[self.di[d] for d in solo_dims(t)] for t in tensors]
        # Level 0's loops split into cases by the first two (one T slot there: a dimension
        # has one loop at level 0); below each keeper, whether only level 0 has loops.
        t_slots = [lvl for lvl, kind in st.slots if kind == "T"]
        self.pairs = t_slots.count(0) == 1
        self.only0 = [not any(0 < lvl < k for lvl in t_slots) for k in range(L)]
        # rule Z: simple read-only tensors, and the dimensions that do not index one of
        # them (a pair case is split by whether such a dimension has a loop at level 0)
        self.zmay = [self.pairs and bd.simple[ti] and not t.read_write
                     for ti, t in enumerate(tensors)]
        self.zsplit = {d for d in self.di if any(z and d not in self.indexes[ti]
                                                 for ti, z in enumerate(self.zmay))}
        self.zindex = {d for d in self.di if any(z and d in self.indexes[ti]
                                                 for ti, z in enumerate(self.zmay))}

    def _serve(self, ti: int, x: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Energy of the outermost level serving ``x`` words of tensor ``ti`` to the next
        keeper (as ``kernels._chain_row`` prices it)."""
        bd = self.bd
        if bd.workload.tensors[ti].read_write:
            held = bd.words[ti] * Q[:, bd.col_q[(ti, 0)]]
            return self.up0[ti] * x + self.rd0[ti] * np.maximum(x - held, 0.0)
        return self.rd0[ti] * x

    def _factor(self, d: str, j: int, fixed: dict[int, int]) -> int:
        """The least non-unit loop factor of ``d`` at level ``j`` in a completion of
        ``fixed`` (0: it has none there)."""
        di = self.di[d]
        f = self.loopf[di][fixed[di], j] if di in fixed else self.least_f[di][j]
        return int(f) if f > 1 else 0

    def _cases(self, fixed: dict[int, int] | None) -> list[tuple]:
        """[(d0, j0, F0, d1, F1, alone, (with, maybe, exact))]: the cases a completion of
        ``fixed`` (dimension index -> row) can be in: the outermost non-unit loop over
        ``d0`` at level ``j0`` with its least factor ``F0`` (``d0`` None: no loop); at
        level 0, split further by the second loop there, ``d1`` with ``F1`` (None:
        ``alone``, the only one there), and by the further loops there (rule Z:
        ``_further``; ``exact``: ``F1`` is the second loop's factor, not its least)."""
        return [c for coarse, fine in self._groups(fixed) for c in (fine or [coarse])]

    def _groups(self, fixed: dict[int, int] | None) -> list[tuple]:
        """[(coarse, cases)]: ``_cases`` grouped by the first two loops at level 0 and
        ``F0``, each group with a coarse case below all of them (``F1`` its least, the
        further loops open; ``cases`` None: the coarse case is the only one)."""
        fixed = fixed or {}
        out = []
        for d0, j0 in self.cases:
            if any((self.loopf[di][r, :j0] > 1).any() for di, r in fixed.items()):
                continue  # an assigned loop lies above level j0
            if d0 is None:
                out.append(((None, j0, 0, None, 0, False, ((), (), True)), None))
                continue
            f0 = self._factor(d0, j0, fixed)
            if not f0:
                continue
            if j0 > 0 or not self.pairs:
                out.append(((d0, j0, f0, None, 0, False, ((), (), True)), None))
                continue
            di0 = self.di[d0]
            factors0 = [f0] if di0 in fixed else self.values0[di0]
            if not any(self.loopf[di][r, 0] > 1 for di, r in fixed.items()
                       if di != di0):  # d0's loop alone at level 0: each factor
                for f in factors0:
                    out.append(((d0, 0, int(f), None, 0, True, ((), (), True)), None))
            for d1 in self.di:
                f1 = self._factor(d1, 0, fixed) if d1 != d0 and \
                    self.bd.workload.bound(d1) > 1 else 0
                if not f1:
                    continue
                # each factor of d0 and of d1 (the slices shrink with them, the terms
                # grow with them): the assigned row's, or each value its rows take
                di1 = self.di[d1]
                factors1 = [f1] if di1 in fixed else self.values0[di1]
                coarse = self.further(d0, d1, fixed, True)[0]
                fine = self.further(d0, d1, fixed)
                for f in factors0:
                    out.append(((d0, 0, int(f), d1, f1, False, coarse),
                                [(d0, 0, int(f), d1, int(g), False, rest)
                                 for rest in fine for g in factors1]))
        return out

    def _held(self, ti: int, k1: int, H: np.ndarray, fixed: dict[int, int] | None):
        """The words of tensor ``ti`` that keeper ``k1``'s instances hold at once: at most
        ``H``, and for a simple tensor at most one iteration's slice of the temporal loops
        above ``k1`` (every tile of ``k1`` lies in it)."""
        dims = self.axis_dims[ti]
        if dims is None:
            return H
        fixed = fixed or {}
        words = 1.0
        for d in dims:
            di = self.di[d]
            words *= self.span[di][fixed[di], k1] if di in fixed else self.span_max[di][k1]
        return np.minimum(H, words)

    def _steps(self, ti: int, c: int, fixed: dict[int, int] | None) -> float:
        """Distinct tiles keeper ``c`` of read-only tensor ``ti`` takes in one iteration
        of the outermost loop at least: the product of the assigned solo dimensions'
        temporal factors above ``c`` (each step moves the tile along a solo axis to a
        disjoint place); 1 unless every assigned row is a perfect factorization."""
        fixed = fixed or {}
        if not all(self.perfect[di][r] for di, r in fixed.items()):
            return 1.0
        return float(np.prod([self.bd.dims[di].temporal[fixed[di], :c].prod()
                              for di in self.solo[ti] if di in fixed]))

    def _scaled(self, ti: int, ch: tuple, f: int, cut: float, ce: np.ndarray,
                steps: dict) -> np.ndarray:
        """``ce`` with the columns of chain ``ch``'s keepers below the outermost level
        multiplied by ``f - (f - 1) / n`` (``n``: their ``steps`` over ``cut``), both halves
        under links: ``f`` iterations of the outermost loops (a prefix of the nest) each
        need the fills of one, but the keeper carries at most one tile (a ``1/n`` of
        them) into the next."""
        bd = self.bd
        out = np.array(ce, dtype=np.float64, copy=True)
        for c in ch[1:]:
            g = f - (f - 1) / max(steps[(ti, c)] / cut, 1.0)
            col = bd.col_ce[(ti, c)]
            out[:, col] *= g
            if bd.links:
                out[:, col + bd.n_ce] *= g
        return out

    def cases_terms(self, P: np.ndarray, Q: np.ndarray, ce: np.ndarray,
                    fixed: dict[int, int] | None = None):
        """Per case (``_cases``) that a completion of ``fixed`` can be in: per tensor, per
        chain (``Bounder.chains`` order), the energy [K] that every mapping of the case
        with that chain spends on the tensor at least (arguments as ``energy``)."""
        for case, out, _ in self.cases_needs(P, Q, ce, fixed):
            yield case, out

    def cases_needs(self, P: np.ndarray, Q: np.ndarray, ce: np.ndarray,
                    fixed: dict[int, int] | None = None, done: dict | None = None,
                    prof: dict | None = None, cases=None, mode: dict | None = None):
        """``cases_terms`` with, per tensor and chain, the chain's first keeper ``k1`` and
        the bits [K] one instance of it must fill with the tensor in that case (None: not
        known): where the case leaves ``k1`` one visit per slice (rule S)."""
        bd, L = self.bd, self.bd.L
        inst = P[:, 1:1 + L] / P[:, :1]  # instances of each level (exact in a profile)
        steps = {(ti, c): self._steps(ti, c, fixed) for ti, t in enumerate(bd.workload.tensors)
                 if not t.read_write for c in range(1, L)}
        # per tensor, per chain: (energy, k1, its price in a case, T, H, H', cache)
        terms = []
        for ti, t in enumerate(bd.workload.tensors):
            rows = []
            for ch in bd.chains[ti]:
                e = bd.chain_energy(ti, ch, P, Q, ce=ce)
                if len(ch) < 2:
                    rows.append((e, L, None, None, None, None, None, None))
                    continue
                k1 = ch[1]
                distinct = inst[:, k1]
                if bd.simple[ti]:  # distinct tiles only
                    distinct = distinct / P[:, bd.col_r[(ti, k1)]]
                H = distinct * self.cap[k1][ti]
                T = self.touched[ti]
                held = self._held(ti, k1, H, fixed)

                def priced(words, f, cut, z, ti=ti, ch=ch, k1=k1, e=e):
                    # the serve of ``words`` (None: rule C's), refills ``f`` (1: none) and
                    # rule Z's level-0 refills ``z`` = (F, K) (None: none)
                    c = self._scaled(ti, ch, f, cut, ce, steps) if f > 1 else ce
                    if z is not None:
                        c = self.refilled(ti, ch, z, c, inst, P)
                    base = e if c is ce else bd.chain_energy(ti, ch, P, Q, ce=c)
                    if words is None:
                        return base
                    x0 = bd.solo_words[ti] * P[:, bd.col_r[(ti, 0)]] * c[:, bd.col_ce[(ti, k1)]]
                    now = self._serve(ti, np.maximum(x0, self.comp[ti]), Q)
                    more = np.maximum(x0, words)
                    return base + np.maximum(self._serve(ti, more, Q) - now, 0.0)
                rows.append((e, k1, priced, T, H, held, {}, distinct))
            terms.append(rows)
        single = (inst == 1).astype(np.float64)  # [K, L]: levels with one instance
        single = [single[:, k] for k in range(L)]
        fkey = tuple(sorted((di, int(self.bd.dims[di].temporal[r, 0]))
                            for di, r in (fixed or {}).items()))  # level 0's known factors
        for case in (self._cases(fixed) if cases is None else cases):
            if done is not None and (case[:4], case[6]) in done and \
                    done[(case[:4], case[6])] is None:
                continue  # a larger second factor of a case whose capacity did not bind
            out, needs = [], []
            box = self.slice_words(case, fixed, fkey)
            for ti, rows in enumerate(terms):
                vals, need = [], []
                z = self.counts(ti, case, fixed, prof) if self.zmay[ti] and \
                    (mode is None or mode["full"]) else None
                if z is not None and all(np.all(a * z[3] <= 1) for a, _, _ in z[0]):
                    z = None  # no loop at level 0 that repeats the tensor
                zid = None if z is None else self.zkey(z)
                for e, k1, priced, T, H, held, cache, distinct in rows:
                    need.append(None)
                    if priced is None:  # the outermost level alone
                        vals.append(e)
                        continue
                    bits = self.word_bits_of[k1][ti]
                    if self.only0[k1]:  # one instance: its tile is level 0's slice
                        need[-1] = (k1, single[k1] * (bits * box[ti]))
                    key, fits = self._case_key(ti, case, k1, fixed)
                    if fits is not None:  # slices that must fit k1 at once
                        if z is not None and ("F", zid) not in cache:  # rule Z below k1
                            cache[("F", zid)] = priced(None, 1, 1.0, z)
                        vals.append(np.where(fits * T <= H, e if z is None else
                                             cache[("F", zid)], np.inf))
                        # each instance's tile: at least its share of the slice
                        share = fits * T / distinct * bits
                        need[-1] = (k1, share if need[-1] is None else
                                    np.maximum(need[-1][1], share))
                        continue
                    if (key, zid) not in cache:
                        cache[(key, zid)] = priced(*self._case_words(key, T, held), z)
                    vals.append(cache[(key, zid)])
                out.append(vals)
                needs.append(need)
            yield case, out, needs

    def _case_key(self, ti: int, case: tuple, k1: int, fixed: dict[int, int] | None):
        """(key, fits): how a case prices tensor ``ti`` with first keeper ``k1``. ``fits``
        (the share of ``T`` that ``k1`` must hold at once) when the loops above ``k1`` are
        known and leave it one visit per slice, else ``key`` = (kind, f0, f1, refill
        factor, steps divisor) for ``_case_words``."""
        d0, j0, f0, d1, f1, alone, _ = case
        fixed = fixed or {}
        idx = self.indexes[ti]
        ro = not self.bd.workload.tensors[ti].read_write
        fresh0 = d0 is not None and self.di[d0] not in fixed
        if d0 is None or j0 >= k1:
            return None, 1.0  # no loop above k1: one visit
        di0 = self.di[d0]
        # d0's largest factor (what the slices shrink with): exact when assigned
        # d0's factor is exact at level 0 (one case per factor), its least elsewhere
        f0hi = int(self.bd.dims[di0].temporal[fixed[di0], j0]) if di0 in fixed \
            else f0 if j0 == 0 and self.pairs else int(self.most_f[di0][j0])
        if alone and self.only0[k1]:  # d0's loop alone above k1
            return None, (1.0 / f0hi if d0 in idx else 1.0)
        if d1 is None:
            if d0 in idx:
                return ("C",), None
            return ("O", f0, 0, f0 if ro and fresh0 else 1, 1.0), None
        fresh1 = self.di[d1] not in fixed
        i0, i1 = d0 in idx, d1 in idx
        if not i0 and not i1:
            f = f0 * f1 if fresh0 and fresh1 else f0 if fresh0 else f1 if fresh1 else 1
            return ("OO", f0, f1, f if ro else 1, 1.0), None
        if not i0:
            return ("O", f0, 0, f0 if ro and fresh0 else 1, 1.0), None
        if not i1:
            cut = float(f0hi) if di0 in fixed and di0 in self.solo[ti] else 1.0
            kind = "IOs" if self.bd.simple[ti] and di0 in self.solo[ti] else "IO"
            return (kind, f0hi, f1, f1 if ro and fresh1 else 1, cut), None
        return ("C",), None

    def _case_words(self, key: tuple, T: float, held: np.ndarray):
        """(serve words lower bound or None, refill factor, steps divisor) of a key."""
        if key[0] == "C":
            return None, 1, 1.0
        kind, f0, f1, f, cut = key
        if kind == "O":  # T + (f0 - 1)(T - H')
            return T + (f0 - 1) * np.maximum(T - held, 0.0), f, cut
        if kind == "OO":
            return T + (f0 * f1 - 1) * np.maximum(T - held, 0.0), f, cut
        # f0 (its largest) slices along an indexed axis, each needed f1 times: disjoint
        # slices of a simple tensor's solo axis carry nothing into the next ("IOs")
        if kind == "IOs":
            return T + (f1 - 1) * np.maximum(T - f0 * held, 0.0), f, cut
        return np.maximum(T, f1 * T - (f0 * f1 - 1) * held), f, cut

    def energy(self, P: np.ndarray, Q: np.ndarray, ce: np.ndarray,
               fixed: dict[int, int] | None = None,
               prof: dict | None = None) -> np.ndarray:
        """[K]: a lower bound of the energy of every mapping in each combination (column
        products ``P`` [K, n_pos], ``Q`` [K, n_neg], extents ``ce`` [K, ...] as
        ``Bounder.bound`` takes them), at least rule P's own bound. ``fixed``: the rows
        of the dimensions assigned so far (None at the root): their loops decide which
        cases remain and their factors, and bound what a keeper holds."""
        fixed_e = self.bd.fixed_energy(P)
        best = np.full(len(P), np.inf)
        # A pair case's second factor comes in ascending order, and every term grows
        # with it but the slices rule S checks (and rule Z's refills when the second
        # loop indexes their tensor): once they fit, the larger ones add nothing.
        # Each group's coarse case first, priced without rule Z (a floor for the group's
        # cases, each of which is at least it); then a group's cases, with rule Z, only
        # where that floor is below the least found so far.
        done: dict = {}  # per such case: the combinations still open (None: none)
        groups = self._groups(fixed)
        low = [None] * len(groups)
        once = [False] * len(groups)
        cur: dict = {}  # the group of the case being priced, and whether in full

        def order():  # reads ``best`` as the loop below lowers it
            for gi, (coarse, fine) in enumerate(groups):
                # (a case without a loop at level 0 has nothing for rule Z: priced once)
                cur["g"], cur["full"] = gi, fine is None and (coarse[0] is None or coarse[1] > 0)
                yield coarse
            cur["full"] = True
            for gi in sorted(range(len(groups)), key=lambda g: float(np.min(low[g]))):
                if once[gi] or not np.any(low[gi] < best):
                    continue  # priced already, or no combination it could lower
                fine = groups[gi][1]
                if fixed is None or fine is None:  # (the root: no split, for time)
                    fine = [groups[gi][0]]
                else:  # the coarse case with rule Z first: a floor nearer its cases
                    cur["g"], cur["mid"] = gi, True
                    yield groups[gi][0]
                    cur["mid"] = False
                    if not np.any(low[gi] < best):
                        continue
                for case in fine:
                    cur["g"] = gi
                    yield case

        for case, per_tensor, needs in self.cases_needs(P, Q, ce, fixed, done, prof, order(),
                                                        cur):
            gi = cur["g"]
            if cur["full"] or cur.get("mid"):
                total, binds = self.shared(per_tensor, needs)
            else:  # (a coarse case's floor: rule S left to its group's cases)
                total, binds = sum(np.min(vals, axis=0) for vals in per_tensor), False
            ok = self.possible(case, prof) if prof and cur["full"] else True
            if ok is not True:  # rule Z: the combinations whose profiles allow the case
                total = np.where(ok, total, np.inf)
            total = fixed_e + total
            if cur.get("mid"):
                low[gi] = np.maximum(low[gi], total)
                continue
            if low[gi] is None:
                low[gi] = total
                once[gi] = cur["full"]
                if not cur["full"]:
                    continue  # a coarse case: a floor for its group's cases
            best = np.minimum(best, total)
            if case[3] is not None and case[3] not in self.zindex:
                g = (case[:4], case[6])
                open_ = done.get(g, True) & ~(ok & ~binds)
                done[g] = open_ if np.any(open_) else None
        return best * SAFETY
