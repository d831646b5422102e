"""``optimal``: branch and bound over tilings, every surviving order and keep choice
evaluated; the exact Pareto front with a certificate, or a proven gap when stopped.

Subtrees (the rows of the first dimensions fixed) are expanded best first by the lower
bound of the gap objective (depth first when too many are open); a subtree of at most
``block`` tilings is formed at once with numpy. Equal objective vectors keep the lowest
mapspace id whatever the order of the walk (``tell`` records it). Rules and their
arguments: docs/optimal.md.
"""

from __future__ import annotations

import math
import time
from collections import deque
from functools import lru_cache

import numpy as np

from loopscape.costmodels.options import model_options
from loopscape.spaces.encoding import MappingBatch

from ...pareto import nondominated_mask
from ..base import Proposal, SearchContext, Strategy
from .block_kernels import block_arrays, legal_rows
from .capacity import CapacityRelax
from .dominance import objective_bounds, strictly_dominated
from .orders import materialize
from .pending import PendingTilings
from .prepare import prepare_kernels
from .probes import OrderProbe
from .profiles import SpatialProfiles
from .rules import TilingRules
from .tree import SubtreeWalk
from .scope import check_model, refusal
from .staged import StagedBound
from .warm import warm_start, worth_warming
from .tables import space_leaf_bound, space_tables
from .work import WorkMeter

RULES = ("subtree_bound", "tiling_bound", "keep_bound", "order_bound", "leaf_bound")
ILLEGAL = ("fanout", "pe_utilization", "capacity")


class OptimalSearch(SubtreeWalk, TilingRules, Strategy):
    """Exact front by branch and bound (docs/optimal.md)."""

    name = "optimal"

    def __init__(self, warm_start: int = 8192, warm_seconds: float = 2.0, block: int = 4096,
                 group: int = 512, max_open: int = 100_000, leaf_bound: bool = True,
                 incumbent=None, spatial_profiles: bool = True):
        self.max_open = max_open
        self.seed_values = incumbent  # objective vectors the caller holds (replace warm start)
        self.slice_seconds = 1.0  # longest ask without a proposal
        self.warm_start = warm_start
        self.warm_seconds = warm_seconds
        self.block = block
        self.group = group
        self.leaf_bound = leaf_bound
        self.spatial_profiles = spatial_profiles

    # -- setup ---------------------------------------------------------------------------
    @classmethod
    def prepare(cls, ctx: SearchContext) -> None:
        """Compile or load the kernels before the clock starts (prepare.py)."""
        if refusal(ctx) is None:
            prepare_kernels(cls)

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        check_model(ctx.extra)
        space = ctx.space
        self.wl, self.arch = space.workload, space.arch
        # The bounds must cover the model the leaves are scored with: no options means the
        # default model, which has link transfers on. The structure, bounder, order tables
        # and branching order are built once per space (the streams of a process share it).
        options = model_options(ctx.extra.get("options"))
        # rule J's floor (the unassigned dimensions share the room) is shared likewise
        self.st, self.bd, self.joint, self.orders, self.perm = \
            space_tables(space, options.link_transfers)
        self._capacity = self._profiles = None  # rules K and P, built on first use
        self.signs = np.array([-1.0 if o in ctx.maximize else 1.0 for o in ctx.objectives])
        self.utilization_scale = self.wl.macs / self.arch.compute.instances
        self.staged = StagedBound(self.bd, ctx.objectives, self.signs,  # rule tiling_bound
                                  self.utilization_scale)  # in _block (staged.py)
        self.D = len(self.st.dims)
        # The tree fixes the dimensions in ``perm`` order (tree_order.py); ``sizes`` are
        # in that order, ``radix`` turns a tiling's rows back into its mapspace index.
        self.sizes = tuple(self.st.dim_sizes[di] for di in self.perm)
        self.radix = [math.prod(self.st.dim_sizes[di + 1:]) for di in range(self.D)]
        self.tree_radix = np.array([self.radix[di] for di in self.perm],  # in tree order
                                   dtype=np.int64 if math.prod(self.st.dim_sizes) < 2 ** 62
                                   else object)
        self.P, self.B = self.st.permutation_size, self.st.bypass_size
        # The streams share the tilings by their prefix of the first ``split`` dimensions
        # (the shortest with a prefix per stream): stream w owns the prefixes whose index
        # is w modulo the stream count, so no stream is idle when the first dimension
        # has few rows (subtrees above the split are removed only below it).
        self.split = next((k for k in range(1, self.D + 1)
                           if math.prod(self.sizes[:k]) >= ctx.workers), self.D)
        self.need_pes = space.constraints.min_pe_utilization * self.arch.compute.instances
        self.removed = {r: 0 for r in RULES}
        self.illegal = {r: 0 for r in ILLEGAL}
        self.evaluated = 0
        self.seeded = 0
        self.probes = 0  # mappings scored by rule order_bound (not in the result)
        self.L = len(self.arch.levels)
        self.probe = OrderProbe(self.wl, self.arch, self.bd, self.orders, ctx.objectives,
                                ctx.extra.get("options"))
        self.T = len(self.wl.tensors)
        self.leaf = space_leaf_bound(space, options.link_transfers)  # shared likewise
        self.incumbent = np.empty((0, len(ctx.objectives)))  # internal orientation
        self.told = np.empty((0, len(ctx.objectives)))
        self.count = lru_cache(maxsize=None)(self._count)
        self.sig = [self._signatures(di) for di in self.perm]
        root = (0, (), np.ones(self.bd.n_pos), np.ones(self.bd.n_neg),
                np.ones((2, len(self.arch.levels)), dtype=np.int64), 0,
                (0,) * len(self.arch.levels))
        ones = np.ones((1, self.L), dtype=np.int64)
        rp0 = self.joint.relaxed(range(self.D), ones, ones)  # rule J (K and P: on expanding)
        e0, c0 = self.bd.bound(rp0, self.bd.relaxed(0)[1][None])
        pes = math.prod(fx * fy for fx, fy in self.bd.fanout)
        c0 = np.maximum(c0, math.ceil(math.prod(self.st.bounds) / pes))
        # Open subtrees: a heap by the lower bound of the gap objective (best first, so
        # the proven bound rises as fast as possible), and a depth-first stack used
        # instead when the heap is full (memory stays bounded).
        self.heap: list = []
        self.stack: list = []
        self.seq = 0
        # A node: (depth, rows, column products, subtracted products, spatial products
        # [2, L], prefix index, non-unit loops per level, objective bounds, the gap
        # objective's floor from rule P, and rule P's bounds per profile of the next
        # dimension's rows once it ran (None before): the children's floors and bounds).
        self._push([root + (self._lb_vec(e0, c0)[0], 0.0, None)])
        L, D, T = len(self.arch.levels), len(self.st.dims), len(self.wl.tensors)
        self._empty = MappingBatch(*(np.ones((0, L, D), dtype=np.int64) for _ in range(3)),
                                   np.zeros((0, L, D), dtype=np.int64),
                                   np.zeros((0, L, T), dtype=bool))
        self.pending: deque = deque()  # blocks' tilings awaiting their rules (pending.py)
        self._grids: dict[int, np.ndarray] = {}  # _block's completions per depth
        self.ready: deque = deque()  # tilings past every rule, with their leaves left
        self.cursor = None  # (tiling record, next row)
        self.done = False
        self.seed_rows = None
        self.lowest: dict[tuple, int] = {}  # told front values -> lowest id reaching them
        self.meter = WorkMeter(self.probe)  # bounding work, charged to the budget (work.py)
        self.charged = 0  # work units handed out with proposals so far
        if self.seed_values is not None:  # the caller merges these points into the result
            self._add_incumbent(np.asarray(self.seed_values, dtype=float).reshape(
                -1, len(ctx.objectives)) * self.signs)
        elif worth_warming(space.pruned_size, self.warm_start):
            self._warm(space)

    def _warm(self, space) -> None:
        """Seed the incumbent with a short run of ``local``; its front is proposed first.
        With an evaluation budget and no time limit it stops by evaluations alone (at most
        a quarter of the budget, charged as work), so the result is deterministic."""
        budget, timed = self.ctx.budget, self.ctx.extra.get("deadline") is not None
        n = self.warm_start if budget is None else min(self.warm_start, budget // 4)
        x, self.seed_rows, self.meter.warm = warm_start(
            space, self.ctx, n, min(self.warm_seconds, self._time_left()) if timed else math.inf)
        if len(x):
            self._add_incumbent(x)

    @property
    def capacity(self) -> CapacityRelax:
        """Rule K: the unassigned dimensions' rows must fit the keepers (built on first
        use: a search stopped before its first subtree never pays for the tables)."""
        if self._capacity is None:
            self._capacity = CapacityRelax(self.bd)
        return self._capacity

    @property
    def profiles(self) -> SpatialProfiles:
        """Rule P: one bound per spatial profile (built on first use)."""
        if self._profiles is None:
            self._profiles = SpatialProfiles(self.bd)
        return self._profiles

    def _time_left(self) -> float:
        """Seconds to the stream's deadline (``ctx.extra["deadline"]``, set by the search
        driver when the search has a time limit), so no ask overruns it; inf without."""
        deadline = self.ctx.extra.get("deadline")
        return math.inf if deadline is None else max(0.0, deadline - time.perf_counter())

    def add_incumbent(self, values) -> None:
        """Prune against these objective vectors (user orientation) from now on. Like the
        ``incumbent`` option they are never proposed: the caller must hold mappings with
        these values and merge them into the result (the default strategy ``auto`` does)."""
        self._add_incumbent(np.asarray(values, dtype=float).reshape(
            -1, len(self.ctx.objectives)) * self.signs)

    def _add_incumbent(self, x: np.ndarray) -> None:
        allx = np.vstack([self.incumbent, x])
        self.incumbent = allx[nondominated_mask(allx)]

    # -- bounds as objective vectors -----------------------------------------------------
    def _lb_vec(self, energy: np.ndarray, cycles: np.ndarray) -> np.ndarray:
        return objective_bounds(self.ctx.objectives, self.signs, self.utilization_scale,
                                energy, cycles)

    def _dominated(self, lb: np.ndarray) -> np.ndarray:
        return strictly_dominated(self.incumbent, lb)

    def _block(self, depth, rows, pos, neg, sp, fi) -> None:
        """Every completion of a prefix at once: exact bounds, legality, pruning."""
        bd, D = self.bd, self.D
        grid = self._grids.get(depth)  # every completion's rows (the same per depth)
        if grid is None:
            grid = self._grids[depth] = np.zeros((1, 0), dtype=np.int64) if D == depth \
                else np.ascontiguousarray(np.indices(self.sizes[depth:], dtype=np.int64)
                                          .reshape(D - depth, -1).T)
        if depth < self.split and self.ctx.workers > 1:
            prefix = fi
            for k in range(depth, self.split):
                prefix = prefix * self.sizes[k] + grid[:, k - depth]
            grid = grid[prefix % self.ctx.workers == self.ctx.worker]
        N = len(grid)
        if N == 0:  # another stream's share
            return
        # Legality first (fanout, PE utilization), from the spatial products alone; the
        # tilings' arrays and bounds are formed for the legal ones only. Orders per
        # tiling (at most permutation_size): int64 while a block's sums of them times
        # the keep choices fit, Python ints otherwise.
        sel, combos, fan, low = legal_rows(rows, grid, self.perm, bd.dim_tables, bd.fx,
                                           bd.fy, self.need_pes,
                                           N * self.P * self.B >= 2 ** 62)
        self.illegal["fanout"] += fan * self.B
        self.illegal["pe_utilization"] += low * self.B
        if not len(sel):
            return
        N = len(sel)
        full = np.concatenate([np.broadcast_to(np.array(rows, dtype=np.int64), (N, depth)),
                               grid[sel]], axis=1)
        temporal, _, _, ext, P, Q = block_arrays(full, self.perm, depth, pos, neg,
                                                 bd.dim_tables, meshes=False)
        keep_ok = self.orders.legal_keeps(ext)
        nk = keep_ok.sum(axis=1)
        self.illegal["capacity"] += int((combos * (self.B - nk)).sum())
        live = np.nonzero(nk > 0)[0]  # bounds only for the legal tilings
        if not len(live):
            return
        # B6 extents with B7, one tensor's B7 at a time (staged.py)
        energy, cycles, ce, dom = self.staged.bound(temporal[live], ext[live], P[live],
                                                    Q[live], self.incumbent)
        lb = self._lb_vec(energy, cycles)
        dom[~dom] = self._dominated(lb[~dom])  # the full bound of the others
        self.removed["tiling_bound"] += int((combos[live[dom]] * nk[live[dom]]).sum())
        keep = np.nonzero(~dom)[0]
        if not len(keep):
            return
        kl = live[keep]
        radix = self.tree_radix
        tfis = (full[kl].astype(radix.dtype) * radix[None]).sum(axis=1)  # mapspace indices
        self.pending.append(PendingTilings(tfis, full[kl], keep_ok[kl], lb[keep], combos[kl],
                                           temporal[kl], P[kl], Q[kl], ce[keep], ext[kl]))

    @staticmethod
    def _cycles(rec) -> float:
        """Compute cycles of a pending tiling (product of its temporal factors)."""
        return float(np.prod(rec[1]))

    # -- ask / tell ----------------------------------------------------------------------
    def _next_tiling(self, deadline: float, work_limit: int) -> bool | None:
        """Move the cursor to the next tiling with leaves left (rules tiling_bound,
        keep_bound, leaf_bound's least, then order_bound on a group of tilings at once).
        Subtrees are expanded until a whole group of tilings waits (or none is left
        open): a group's rules cost a few dozen array calls whatever its size."""
        while not self.ready:
            while sum(len(b) for b in self.pending) < self.group and \
                    (self.stack or self.heap):
                node = self.stack[-1] if self.stack else self.heap[0][2]
                self.meter.expansion(self.sizes, node[0], self.block, self.ctx.workers,
                                     node[0] < self.split and self.ctx.workers > 1)
                self._expand()
                if time.perf_counter() > deadline or self.meter.total() >= work_limit:
                    return None  # hand control back to the driver (time limits, budget)
            if not self.pending:
                return False
            self.meter.groups += 1
            group = self._group()
            recs = self._least_leaf(group) if self.leaf_bound else \
                self._records([(blk, rows, blk.lb[rows]) for blk, rows in group])
            if recs:
                self.ready.extend(self._leaves(list(zip(recs, self.orders.level_tables_of(
                    np.array([rec[1] for rec in recs]))))))
        rec, tables, idx = self.ready.popleft()
        self.cursor = [rec, tables, idx, 0]
        return True

    def _work(self) -> int:
        """Work units spent since the last proposal (``Proposal.work``)."""
        spent, self.charged = self.meter.total() - self.charged, self.meter.total()
        return spent

    def ask(self, n: int) -> Proposal | None:
        if self.seed_rows is not None:  # the warm start's front first (anytime quality)
            batch, ids = self.seed_rows
            m = min(n, len(ids))
            rest = MappingBatch(*(getattr(batch, f)[m:] for f in
                                  ("temporal", "spatial_x", "spatial_y", "rank", "keep")))
            self.seed_rows = (rest, ids[m:]) if len(ids) > m else None
            self.seeded = m
            return Proposal(MappingBatch(*(getattr(batch, f)[:m] for f in
                                           ("temporal", "spatial_x", "spatial_y", "rank",
                                            "keep"))), ids[:m], work=self._work())
        parts, ids = [], []
        got = 0
        # An ask ends after ``n`` proposals and work units, and with a time limit after a
        # slice of time (without one, never by time: the budget's result is deterministic).
        timed = self.ctx.extra.get("deadline") is not None
        deadline = time.perf_counter() + min(self.slice_seconds, self._time_left()) \
            if timed else math.inf
        work_limit = self.charged + n
        while got < n - max(0, self.meter.total() - self.charged):
            if self.cursor is None:
                moved = self._next_tiling(deadline, work_limit - got)
                if moved is None:
                    if parts:
                        break
                    return Proposal(self._empty, [], work=self._work())
                if not moved:
                    break
            rec, tables, left, start = self.cursor
            stop = min(len(left), start + n - got)
            idx = left[start:stop]
            self.cursor = None if stop >= len(left) else [rec, tables, left, stop]
            if not len(idx):
                continue
            t, sx, sy, rk, kp, per, by = materialize(tables, rec[1], rec[2], rec[3], rec[4],
                                                     self.orders.keep_sets, idx)
            parts.append(MappingBatch(t, sx, sy, rk, kp))
            # ids in int64 when every id of the space fits, else as Python ints
            kind = np.int64 if self.ctx.space.size < 2 ** 63 else object
            lp = np.zeros(len(idx), dtype=kind)
            for i, pc in enumerate(self.st.perm_count):
                lp = lp * pc + per[i].astype(kind)
            ids.extend(((rec[0] * self.P + lp) * self.B + by.astype(kind)).tolist())
            got += len(idx)
        if not parts:
            self.done = True
            return None
        return Proposal(MappingBatch.concat(parts), ids, work=self._work())

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        x = values * self.signs
        if self.seeded:  # the warm start's rows are scored again by the walk
            self.seeded = 0
        else:
            self.evaluated += len(x)
        self._add_incumbent(x)
        allx = np.vstack([self.told, x])
        self.told = allx[nondominated_mask(allx)]
        # Equal values: the lowest id wins (the warm start's rows came first).
        front = {tuple(v) for v in self.told.tolist()}
        self.lowest = {k: v for k, v in self.lowest.items() if k in front}
        # Only rows equal (in the first objective, then exactly) to a row of the batch's
        # own non-dominated set can be on the front: the others are skipped at once.
        firsts = x[nondominated_mask(x), 0]
        for r in np.nonzero(np.isin(x[:, 0], firsts))[0]:
            if tuple(x[r].tolist()) in front:
                key = tuple(values[r].tolist())
                mid = int(proposal.ids[r])
                if mid < self.lowest.get(key, mid + 1):
                    self.lowest[key] = mid

    # -- the certificate -----------------------------------------------------------------
    def certificate(self) -> dict:
        """What was proven: rule counts and, if stopped early, the lower bound of every
        objective (and of EDP) over the part not explored."""
        nodes = self.stack + [h[2] for h in self.heap]
        lbs = [node[7] for node in nodes] + \
            [lb for blk in self.pending for lb in blk.rest_bounds()] + \
            [r[0][5] for r in self.ready]
        floors = [node[8] for node in nodes] + [0.0] * (len(lbs) - len(nodes))  # rule P
        if self.cursor is not None:
            lbs.append(self.cursor[0][5])
            floors.append(0.0)
        complete = self.done and not lbs
        objs = list(self.ctx.objectives)
        unexplored = None
        if lbs:
            arr = np.array(lbs)
            unexplored = {o: float(arr[:, j].min() * self.signs[j]) for j, o in enumerate(objs)}
            if "energy_pj" in objs and "cycles" in objs:
                e, c = arr[:, objs.index("energy_pj")], arr[:, objs.index("cycles")]
                unexplored["edp"] = float((np.maximum(e * c, floors) * 1e-12).min())
        return {"lowest_ids": [[list(k), v] for k, v in self.lowest.items()],
                "complete": complete, "evaluated": self.evaluated, "probes": self.probes,
                "pruned": dict(self.removed), "illegal": dict(self.illegal),
                "rules": list(RULES), "unexplored_lower_bound": unexplored}
