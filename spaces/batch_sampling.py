"""Batched sampling: legal mappings of a mapspace drawn directly as ``MappingBatch`` arrays.

Same distribution as ``Mapspace.sample`` (uniform over the legal ids), vectorized with
numpy. The proposal is the mapspace's own (docs/mapspace.md): a keep choice drawn in
proportion to the size of its capacity-aware superset, then, for every dimension, a
factorization drawn uniformly from that superset, then loop orders drawn uniformly;
illegal rows (fanout per axis, capacity, utilization) are rejected. Every legal mapping
lies in the superset of its keep choice, so the accepted rows are uniform over the legal
ids.

Per dimension and per distinct limits tuple, a table lists all its factorizations in
rank order (factors per level and mesh axis, and the uncapped rank that the id uses);
drawing a factorization is drawing a row. Tables larger than ``MAX_TABLE_ROWS`` are not
built: rows are then unranked one by one (slow, but exact). Loop orders of a level with
up to ``MAX_PERM_TABLE`` free loops come from a table of all its orders (rank rows);
beyond that, from numpy's per-row shuffles.
"""

from __future__ import annotations

import math
import random
from itertools import permutations

import numpy as np

from .encoding import MappingBatch
from .errors import SpecError
from .factors import lehmer_ranks
from .slots import CappedTable, DimSpace, FactorTable, fill_factors

MAX_TABLE_ROWS = 1 << 18
MAX_PERM_TABLE = 8
_CHUNK = 16384  # candidate rows per vectorized draw (bounded memory)


def as_generator(seed: int | None = None,
                 rng: np.random.Generator | random.Random | None = None) -> np.random.Generator:
    """A numpy Generator from a seed, a Generator (used as is) or a ``random.Random``
    (seeded from 128 of its bits: same state, same stream)."""
    if rng is None:
        return np.random.default_rng(seed)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(128))
    raise TypeError(f"rng must be a numpy Generator or random.Random, got {type(rng).__name__}")


def full_table(ds: DimSpace, L: int) -> FactorTable | None:
    """All factorizations of one dimension (``slots.FactorTable``); None if there are
    more than ``MAX_TABLE_ROWS``."""
    return ds.table(L, MAX_TABLE_ROWS)


class BatchSampler:
    """Precomputed tables of one mapspace (read through its public structural API:
    ``proposal``, ``keep_sets``, ``keep_fixed``, ``keep_free``, ``dim_spaces``,
    ``level_orders``, ``batch_legality``); ``sample`` draws legal rows."""

    def __init__(self, ms):
        self.ms = ms
        w, arch = ms.workload, ms.arch
        self.L, self.D, self.T = len(arch.levels), len(w.dims), len(w.tensors)
        L, D, T = self.L, self.D, self.T
        plan = ms.proposal
        self.planned = plan is not None
        if plan == []:
            raise SpecError("the layer fits no mapping: no split of the dimensions fits the "
                            "buffers under any keep choice", key="mapspace",
                            fix="bypass tensors at small levels or enlarge them")
        # Keep choices: plan entries (weighted) or uniform free keep bits.
        if plan is not None:
            entries = plan
            self.bypass_index = np.array([by for by, _, _ in entries], dtype=np.int64)
            self.weights = [wt for _, wt, _ in entries]
            keep_sets = [ms.keep_sets(by) for by, _, _ in entries]
            self.keep_tab = np.array([[[t in ks[i] for t in w.tensor_names] for i in range(L)]
                                      for ks in keep_sets], dtype=bool)  # [P, L, T]
            limits = [lim for _, _, lim in entries]
        else:
            self.weights = [1]
            self.bypass_index = np.zeros(1, dtype=np.int64)
            limits = [[None] * D]
            fixed = np.zeros((1, L, T), dtype=bool)
            keep_fixed = ms.keep_fixed
            for i in range(L):
                for k, t in enumerate(w.tensor_names):
                    fixed[0, i, k] = keep_fixed[i].get(t, False)
            self.keep_tab = fixed
        self.free_keep = [(i, w.tensor_names.index(t)) for i, t in ms.keep_free]
        P = len(limits)
        # Per dimension: distinct limits -> table; plan entry -> table index.
        self.dims: tuple[DimSpace, ...] = ms.dim_spaces
        self.tables: list[list[CappedTable]] = []
        self.table_of = np.zeros((P, D), dtype=np.int64)
        self.flat: list[dict | None] = []
        for d, ds in enumerate(self.dims):
            full = full_table(ds, L)
            seen: dict = {}  # limits -> table index
            same: dict = {}  # selected rows -> table index (limits that do not bind)
            tabs: list[CappedTable] = []
            for p in range(P):
                lim = limits[p][d]
                if lim not in seen:
                    tb = CappedTable.build(ds, lim, full, L, MAX_TABLE_ROWS)
                    key = (tb.count, tb.sel.tobytes()) if tb.sel is not None else None
                    if key is not None and key in same:
                        seen[lim] = same[key]
                    else:
                        seen[lim] = len(tabs)
                        tabs.append(tb)
                        if key is not None:
                            same[key] = seen[lim]
                self.table_of[p, d] = seen[lim]
            self.tables.append(tabs)
            self.flat.append(self._flatten(tabs, full))
        self.counts = [np.array([tb.count for tb in tabs], dtype=np.int64) for tabs in self.tables]
        # Keep-choice draw: exact in int64 when the total weight fits, else by rejection
        # from a per-dimension envelope (uniform plan entry, ranks below the largest count).
        total = sum(self.weights)
        self.cum = np.cumsum(np.array(self.weights, dtype=np.int64)) if total < 2 ** 62 else None
        self.total = total
        # Loop orders.
        self.rank_dtype = np.int8 if D < 128 else np.int16
        self.orders = [self._order_table(i) for i in range(L)]
        # Which (level, dim) columns can differ from 1 at all (others stay 1).
        self.active_T = [[bool(np.any(self._all(d, "T")[i] > 1)) for d in range(D)]
                         for i in range(L)]
        self.active_X = [[bool(np.any(self._all(d, "SX")[i] > 1)) for d in range(D)]
                         for i in range(L)]
        self.active_Y = [[bool(np.any(self._all(d, "SY")[i] > 1)) for d in range(D)]
                         for i in range(L)]
        self.ids_fit = ms.size < 2 ** 63
        self.legality = ms.batch_legality

    # -- construction -----------------------------------------------------------------
    @staticmethod
    def _flatten(tabs: list[CappedTable], full: FactorTable | None) -> dict | None:
        """One gather source per dimension: table t's row r is ``index[offset[t] + r]``
        of the arrays (the full table), or row ``offset[t] + r`` of the concatenated own
        tables; None when some table is not built."""
        offs = np.cumsum([0] + [tb.count for tb in tabs])[:-1].astype(np.int64)
        if full is not None:
            return {"offset": offs, "index": np.concatenate([tb.sel for tb in tabs]),
                    "T": full.T, "SX": full.SX, "SY": full.SY, "rank": None}
        if all(tb.own is not None for tb in tabs):
            return {"offset": offs, "index": None,
                    **{k: np.concatenate([tb.own[k] for tb in tabs], axis=-1)
                       for k in ("T", "SX", "SY", "rank")}}
        return None

    def _all(self, d: int, what: str) -> np.ndarray:
        """[L, rows] over all tables of dimension d (for the activity masks)."""
        if self.flat[d] is not None:
            return self.flat[d][what]
        # Unbuilt tables: any slot option > 1 makes the column active.
        ds = self.dims[d]
        out = np.ones((self.L, 2), dtype=np.int64)
        for j, slot in enumerate(ds.slots):
            for f, axis in ds.options[j]:
                if f > 1 and ((what == "T" and slot.kind == "T") or
                              (what == "SX" and axis == "X") or (what == "SY" and axis == "Y")):
                    out[slot.level, 1] = f
        return out

    def _order_table(self, i: int) -> tuple[int, np.ndarray | None, np.ndarray]:
        """(number of orders, [D, m!] rank table or None, constant rank row [D])."""
        dims = self.ms.workload.dims
        lo = self.ms.level_orders[i]
        free = lo.free
        base = lo.template
        const = np.array([base.index(d) for d in dims], dtype=self.rank_dtype)
        m = len(free)
        n_orders = math.factorial(m)
        if m == 0 or m > MAX_PERM_TABLE:
            return n_orders, None, const
        # Column p: the positions of the order of rank p (lexicographic ranks).
        tab = np.empty((len(dims), n_orders), dtype=self.rank_dtype)
        for p, perm in enumerate(permutations(free)):
            order = lo.order(perm)
            for k, d in enumerate(order):
                tab[dims.index(d), p] = k
        return n_orders, tab, const

    # -- drawing ------------------------------------------------------------------------
    def _draw(self, m: int, g: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray],
                                                             np.ndarray | None]:
        """m candidates: plan entry, per-dimension table row (global), free keep bits."""
        D = self.D
        P = len(self.weights)
        bits = None
        if not self.planned:
            k = len(self.free_keep)
            bits = g.integers(0, 2, size=(k, m), dtype=np.int8) if k else None
            entry = np.zeros(m, dtype=np.int64)
            rows = [g.integers(0, self.counts[d][0], size=m) for d in range(D)]
            return entry, rows, bits
        if self.cum is not None:
            if P == 1:
                entry = np.zeros(m, dtype=np.int64)
            else:
                x = g.integers(0, int(self.cum[-1]), size=m)
                entry = np.searchsorted(self.cum, x, side="right")
            rows = []
            for d in range(D):
                tab = self.table_of[entry, d] if len(self.counts[d]) > 1 else 0
                rows.append(g.integers(0, self.counts[d][tab], size=m) if np.ndim(tab) == 0
                            else g.integers(0, self.counts[d].take(tab)))
            return entry, rows, bits
        # Envelope: uniform entry and ranks below each dimension's largest count; keep
        # the draws that fall inside the entry's superset (exactly uniform over the union).
        entry = g.integers(0, P, size=m)
        ok = np.ones(m, dtype=bool)
        rows = []
        for d in range(D):
            r = g.integers(0, int(self.counts[d].max()), size=m)
            ok &= r < self.counts[d].take(self.table_of[entry, d])
            rows.append(r)
        keep = np.flatnonzero(ok)
        return entry[keep], [r[keep] for r in rows], bits

    def _gather(self, d: int, entry: np.ndarray, r: np.ndarray) -> dict:
        """Per-row [L, m] factor arrays and uncapped ranks of dimension d."""
        tabs = self.tables[d]
        tab_idx = self.table_of[entry, d] if len(tabs) > 1 else np.zeros(len(r), dtype=np.int64)
        fl = self.flat[d]
        if fl is not None:
            row = fl["offset"].take(tab_idx) + r
            if fl["index"] is not None:
                row = fl["index"].take(row)
            return {"T": fl["T"].take(row, axis=1), "SX": fl["SX"].take(row, axis=1),
                    "SY": fl["SY"].take(row, axis=1),
                    "rank": row if fl["rank"] is None else fl["rank"].take(row)}
        ds = self.dims[d]
        m = len(r)
        T = np.ones((self.L, m), dtype=np.int32)
        SX = np.ones((self.L, m), dtype=np.int32)
        SY = np.ones((self.L, m), dtype=np.int32)
        rank = np.empty(m, dtype=np.int64)
        for k in range(m):
            lim = tabs[int(tab_idx[k])].limits
            choice = ds.unrank(int(r[k]), lim)
            fill_factors(ds, choice, T, SX, SY, k)
            rank[k] = ds.rank(choice)
        return {"T": T, "SX": SX, "SY": SY, "rank": rank}

    def _legal(self, entry: np.ndarray, G: list[dict], bits: np.ndarray | None) -> np.ndarray:
        """Rows that pass fanout per axis, min PE utilization and capacity (the space's
        ``batch_legality``, spaces/legality.py)."""
        keep = self._keep_rows(entry, bits)
        return self.legality.check(len(entry), lambda k, i, d: G[d][k][i],
                                   lambda i, t: keep[i, t])

    def _keep_rows(self, entry: np.ndarray, bits: np.ndarray | None) -> np.ndarray:
        """[L, T] of True/False constants or per-row bool arrays."""
        L, T = self.L, self.T
        out = np.empty((L, T), dtype=object)
        if not self.planned:
            for i in range(L):
                for t in range(T):
                    out[i, t] = bool(self.keep_tab[0, i, t])
            for k, (i, t) in enumerate(self.free_keep):
                out[i, t] = bits[k].astype(bool)
            return out
        for i in range(L):
            for t in range(T):
                col = self.keep_tab[:, i, t]
                out[i, t] = bool(col[0]) if col.all() or not col.any() else col.take(entry)
        return out

    def sample(self, n: int, g: np.random.Generator, *, with_ids: bool = True,
               max_draws: int | None = None) -> tuple[np.ndarray | None, MappingBatch]:
        D = self.D
        if n <= 0:
            return self._build(np.zeros(0, dtype=np.int64), [np.zeros(0, dtype=np.int64)] * D,
                               None, g, with_ids)
        limit = max_draws if max_draws is not None else max(10000, 1000 * n)
        got_entry: list[np.ndarray] = []
        got_rows: list[list[np.ndarray]] = []
        got_bits: list[np.ndarray] = []
        have = 0
        draws = 0
        accepted = 0
        while have < n:
            if draws >= limit:
                raise SpecError(f"found {have} legal mappings in {draws} draws", key="mapspace",
                                fix="relax the constraints or the capacities; "
                                    "`loopscape space` estimates the legal fraction")
            rate = (accepted + 1) / (draws + 2)
            m = int(min(_CHUNK, max(64, (n - have) / rate * 1.1), limit - draws))
            m = max(m, 1)
            entry, r, bits = self._draw(m, g)
            draws += m
            G = [self._gather(d, entry, r[d]) for d in range(D)]
            ok = self._legal(entry, G, bits)
            idx = np.flatnonzero(ok)
            accepted += len(idx)
            if len(idx) > n - have:
                idx = idx[:n - have]
            got_entry.append(entry[idx])
            got_rows.append([r[d][idx] for d in range(D)])
            if bits is not None:
                got_bits.append(bits[:, idx])
            have += len(idx)
        entry = np.concatenate(got_entry)
        rows = [np.concatenate([x[d] for x in got_rows]) for d in range(D)]
        bits = np.concatenate(got_bits, axis=1) if got_bits else None
        return self._build(entry, rows, bits, g, with_ids)

    def _build(self, entry: np.ndarray, rows: list[np.ndarray], bits: np.ndarray | None,
               g: np.random.Generator, with_ids: bool) -> tuple[np.ndarray | None, MappingBatch]:
        """Arrays of the accepted rows (loop orders drawn here) and their ids."""
        L, D = self.L, self.D
        n = len(entry)
        temporal = np.ones((L, D, n), dtype=np.int32)
        sx = np.ones((L, D, n), dtype=np.int32)
        sy = np.ones((L, D, n), dtype=np.int32)
        rank = np.empty((L, D, n), dtype=self.rank_dtype)
        fi = np.zeros(n, dtype=np.int64 if self.ids_fit else object)
        for d in range(D):
            G = self._gather(d, entry, rows[d])
            for i in range(L):
                if self.active_T[i][d]:
                    temporal[i, d] = G["T"][i]
                if self.active_X[i][d]:
                    sx[i, d] = G["SX"][i]
                if self.active_Y[i][d]:
                    sy[i, d] = G["SY"][i]
            if with_ids:
                fi = fi * self.dims[d].size + (G["rank"] if self.ids_fit
                                                   else G["rank"].astype(object))
        lp = np.zeros(n, dtype=np.int64 if self.ids_fit else object)
        for i in range(L):
            n_orders, tab, const = self.orders[i]
            if tab is not None:
                p = g.integers(0, n_orders, size=n)
                rank[i] = tab.take(p, axis=1)
            elif n_orders > 1:
                p = self._shuffled_orders(i, n, g, rank)
            else:
                p = None
                rank[i] = const[:, None]
            if with_ids and n_orders > 1:
                lp = lp * n_orders + (p if self.ids_fit else p.astype(object))
        keep = np.ascontiguousarray(np.moveaxis(self.keep_tab.take(entry, axis=0), 0, -1))
        by = self.bypass_index.take(entry)
        if bits is not None:
            for k, (i, t) in enumerate(self.free_keep):
                keep[i, t] = bits[k].astype(bool)
            by = np.zeros(n, dtype=np.int64 if len(self.free_keep) < 63 else object)
            for k in range(len(self.free_keep)):
                by = by + (bits[k].astype(np.int64) << k if len(self.free_keep) < 63
                           else bits[k].astype(object) * (1 << k))
        ids = None
        if with_ids:
            ms = self.ms
            if not self.ids_fit:
                by = by.astype(object)
            ids = (fi * ms.permutation_size + lp) * ms.bypass_size + by
        batch = MappingBatch(np.moveaxis(temporal, -1, 0), np.moveaxis(sx, -1, 0),
                             np.moveaxis(sy, -1, 0), np.moveaxis(rank, -1, 0),
                             np.moveaxis(keep, -1, 0))
        return ids, batch

    def _shuffled_orders(self, i: int, n: int, g: np.random.Generator,
                         rank: np.ndarray) -> np.ndarray:
        """Uniform orders of a level with many free loops: per-row shuffles; returns
        their lexicographic ranks (``factors.rank_permutation`` of the free loops)."""
        dims = self.ms.workload.dims
        lo = self.ms.level_orders[i]
        free = lo.free
        m = len(free)
        perm = g.permuted(np.tile(np.arange(m), (n, 1)), axis=1)  # [n, m] item per position
        _, _, const = self.orders[i]
        rank[i] = const[:, None]
        start = lo.free_start
        for k in range(m):
            for x, d in enumerate(free):
                rows = perm[:, k] == x
                rank[i, dims.index(d), rows] = start + k
        code = lehmer_ranks(perm)
        return code if not self.ids_fit else code.astype(np.int64)
