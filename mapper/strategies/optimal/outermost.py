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
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder, solo_dims
from .compulsory import touched_words


class OutermostLoop:
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
        self.loopf, self.least_f, self.span, self.span_max = [], [], [], []
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
            above = np.cumprod(np.hstack([np.ones((len(F), 1), dtype=np.int64),
                                          f.temporal[:, :-1]]), axis=1)  # levels < k
            sp = f.ext[:, :1] / above  # every factor but the temporal ones above k
            self.span.append(sp)
            self.span_max.append(sp.max(axis=0))
        self.axis_dims = [[axis[0][1] for axis in t.axes] if bd.simple[ti] else None
                          for ti, t in enumerate(tensors)]
        self.perfect = [f.prod(axis=1) == b for f, b in zip(st.factors, st.bounds)]
        self.solo = [[self.di[d] for d in solo_dims(t)] for t in tensors]

    def _serve(self, ti: int, x: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Energy of the outermost level serving ``x`` words of tensor ``ti`` to the next
        keeper (as ``kernels._chain_row`` prices it)."""
        bd = self.bd
        if bd.workload.tensors[ti].read_write:
            held = bd.words[ti] * Q[:, bd.col_q[(ti, 0)]]
            return self.up0[ti] * x + self.rd0[ti] * np.maximum(x - held, 0.0)
        return self.rd0[ti] * x

    def _cases(self, fixed: dict[int, int] | None):
        """[(d0, j0, F0)]: the cases that a completion of ``fixed`` (dimension index ->
        row) can be in, with the least factor its outermost loop can have (0: no loop)."""
        fixed = fixed or {}
        out = []
        for d0, j0 in self.cases:
            if any((self.loopf[di][r, :j0] > 1).any() for di, r in fixed.items()):
                continue  # an assigned loop lies above level j0
            if d0 is None:
                out.append((None, j0, 0))
                continue
            di = self.di[d0]
            f0 = self.loopf[di][fixed[di], j0] if di in fixed else self.least_f[di][j0]
            if f0 > 1:
                out.append((d0, j0, int(f0)))
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

    def _scaled(self, ti: int, ch: tuple, f0: int, ce: np.ndarray, steps: dict) -> np.ndarray:
        """``ce`` with the columns of chain ``ch``'s keepers below the outermost level
        multiplied by ``f0 - (f0 - 1) / n`` (``n``: their ``steps``), both halves under
        links: the outermost loop's ``f0`` iterations each need the fills of one, but the
        keeper carries at most one tile (a ``1/n`` of them) into the next."""
        bd = self.bd
        out = np.array(ce, dtype=np.float64, copy=True)
        for c in ch[1:]:
            g = f0 - (f0 - 1) / steps[(ti, c)]
            col = bd.col_ce[(ti, c)]
            out[:, col] *= g
            if bd.links:
                out[:, col + bd.n_ce] *= g
        return out

    def cases_terms(self, P: np.ndarray, Q: np.ndarray, ce: np.ndarray,
                    fixed: dict[int, int] | None = None):
        """Per case ``(d0, j0, f0)`` that a completion of ``fixed`` can be in: per tensor,
        per chain (``Bounder.chains`` order), the energy [K] that every mapping of the
        case with that chain spends on the tensor at least (arguments as ``energy``)."""
        bd, L = self.bd, self.bd.L
        inst = P[:, 1:1 + L] / P[:, :1]  # instances of each level (exact in a profile)
        steps = {(ti, c): self._steps(ti, c, fixed) for ti, t in enumerate(bd.workload.tensors)
                 if not t.read_write for c in range(1, L)}
        # per tensor, per chain: (energy, k1, energy with the outermost loop's f0 and
        # whether its steps refetch, fits, cache)
        terms = []
        for ti, t in enumerate(bd.workload.tensors):
            rows = []
            for ch in bd.chains[ti]:
                e = bd.chain_energy(ti, ch, P, Q, ce=ce)
                if len(ch) < 2:
                    rows.append((e, L, None, None, None))
                    continue
                k1 = ch[1]
                H = inst[:, k1] * self.cap[k1][ti]
                if bd.simple[ti]:  # distinct tiles only
                    H = H / P[:, bd.col_r[(ti, k1)]]
                T = self.touched[ti]
                gap = np.maximum(T - self._held(ti, k1, H, fixed), 0.0)

                def priced(f0, refetch, ti=ti, ch=ch, k1=k1, e=e, gap=gap, T=T):
                    c = self._scaled(ti, ch, f0, ce, steps) if refetch else ce
                    base = e if not refetch else bd.chain_energy(ti, ch, P, Q, ce=c)
                    x0 = bd.solo_words[ti] * P[:, bd.col_r[(ti, 0)]] * c[:, bd.col_ce[(ti, k1)]]
                    now = self._serve(ti, np.maximum(x0, self.comp[ti]), Q)
                    more = np.maximum(x0, T + (f0 - 1) * gap)
                    return base + np.maximum(self._serve(ti, more, Q) - now, 0.0)
                rows.append((e, k1, priced, T <= H, {}))
            terms.append(rows)
        for d0, j0, f0 in self._cases(fixed):
            # the outermost loop's steps refetch a read-only tensor it does not index when
            # its factor is not already in ``ce`` (an unassigned dimension)
            fresh = d0 is not None and self.di[d0] not in (fixed or {})
            out = []
            for ti, rows in enumerate(terms):
                refetch = fresh and not bd.workload.tensors[ti].read_write
                vals = []
                for e, k1, priced, fits, cache in rows:
                    if priced is None:  # the outermost level alone
                        v = e
                    elif j0 < k1:
                        if d0 in self.indexes[ti]:
                            v = e
                        else:
                            if (f0, refetch) not in cache:
                                cache[(f0, refetch)] = priced(f0, refetch)
                            v = cache[(f0, refetch)]
                    else:
                        v = np.where(fits, e, np.inf)
                    vals.append(v)
                out.append(vals)
            yield (d0, j0, f0), out

    def energy(self, P: np.ndarray, Q: np.ndarray, ce: np.ndarray,
               fixed: dict[int, int] | None = None) -> np.ndarray:
        """[K]: a lower bound of the energy of every mapping in each combination (column
        products ``P`` [K, n_pos], ``Q`` [K, n_neg], extents ``ce`` [K, ...] as
        ``Bounder.bound`` takes them), at least rule P's own bound. ``fixed``: the rows
        of the dimensions assigned so far (None at the root): their loops decide which
        cases remain and their factors, and bound what a keeper holds."""
        fixed_e = self.bd.fixed_energy(P)
        best = np.full(len(P), np.inf)
        for _, per_tensor in self.cases_terms(P, Q, ce, fixed):
            total = fixed_e.copy()
            for vals in per_tensor:
                total = total + np.min(vals, axis=0)
            best = np.minimum(best, total)
        return best * SAFETY
