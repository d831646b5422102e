"""Batched evaluator: N mappings of one layer on one architecture at once, with numpy.

It computes the same quantities as the scalar evaluator (``evaluate``), which stays the
readable reference and against which this module is tested field by field
(tests/test_batched.py, tests/test_batched_exactness.py). The refetch rule of
docs/semantics.md under Timeloop's schedule has a closed form: with the non-unit
temporal loops above a tile ordered outermost first (factors ``N_j``, translations
``tau_j``, the innermost one ``k``), every step of loop ``j`` moves the tile by
``w_j = tau_j - sum_{i>j} tau_i``, the state before each step is ``tau_k``, so

    fetched = size * prod(N) - overlap(tau_k) * sum_{j : w_j == tau_k} P_j * (N_j - 1)

where ``P_j`` is the product of the factors outside loop ``j``.

How it is fast (all exact integer arithmetic; floats only where the scalar model uses
them, in the same order):

* Rows are processed in chunks; per chunk, only the **active** columns are touched: the
  (level, dimension) pairs where some row has a temporal (or spatial) factor > 1, and
  the (level, tensor) pairs that some row keeps. Everything else is a Python constant.
* Quantities are 1-D arrays over the rows of a chunk (one per level/dimension or
  level/tensor), so every numpy call is a contiguous vector operation.
* The nest order is never sorted: within a level, "loop i is outside loop j" is one
  rank comparison per pair of active loops; across levels it is the level order.
* Translation vectors are compared as one integer: ``tau -> sum_a tau_a * R_a`` with
  mixed radices ``R`` large enough (from the chunk's extents) that the map is injective
  on every difference that occurs, split over several integers when one would overflow
  int64.
"""

from __future__ import annotations

import math

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.workload import Workload

from .batched_fallback import score_rows_scalar
from .link_filter import LinkFilter, bypass_served
from .batched_ops import (BatchResult, Vec, count_origins, is_const, order_table, vadd,
                          vkey, vmul)
from .options import ModelOptions, model_options

_HASH_LIMIT = 1 << 62


class BatchEvaluator:
    """Precomputes what depends only on (layer, architecture); ``__call__`` scores batches
    in chunks of ``chunk`` rows (memory per call grows with the batch: outputs are kept)."""

    def __init__(self, workload: Workload, arch: Architecture, *, chunk: int = 3000,
                 options: ModelOptions | None = None):
        self.options = model_options(options)
        self.keep_stationary = self.options.keeps_stationary_translation
        self.workload = workload
        self.arch = arch
        self.chunk = int(chunk)
        dims = workload.dims
        D = len(dims)
        L = len(arch.levels)
        T = len(workload.tensors)
        self.L, self.D, self.T = L, D, T
        # Per tensor and axis: (sum of |coefficient|, dim) for extents (as the scalar
        # model: abs per term), and the signed coefficient per dim for translations.
        self.ext_terms: list[list[list[tuple[int, int]]]] = []
        self.coef: list[np.ndarray] = []  # [A, D] signed
        self.abscoef: list[np.ndarray] = []  # [A, D]
        self.tdims: list[list[int]] = []  # dims indexing each tensor (scalar: tensor.dims)
        self.axes_of_dim: list[list[frozenset[int]]] = []
        for t in workload.tensors:
            c = np.zeros((len(t.axes), D), dtype=np.int64)
            ac = np.zeros((len(t.axes), D), dtype=np.int64)
            for a, axis in enumerate(t.axes):
                for k, d in axis:
                    c[a, dims.index(d)] += k
                    ac[a, dims.index(d)] += abs(k)
            self.coef.append(c)
            self.abscoef.append(ac)
            self.ext_terms.append([[(int(ac[a, d]), d) for d in range(D) if ac[a, d]]
                                   for a in range(len(t.axes))])
            self.tdims.append([dims.index(d) for d in dims if d in t.dims])
            self.axes_of_dim.append([frozenset(a for a, axis in enumerate(t.axes)
                                               if any(dd == d for _, dd in axis))
                                     for d in dims])
        # Signed coefficient of each dim on each axis, with a trailing 0 for "no loop".
        self.coef_ext = [[np.append(c[a], 0) for a in range(c.shape[0])] for c in self.coef]
        self.read_write = [t.read_write for t in workload.tensors]
        self.block = [[lvl.block_words(t) for t in workload.tensor_names] for lvl in arch.levels]
        self.e_read = [l.read_energy_pj for l in arch.levels]
        self.e_fill = [l.fill_energy_pj for l in arch.levels]
        self.e_update = [l.update_energy_pj for l in arch.levels]
        self.e_leak = [l.leak_energy_pj for l in arch.levels]
        self.clusters = [l.utilized_clusters for l in arch.levels]  # charged access units
        self.bw = [(l.read_bandwidth, l.write_bandwidth, l.shared_bandwidth) for l in arch.levels]
        self.macs = workload.macs
        self.compute_energy = workload.macs * arch.compute.energy_pj
        self.instances = arch.compute.instances
        self.link_filter = LinkFilter(workload, arch, self.keep_stationary) \
            if self.options.link_transfers else None

    # -- main ---------------------------------------------------------------------------
    def __call__(self, b: MappingBatch) -> BatchResult:
        N = len(b)
        o = self._outputs(N)
        for s in range(0, N, max(1, self.chunk)):
            self._run(b, s, min(N, s + self.chunk), o)
        if self.options.link_transfers:
            self._link_rows(b, o)
        if b.residual is not None:  # residual loops: the scalar model scores those rows
            score_rows_scalar(self.workload, self.arch, self.options, b, o, b.imperfect_rows)
        t3 = lambda x: x.transpose(2, 0, 1)  # noqa: E731  [L, T, N] -> [N, L, T] view
        return BatchResult(o["energy"], o["cycles"], o["cc"], o["util"], o["pes"],
                           t3(o["tile"]), t3(o["partition"]), t3(o["reads"]), t3(o["fills"]),
                           t3(o["updates"]), t3(o["kept"]), o["level_energy"].T,
                           t3(o["tensor_energy"]), o["leak"].T, o["inst"].T)

    def _outputs(self, N: int) -> dict:
        L, T = self.L, self.T
        return {
            "tile": np.zeros((L, T, N), dtype=np.int64),
            "partition": np.zeros((L, T, N), dtype=np.int64),
            "reads": np.zeros((L, T, N), dtype=np.int64),
            "fills": np.zeros((L, T, N), dtype=np.int64),
            "updates": np.zeros((L, T, N), dtype=np.int64),
            "kept": np.zeros((L, T, N), dtype=bool),
            "tensor_energy": np.zeros((L, T, N)),
            "level_energy": np.zeros((L, N)),
            "leak": np.zeros((L, N)),
            "inst": np.zeros((L, N), dtype=np.int64),
            "energy": np.zeros(N),
            "cycles": np.zeros(N, dtype=np.int64),
            "cc": np.zeros(N, dtype=np.int64),
            "util": np.zeros(N),
            "pes": np.zeros(N, dtype=np.int64),
        }

    # -- one chunk ----------------------------------------------------------------------
    def _run(self, b: MappingBatch, s: int, e: int, o: dict, links: dict | None = None) -> None:
        """Rows s..e of ``b`` into ``o``; ``links``: per (child level, tensor), arrays over
        the rows of ``b`` of what link transfers change (``LinkFilter.effects``)."""
        L, D, T = self.L, self.D, self.T
        n = e - s
        sl = slice(s, e)
        lk = {} if links is None else {key: [x[sl] for x in v] for key, v in links.items()}
        # [L, D, n] views: row vectors are contiguous when the batch is stored that way.
        tv = np.moveaxis(b.temporal[sl], 0, -1)
        xv = np.moveaxis(b.spatial_x[sl], 0, -1)
        yv = np.moveaxis(b.spatial_y[sl], 0, -1)
        kv_all = np.moveaxis(b.keep[sl], 0, -1)

        Tv = self._columns(tv)
        Sx = self._columns(xv)
        Sy = self._columns(yv)
        Sv = [[vmul(Sx[l][d], Sy[l][d]) for d in range(D)] for l in range(L)]
        kany = kv_all.any(axis=-1)
        kall = kv_all.all(axis=-1)
        kv: list[list[Vec | bool]] = [[True if kall[l, t] else False if not kany[l, t]
                                        else np.ascontiguousarray(kv_all[l, t], dtype=bool)
                                        for t in range(T)] for l in range(L)]

        # Boxes: incl[l][d] = product of the factors of d at levels >= l.
        incl: list[list[Vec]] = [[1] * D for _ in range(L + 1)]
        for l in range(L - 1, -1, -1):
            for d in range(D):
                incl[l][d] = vmul(incl[l + 1][d], vmul(Tv[l][d], Sv[l][d]))
        prodlev: list[Vec] = []
        for l in range(L):
            p: Vec = 1
            for d in range(D):
                p = vmul(p, Tv[l][d])
            prodlev.append(p)
        prefix_all: list[Vec] = [1]
        for l in range(L):
            prefix_all.append(vmul(prefix_all[-1], prodlev[l]))
        cc = prefix_all[L]
        sp_level: list[Vec] = []
        for l in range(L):
            p = 1
            for d in range(D):
                p = vmul(p, Sv[l][d])
            sp_level.append(p)
        inst: list[Vec] = [1]
        for l in range(L - 1):
            inst.append(vmul(inst[-1], sp_level[l]))
        pes = vmul(inst[-1], sp_level[L - 1])

        # Extents and tiles of a box (a list of per-dimension Vecs), memoized by box list
        # and by content (ids of arrays that live for the whole chunk, or constants).
        ext_memo: dict = {}
        tile_memo: dict = {}
        by_box: dict = {}  # (t, axis or None, id(box list))

        def ext(t: int, a: int, box: list[Vec]) -> Vec:
            r = by_box.get((t, a, id(box)))
            if r is not None:
                return r
            terms = self.ext_terms[t][a]
            key = (t, a) + tuple(vkey(box[d]) for _, d in terms)
            r = ext_memo.get(key)
            if r is None:
                const = 1
                acc: Vec = 0
                for c, d in terms:
                    v = box[d]
                    if is_const(v):
                        const += c * (v - 1)
                    else:
                        const -= c
                        acc = vadd(acc, v if c == 1 else v * c)
                r = vadd(acc, const) if not is_const(acc) else acc + const
                ext_memo[key] = r
            by_box[t, a, id(box)] = r
            return r

        def tile(t: int, box: list[Vec]) -> Vec:
            r = by_box.get((t, None, id(box)))
            if r is not None:
                return r
            exts = [ext(t, a, box) for a in range(len(self.ext_terms[t]))]
            key = (t,) + tuple(vkey(x) for x in exts)
            r = tile_memo.get(key)
            if r is None:
                r = 1
                for x in exts:
                    r = vmul(r, x)
                tile_memo[key] = r
            by_box[t, None, id(box)] = r
            return r

        share = self._shares(b, sl, n, Tv, Sv, incl, prefix_all, kv, ext, tile)

        # Distinct child origins per level (multicast / reduction groups).
        groups: list[list[Vec]] = [[1] * T for _ in range(L)]
        for l in range(L):
            act = [d for d in range(D) if not is_const(Sv[l][d])]
            if not act:
                continue
            for t in range(T):
                rel = [d for d in act if d in self.tdims[t]]
                if not rel:
                    continue
                g: Vec = 1
                for d in rel:
                    g = vmul(g, Sv[l][d])
                axes = [self.axes_of_dim[t][d] for d in rel]
                shared = [(x, y) for x in range(len(rel)) for y in range(x + 1, len(rel))
                          if axes[x] & axes[y]]
                if shared:
                    big = {d: Sv[l][d] > 1 for d in rel}
                    clash = None
                    for x, y in shared:
                        c2 = big[rel[x]] & big[rel[y]]
                        clash = c2 if clash is None else clash | c2
                    rows = np.nonzero(clash)[0]
                    if len(rows):
                        g = g.copy()
                        g[rows] = self._clash_groups(t, rel, [Sv[l][d] for d in rel],
                                                     [incl[l + 1][d] for d in rel], rows)
                groups[l][t] = g

        # Served words, partitions, and the read/fill/update split (as nest.analyze).
        out_tile, out_part = o["tile"], o["partition"]
        out_r, out_f, out_u, out_k = o["reads"], o["fills"], o["updates"], o["kept"]
        # Box of a level's children times its spatial factors (levels with a fanout).
        sws_box: list[list[Vec] | None] = [
            None if all(is_const(Sv[i][d]) for d in range(D))
            else [vmul(incl[i + 1][d], Sv[i][d]) for d in range(D)] for i in range(L)]
        reads: list[list[Vec]] = [[0] * T for _ in range(L)]
        fills: list[list[Vec]] = [[0] * T for _ in range(L)]
        updates: list[list[Vec]] = [[0] * T for _ in range(L)]
        for t in range(T):
            served: list[Vec] = [0] * L
            served[L - 1] = vmul(cc, groups[L - 1][t])
            for i in range(L - 2, -1, -1):
                k = kv[i + 1][t]
                if k is False:
                    served[i] = vmul(groups[i][t], served[i + 1])
                else:
                    content = vmul(share[i + 1, t], groups[i][t])
                    if (i + 1, t) in lk:  # children served over links: the parent serves less
                        content = content - lk[i + 1, t][0]
                    served[i] = content if k is True else \
                        np.where(k, content, vmul(groups[i][t], served[i + 1]))
                if (i + 1, t) in lk and k is not True:  # children that bypass t used links
                    served[i] = bypass_served(served[i], served[i + 1], *lk[i + 1, t][4:])
            partition: list[Vec] = [tile(t, incl[0])]
            for i in range(L - 1):
                if sws_box[i] is None:
                    partition.append(partition[i])
                else:
                    partition.append(vmul(partition[i], tile(t, incl[i + 1]))
                                     // tile(t, sws_box[i]))
            above: Vec | bool = False
            rw = self.read_write[t]
            for i in range(L):
                k = kv[i][t]
                if k is not False:
                    tl = tile(t, incl[i])
                    if rw:
                        u = served[i]
                        r = served[i] - partition[i]
                        f = 0 if above is False else share[i, t] - partition[i]
                    else:
                        u = 0
                        r = served[i]
                        f = 0 if above is False else share[i, t]
                    if above is not False and above is not True:
                        f = f * above
                    if (i, t) in lk:  # this level's fills and reads with link transfers
                        _, lf, extra, has = lk[i, t][:4]
                        f, r = np.where(has, lf, f), r + extra
                    if k is not True:
                        r, f, u = r * k, f * k, u * k
                        tl, pw = tl * k, partition[i] * k
                    else:
                        pw = partition[i]
                    reads[i][t], fills[i][t], updates[i][t] = r, f, u
                    out_tile[i, t, sl] = tl
                    out_part[i, t, sl] = pw
                    out_r[i, t, sl] = r
                    out_f[i, t, sl] = f
                    out_u[i, t, sl] = u
                    out_k[i, t, sl] = k
                    above = True if (k is True or above is True) else \
                        (k if above is False else above | k)

        # Bandwidth and cycles (same floating-point order as the scalar evaluator).
        ccf = cc.astype(np.float64) if not is_const(cc) else float(cc)
        cycles: Vec = cc
        for i, (rbw, wbw, sbw) in enumerate(self.bw):
            if rbw is None and wbw is None and sbw is None:
                continue
            rd: Vec = 0.0
            wr: Vec = 0.0
            for t in range(T):
                if kv[i][t] is False:
                    continue
                rd = rd + reads[i][t] / ccf
                wr = wr + (fills[i][t] + updates[i][t]) / ccf
            slow = np.ones(n)
            for limit, demand in ((rbw, rd), (wbw, wr), (sbw, None)):
                if limit is None:
                    continue
                if demand is None:
                    demand = rd + wr
                demand = np.broadcast_to(np.asarray(demand, dtype=np.float64), (n,))
                over = limit < demand
                slow = np.where(over, np.minimum(slow, limit / np.where(over, demand, 1.0)),
                                slow)
            level_cycles = np.ceil(ccf / slow).astype(np.int64)
            cycles = np.maximum(cycles, level_cycles)
        cycles = np.broadcast_to(np.asarray(cycles, dtype=np.int64), (n,))

        # Energy per vector access, per utilized instance; leakage; totals.
        total: Vec = 0.0
        for i in range(L):
            access: Vec = 0.0
            for t in range(T):
                if kv[i][t] is False:
                    continue
                bw = self.block[i][t]
                per: Vec = 0.0
                for x, en in ((reads[i][t], self.e_read[i]), (fills[i][t], self.e_fill[i]),
                              (updates[i][t], self.e_update[i])):
                    if is_const(x) and x == 0:
                        continue
                    v = np.asarray(x, dtype=np.float64) if bw == 1 else np.ceil(x / bw)
                    per = per + v * en
                te = per * self.clusters[i](inst[i])
                o["tensor_energy"][i, t, sl] = te
                access = access + te
            leak = self.e_leak[i] * cycles * inst[i]
            o["leak"][i, sl] = leak
            le = access + leak
            o["level_energy"][i, sl] = le
            o["inst"][i, sl] = inst[i]
            total = le if i == 0 else total + le
        o["energy"][sl] = self.compute_energy + total
        o["cycles"][sl] = cycles
        o["cc"][sl] = cc
        o["util"][sl] = self.macs / (self.instances * cycles)
        o["pes"][sl] = pes


    # -- link transfers: rows where links apply are scored again with their effects -----
    def _link_rows(self, b: MappingBatch, o: dict) -> None:
        """Rows where some fanout's children take data over links (costmodels/links.py)
        are re-evaluated with what links change (``LinkFilter.effects``, which finds them:
        elsewhere the closed forms stand). Rows with residual loops are scored elsewhere."""
        rows = np.setdiff1d(np.arange(len(b)), b.imperfect_rows)
        effects = self.link_filter.effects(b, rows, self.options)
        used = np.zeros(len(rows), dtype=bool)
        for v in effects.values():
            used |= v[3] | (v[5] != 0)
        if not used.any():
            return
        keep = np.nonzero(used)[0]
        rows = rows[keep]
        if any(l.link_energy_pj for l in self.arch.levels):  # priced link words: scalar
            score_rows_scalar(self.workload, self.arch, self.options, b, o, rows)
            return
        effects = {key: [x[keep] for x in v] for key, v in effects.items()}
        sub = b.take(rows)
        o2 = self._outputs(len(rows))
        for s in range(0, len(rows), max(1, self.chunk)):
            self._run(sub, s, min(len(rows), s + self.chunk), o2, effects)
        for key, x in o2.items():
            o[key][..., rows] = x

    # -- refetch (parent access share) of every kept child tile -------------------------
    def _shares(self, b: MappingBatch, sl: slice, n: int, Tv, Sv, incl, prefix_all, kv,
                ext, tile) -> dict:
        """share[c, t] for every (child level c >= 1, tensor t) that some row keeps.

        The active temporal loops of all levels are laid out in nest order per row (an
        [M, n] array: level by level, each level's loops sorted by rank), so that the
        sums of translations inside a loop are prefix sums."""
        L, D, T = self.L, self.D, self.T
        cols = [[d for d in range(D) if not is_const(Tv[l][d])] for l in range(L)]
        off = [0]
        for l in range(L):
            off.append(off[-1] + len(cols[l]))
        M = off[L]
        need = {t: [c for c in range(1, L) if kv[c][t] is not False] for t in range(T)}
        out: dict = {}
        if M == 0:
            for t in range(T):
                for c in need[t]:
                    out[c, t] = vmul(tile(t, incl[c]), prefix_all[c])
            return out
        ar = np.arange(n)
        Tb = np.empty((M, n), dtype=np.int64)  # factors in nest order
        Sb = np.empty((M + 1, n), dtype=np.int64)  # steps (0 for unit loops); row M: none
        Db = np.empty((M + 1, n), dtype=np.intp)  # dimension index; D: no loop
        Sb[M] = 0
        Db[M] = D
        rk = None
        for l in range(L):
            J = cols[l]
            if not J:
                continue
            steps = [vmul(incl[l + 1][d], Sv[l][d]) for d in J]
            o = off[l]
            if len(J) == 1:
                Tb[o] = Tv[l][J[0]]
                Sb[o] = steps[0]
                Db[o] = J[0]
                continue
            if rk is None:
                rk = np.moveaxis(b.rank[sl], 0, -1)
            order = self._level_order(rk, l, J, n)  # [m, n]: loop (index into J) at p
            idx = order * n + ar
            m = len(J)
            np.take(np.stack([Tv[l][d] for d in J]).ravel(), idx, out=Tb[o:o + m])
            np.take(np.stack([np.broadcast_to(np.asarray(x, dtype=np.int64), (n,))
                              for x in steps]).ravel(), idx, out=Sb[o:o + m])
            np.take(np.asarray(J, dtype=np.intp), order, out=Db[o:o + m])
        nub = Tb > 1
        Sb[:M] *= nub  # unit loops do not move the tile
        # P_j: product of the factors outside loop j; weight P_j (N_j - 1).
        W = np.empty((M, n), dtype=np.int64)
        W[0] = 1
        for j in range(M - 1):
            np.multiply(W[j], Tb[j], out=W[j + 1])
        W *= Tb - 1
        # Innermost non-unit loop above each child: its position, dimension and step.
        pos = np.full(n, -1, dtype=np.int64)
        inner: dict = {}
        for c in range(1, L):
            l = c - 1
            if cols[l]:
                blk = nub[off[l]:off[c]]
                last = (blk * np.arange(off[l] + 1, off[c] + 1)[:, None]).max(axis=0) - 1
                pos = np.maximum(pos, last)
            if any(c in need[t] for t in range(T)):
                flat = pos * n + ar  # -1 -> row M (no loop)
                inner[c] = (Db.ravel().take(flat), Sb.ravel().take(flat))
        maxbox = [int(x) if is_const(x) else int(x.max()) for x in incl[0]]
        moving = [d for l in range(L) for d in cols[l]]  # dimension at each position
        for t in range(T):
            if not need[t]:
                continue
            top = off[max(need[t])]
            hashes = self._hash_groups(t, maxbox)
            Bs, CSs, Hs = [], [], []
            for hc in hashes:
                htab = np.asarray(hc + [0], dtype=np.int64)
                H = htab.take(Db[:top]) * Sb[:top]
                CS = np.empty((top + 1, n), dtype=np.int64)
                CS[0] = 0
                for j in range(top):
                    np.add(CS[j], H[j], out=CS[j + 1])
                # loop j "continues" the innermost move iff H_j - (CS_c - CS_{j+1}) == H_k
                Bs.append(H + CS[1:])
                CSs.append((htab, CS))
                Hs.append(H)
            moves = None  # [top, n]: loop j moves the tile of tensor t (nonzero translation)
            if self.keep_stationary:
                for H in Hs:
                    nz = H != 0
                    moves = nz if moves is None else moves | nz
            for c in need[t]:
                mc = off[c]
                base = vmul(tile(t, incl[c]), prefix_all[c])
                if mc == 0:
                    out[c, t] = base
                    continue

                def same_move(dk, sk):
                    cond = None
                    for B, (htab, CS) in zip(Bs, CSs):
                        eq = B[:mc] == (CS[mc] + htab.take(dk) * sk)
                        cond = eq if cond is None else cond & eq
                    return cond

                def overlap(dk, sk) -> Vec:
                    ov: Vec = 1
                    for a in range(len(self.ext_terms[t])):
                        ctab = self.coef_ext[t][a]
                        e_a = ext(t, a, incl[c])
                        if not any(ctab[d] for d in moving[:mc]):
                            ov = vmul(ov, e_a)  # no loop above c moves this axis
                            continue
                        tau = ctab.take(dk)
                        tau *= sk
                        if ctab.min() < 0:
                            np.abs(tau, out=tau)
                        np.subtract(e_a, tau, out=tau)
                        np.maximum(tau, 0, out=tau)
                        ov = vmul(ov, tau)
                    return ov

                if not self.keep_stationary:
                    dk, sk = inner[c]
                    saved = (same_move(dk, sk) * W[:mc]).sum(axis=0)
                    out[c, t] = base - vmul(overlap(dk, sk), saved)
                    continue
                # After PR #297: steps that do not move the tile fetch nothing and leave the
                # remembered translation alone, so the state before every moving step is
                # the translation of the innermost loop that moves the tile (k').
                last = (moves[:mc] * np.arange(1, mc + 1)[:, None]).max(axis=0) - 1
                has = last >= 0
                flat = np.where(has, last, M) * n + ar
                dk2, sk2 = Db.ravel().take(flat), Sb.ravel().take(flat)
                zero = same_move(np.full(n, D, dtype=np.intp), np.zeros(n, dtype=np.int64))
                saved_zero = (zero * W[:mc]).sum(axis=0)
                saved = ((same_move(dk2, sk2) & has) * W[:mc]).sum(axis=0)
                out[c, t] = base - vmul(overlap(dk2, sk2), saved) \
                    - vmul(tile(t, incl[c]), saved_zero)
        return out

    def _hash_groups(self, t: int, maxbox: list[int]) -> list[list[int]]:
        """Per group of tensor axes, per dimension, the hash of a unit translation:
        sum_a coef[a, d] * R_a, with radices 6 * bound_a + 1 (bound_a bounds every
        translation and every sum of translations of a nest on that axis)."""
        A = len(self.ext_terms[t])
        bound = [int(sum(int(self.abscoef[t][a, d]) * maxbox[d] for d in range(self.D)))
                 for a in range(A)]
        groups: list[list[tuple[int, int]]] = [[]]
        r = 1
        for a in range(A):
            rad = 6 * bound[a] + 1
            if r * rad >= _HASH_LIMIT and groups[-1]:
                groups.append([])
                r = 1
            groups[-1].append((a, r))
            r *= rad
        return [[sum(int(self.coef[t][a, d]) * R for a, R in g) for d in range(self.D)]
                for g in groups]

    def _level_order(self, rk: np.ndarray, l: int, J: list[int], n: int) -> np.ndarray:
        """[m, n]: per nest position of level l (outermost first), the index into J of the
        loop there: loops sorted by rank, ties in dimension order (a stable sort)."""
        m = len(J)
        R = [rk[l, d] for d in J]
        if m <= _MAX_TABLE_LOOPS:
            # Lehmer code of the rank sequence (how many later loops precede each loop),
            # then a table of all orders of m loops.
            code = np.zeros(n, dtype=np.intp)
            for x in range(m - 1):
                before = np.zeros(n, dtype=np.int8)
                for y in range(x + 1, m):
                    np.add(before, R[y] < R[x], out=before, casting="unsafe")
                code += before.astype(np.intp) * math.factorial(m - 1 - x)  # int8 overflows
            return order_table(m).take(code, axis=1)
        key = np.stack([np.asarray(r, dtype=np.int64) * m + x for x, r in enumerate(R)], axis=1)
        return np.ascontiguousarray(np.argsort(key, axis=1, kind="stable").T)

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def _columns(v: np.ndarray) -> list[list[Vec]]:
        """[L][D] of int64 row vectors where some row differs from 1, else the int 1."""
        L, D = v.shape[0], v.shape[1]
        out: list[list[Vec]] = [[1] * D for _ in range(L)]
        if v.shape[2] == 0:
            return out
        act = v.max(axis=-1) > 1
        li, di = np.nonzero(act)
        if len(li):
            vals = v[li, di].astype(np.int64, copy=False)
            for k, (l, d) in enumerate(zip(li.tolist(), di.tolist())):
                out[l][d] = vals[k]
        return out

    def _clash_groups(self, t: int, rel: list[int], fs: list[Vec], below: list[Vec],
                      rows: np.ndarray) -> np.ndarray:
        """Distinct origins for rows where one tensor axis moves with two spatial loops."""
        cols = []
        for f, bl in zip(fs, below):
            cols.append(np.broadcast_to(np.asarray(f), rows.shape) if is_const(f) else f[rows])
            cols.append(np.broadcast_to(np.asarray(bl), rows.shape) if is_const(bl) else bl[rows])
        keys = np.stack(cols, axis=1).astype(np.int64)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        coef = self.coef[t]
        vals = np.empty(len(uniq), dtype=np.int64)
        for u, row in enumerate(uniq.tolist()):
            loops = tuple((row[2 * x], tuple(int(c) * row[2 * x + 1] for c in coef[:, d]))
                          for x, d in enumerate(rel) if row[2 * x] > 1)
            vals[u] = count_origins(loops) if loops else 1
        return vals[inv.reshape(-1)]


_MAX_TABLE_LOOPS = 8


def evaluate_batch(workload: Workload, arch: Architecture, batch: MappingBatch,
                   options: ModelOptions | None = None) -> BatchResult:
    """Score every row of ``batch`` (assumed legal; see ``spaces.mapping.check_mapping``)."""
    return BatchEvaluator(workload, arch, options=options)(batch)
