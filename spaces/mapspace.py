"""The mapspace of a workload on an architecture: count it, index it, enumerate it, sample it.

The space is the product of three sub-spaces (docs/mapspace.md):

* **index factorization** (IF): for every dimension, an ordered split of its bound over
  the tiling slots, outermost first: each level's temporal slot, then its spatial slot
  when the level fans out. A spatial factor > 1 also picks its mesh axis (X or Y) among
  the axes the constraints allow (the spatial-axis sub-space, SA, folded into the
  per-dimension lists);
* **loop permutation** (LP): per level, the order of the temporal loops that can have a
  factor > 1 there, with the constrained outermost/innermost dimensions pinned (loops
  forced to 1 follow in dimension order). The innermost level's order is fixed
  (dimension order): nothing below it holds a tile, so its order moves no data;
* **bypass** (BY): per level below the outermost, keep or bypass each tensor it may hold.

Ids are mixed-radix numbers over (IF x SA, LP, BY), so ``mapping(id)`` and ``id(mapping)``
are inverse bijections between ``range(size)`` and mappings that list every temporal loop
(unit ones included). **Pruning** folds mappings that differ only in where unit-factor
loops sit (they move no data: docs/semantics.md): the canonical member puts them after
the other free loops of its level, in dimension order. ``pruned_size`` counts the
canonical members exactly; ``enumerate`` walks them in id order. A further fold that
changes no cost: a dummy level (it holds no data) whose parent has no fanout gets no
temporal slot, since its loops are exactly the parent's innermost loops.

Fanout and capacity are not part of the product: ``sample`` draws ids uniformly and
keeps the legal ones (``check_mapping``), and ``legal_fraction`` estimates their share.
``sample_batch`` draws from the same distribution, vectorized, straight into the arrays
of a ``MappingBatch`` (``spaces/batch_sampling.py``).
"""

from __future__ import annotations

import math
import random
from functools import cached_property
from itertools import permutations
from typing import Iterator

import numpy as np

from .arch import Architecture
from .batch_sampling import BatchSampler, as_generator
from .constraints import NO_CONSTRAINTS, Constraints
from .encoding import MappingBatch, encode
from .errors import SpecError
from .factors import rank_permutation
from .feasibility import capacity_floor_check, validate_constraints
from .legality import BatchLegality, mapping_problems, pe_utilization_problems
from .mapping import LevelMapping, Loop, Mapping
from .loop_orders import LevelOrder, level_orders
from .proposal import ProposalEntry, build_proposal
from .imperfect import ImperfectDimSpace, imperfect_dim_space
from .imperfect_levels import level_imperfect_dim_space
from .slots import DimSpace, Slot, dim_space, has_temporal_slot, tiling_slots
from .workload import Workload


class Mapspace:
    """All mappings of ``workload`` on ``arch`` allowed by ``constraints``."""

    def __init__(self, workload: Workload, arch: Architecture,
                 constraints: Constraints | None = None, *, imperfect: bool | None = None):
        self.workload = workload
        self.arch = arch
        self.constraints = constraints or NO_CONSTRAINTS
        if imperfect is not None and imperfect != self.constraints.imperfect:
            import dataclasses
            self.constraints = dataclasses.replace(self.constraints, imperfect=imperfect)
        #: Whether factorizations may use residual loops (``spaces/imperfect.py``).
        self.imperfect = self.constraints.imperfect
        unknown = [d for d in self.constraints.imperfect_dims or () if d not in workload.dims]
        if unknown:
            raise SpecError(f"imperfect names {', '.join(unknown)}, not a dimension of "
                            f"{workload.name}", source=self.constraints.source,
                            key="constraints.imperfect",
                            fix=f"use dimensions of {', '.join(workload.dims)}")
        unknown = [n for n in self.constraints.imperfect_levels or ()
                   if n not in arch.level_names]
        if unknown:
            raise SpecError(f"imperfect levels name {', '.join(unknown)}, not a level of "
                            f"{arch.name}", source=self.constraints.source,
                            key="constraints.imperfect.levels",
                            fix=f"use levels of {', '.join(arch.level_names)}")
        self._validate()
        L = len(arch.levels)
        dims = workload.dims
        self._fanout = [arch.fanout(i) for i in range(L)]
        self._has_temporal = [has_temporal_slot(arch, i) for i in range(L)]
        self.slots: tuple[Slot, ...] = tiling_slots(arch)
        self._dims = [self._dim_space(d) for d in dims]
        # Loop permutation: per level, pinned outer dims, a free region, pinned inner dims.
        self._orders: list[LevelOrder] = list(level_orders(arch, self.constraints, dims,
                                                           self._dims))
        # Bypass: the free (level, tensor) keep bits, and fixed keep sets.
        self._keep_fixed: list[dict[str, bool]] = []
        self._keep_free: list[tuple[int, str]] = []
        for i, lvl in enumerate(arch.levels):
            fixed: dict[str, bool] = {}
            lc = self.constraints.level(lvl.name)
            for t in workload.tensor_names:
                if i == 0:
                    fixed[t] = True
                elif not lvl.may_keep(t):
                    fixed[t] = False
                elif lc and t in lc.keep:
                    fixed[t] = True
                elif lc and t in lc.bypass:
                    fixed[t] = False
                else:
                    self._keep_free.append((i, t))
            self._keep_fixed.append(fixed)

    # -- construction helpers -----------------------------------------------------------
    def _validate(self) -> None:
        """Contradictory constraints and layers that fit no mapping fail here, with
        errors naming the constraints in conflict or the level that is too small."""
        validate_constraints(self.constraints, self.workload, self.arch)
        capacity_floor_check(self.workload, self.arch, self.constraints)

    def _dim_space(self, dim: str) -> "DimSpace | ImperfectDimSpace":
        bound = self.workload.bound(dim)
        make = dim_space
        if self.constraints.imperfect_for(dim):
            make = imperfect_dim_space if self.constraints.imperfect_levels is None \
                else level_imperfect_dim_space
        space = make(self.workload, self.arch, self.constraints, dim, self.slots)
        if space.size == 0:
            raise SpecError(f"no split of {dim}={bound} over the levels satisfies the "
                            f"factor constraints", source=self.constraints.source,
                            key=f"constraints (dimension {dim})",
                            fix="relax the factor rules of this dimension")
        return space

    # -- sizes ----------------------------------------------------------------------------
    @cached_property
    def factorization_size(self) -> int:
        """IF x SA: factor splits including each spatial factor's axis."""
        return math.prod(d.size for d in self._dims)

    @cached_property
    def timeloop_factorization_size(self) -> int:
        """Index factorizations counted as Timeloop does: one spatial slot per level,
        the axis not part of it, spatial factors not limited by the fanout."""
        return math.prod(ds.uncapped_count() for ds in self._dims)

    # -- structure (what strategies and samplers build on) -------------------------------
    @property
    def dim_spaces(self) -> tuple[DimSpace, ...]:
        """Per dimension (``workload.dims`` order), its factorizations over ``slots``."""
        return tuple(self._dims)

    @property
    def fanouts(self) -> tuple[tuple[int, int], ...]:
        """Per level, its (X, Y) spatial fanout."""
        return tuple(self._fanout)

    @property
    def level_orders(self) -> tuple[LevelOrder, ...]:
        """Per level, its loop-order structure (pinned, free and fixed loops)."""
        return tuple(self._orders)

    def permutation_count(self, level: int) -> int:
        """Loop orders of ``level`` (its free loops permuted)."""
        return self._orders[level].count

    @property
    def keep_fixed(self) -> tuple[dict[str, bool], ...]:
        """Per level, the tensors whose keep bit is fixed (True kept, False bypassed)."""
        return tuple(dict(k) for k in self._keep_fixed)

    @property
    def keep_free(self) -> tuple[tuple[int, str], ...]:
        """The free keep bits as (level, tensor); bit k of a bypass index is the k-th."""
        return tuple(self._keep_free)

    def keep_sets(self, by: int) -> list[tuple[str, ...]]:
        """Per level, the tensors kept under bypass index ``by``."""
        free = {key: bool((by >> k) & 1) for k, key in enumerate(self._keep_free)}
        return [tuple(t for t in self.workload.tensor_names
                      if self._keep_fixed[i].get(t, free.get((i, t), False)))
                for i in range(len(self.arch.levels))]

    @property
    def proposal(self) -> list[ProposalEntry] | None:
        """The sampling proposal: per keep choice with a non-empty capacity-aware
        superset, its bypass index, superset size and per-dimension limits (see
        ``sample``); None when there are too many keep choices to list."""
        return self._proposal

    @cached_property
    def permutation_size(self) -> int:
        return math.prod(self.permutation_count(i) for i in range(len(self.arch.levels)))

    @cached_property
    def bypass_size(self) -> int:
        return 2 ** len(self._keep_free)

    @cached_property
    def size(self) -> int:
        """Number of ids (before pruning)."""
        return self.factorization_size * self.permutation_size * self.bypass_size

    @cached_property
    def pruned_size(self) -> int:
        """Mappings after folding unit-loop positions: sum over factorizations of the
        product over levels of (number of non-unit free loops)!, times the bypass size."""
        L = len(self.arch.levels)
        # Only levels where two or more free dimensions can be non-unit need tracking.
        can = [0] * L
        for d, ds in zip(self.workload.dims, self._dims):
            for j, slot in enumerate(ds.slots):
                if slot.kind == "T" and d in self._orders[slot.level].free and \
                        any(f > 1 for f, _ in ds.options[j]):
                    can[slot.level] += 1
        tracked = [c >= 2 for c in can]
        states: dict[tuple[int, ...], int] = {tuple(0 for _ in range(sum(tracked))): 1}
        track_idx = [i for i in range(L) if tracked[i]]
        for d, ds in zip(self.workload.dims, self._dims):
            flags = [tracked[i] and d in self._orders[i].free for i in range(L)]
            sigs = ds.by_signature(flags)
            # Map the dim's signature (over its flagged levels) onto tracked positions.
            flagged = [i for i in range(L) if flags[i]]
            new: dict[tuple[int, ...], int] = {}
            for st, c in states.items():
                for sig, m in sigs.items():
                    v = list(st)
                    for lvl, bit in zip(flagged, sig):
                        v[track_idx.index(lvl)] += bit
                    key = tuple(v)
                    new[key] = new.get(key, 0) + c * m
            states = new
        total = sum(c * math.prod(math.factorial(x) for x in st) for st, c in states.items())
        return total * self.bypass_size

    def sizes(self) -> dict[str, int]:
        """Sub-space sizes and totals (Python ints)."""
        return {
            "index_factorization": self.timeloop_factorization_size,
            "factorization_with_axes": self.factorization_size,
            "loop_permutation": self.permutation_size,
            "bypass": self.bypass_size,
            "total": self.size,
            "pruned": self.pruned_size,
        }

    # -- ids <-> mappings --------------------------------------------------------------------
    def _split(self, mid: int) -> tuple[list[int], list[int], int]:
        if not 0 <= mid < self.size:
            raise IndexError(f"id {mid} outside [0, {self.size})")
        by = mid % self.bypass_size
        mid //= self.bypass_size
        lp_total = self.permutation_size
        lp = mid % lp_total
        fi = mid // lp_total
        f_idx = []
        for ds in reversed(self._dims):
            f_idx.append(fi % ds.size)
            fi //= ds.size
        f_idx.reverse()
        p_idx = []
        for i in reversed(range(len(self.arch.levels))):
            n = self.permutation_count(i)
            p_idx.append(lp % n)
            lp //= n
        p_idx.reverse()
        return f_idx, p_idx, by

    def mapping(self, mid: int) -> Mapping:
        """The mapping with id ``mid`` (every temporal loop listed, unit ones included)."""
        f_idx, p_idx, by = self._split(mid)
        dims = self.workload.dims
        L = len(self.arch.levels)
        temporal = [{d: 1 for d in dims} for _ in range(L)]
        sx: list[list[Loop]] = [[] for _ in range(L)]
        sy: list[list[Loop]] = [[] for _ in range(L)]
        resid: dict[tuple[int, str], int | None] = {}
        for d, ds, r in zip(dims, self._dims, f_idx):
            choice = ds.unrank(r)
            res = ds.residuals(choice) if isinstance(ds, ImperfectDimSpace) \
                else [None] * len(choice)
            for slot, (f, axis), rr in zip(ds.slots, choice, res):
                if slot.kind == "T":
                    temporal[slot.level][d] = f
                    resid[slot.level, d] = rr
                elif f > 1:
                    (sx if axis == "X" else sy)[slot.level].append(Loop(d, f, rr))
        keep_bits = [(by >> k) & 1 for k in range(len(self._keep_free))]
        free_keep = {key: bool(bit) for key, bit in zip(self._keep_free, keep_bits)}
        levels = []
        for i, lvl in enumerate(self.arch.levels):
            order = self._orders[i].unrank(p_idx[i])
            loops = tuple(Loop(d, temporal[i][d], resid.get((i, d))) for d in order)
            keep = tuple(t for t in self.workload.tensor_names
                         if self._keep_fixed[i].get(t, free_keep.get((i, t), False)))
            levels.append(LevelMapping(lvl.name, loops, tuple(sx[i]), tuple(sy[i]), keep))
        return Mapping(tuple(levels))

    def id(self, mapping: Mapping) -> int:
        """The id of ``mapping``; unit loops it leaves out are placed canonically."""
        dims = self.workload.dims
        if len(mapping.levels) != len(self.arch.levels):
            raise KeyError("mapping does not fit this architecture")
        fi = 0
        for d, ds in zip(dims, self._dims):
            choice = []
            for slot in ds.slots:
                lm = mapping.levels[slot.level]
                if slot.kind == "T":
                    choice.append((lm.factor(d, "temporal"), ""))
                else:
                    fxv = math.prod(l.factor for l in lm.spatial_x if l.dim == d)
                    fyv = math.prod(l.factor for l in lm.spatial_y if l.dim == d)
                    if fxv > 1 and fyv > 1:
                        raise KeyError(f"{d} is spatial on both axes at {lm.target}")
                    choice.append((fxv, "X") if fxv > 1 else (fyv, "Y") if fyv > 1 else (1, ""))
            for i, lm in enumerate(mapping.levels):
                if not self._has_temporal[i] and lm.factor(d, "temporal") != 1:
                    raise KeyError(f"{lm.target} takes no temporal loops in this mapspace")
            if isinstance(ds, ImperfectDimSpace):
                self._check_residuals(mapping, d, ds, choice)
            elif any(l.imperfect for lm in mapping.levels for l in lm.temporal + lm.spatial
                     if l.dim == d):
                raise KeyError(f"{d} has a residual loop; this mapspace keeps {d} perfect")
            fi = fi * ds.size + ds.rank(choice)
        lp = 0
        for i, lm in enumerate(mapping.levels):
            listed = [l.dim for l in lm.temporal]
            if len(set(listed)) != len(listed):
                raise KeyError(f"{lm.target}: a dimension has two temporal loops")
            order = self._canonical_order(i, listed, lm)
            lp = lp * self.permutation_count(i) + rank_permutation(self._orders[i].free, order)
        by = 0
        for k, (i, t) in enumerate(self._keep_free):
            if t in mapping.levels[i].keep:
                by |= 1 << k
        return (fi * self.permutation_size + lp) * self.bypass_size + by

    def _check_residuals(self, mapping: Mapping, d: str, ds, choice) -> None:
        """KeyError unless ``mapping``'s residuals of ``d`` are those its ends determine."""
        want = ds.residuals(choice)
        for slot, (f, _), r in zip(ds.slots, choice, want):
            lm = mapping.levels[slot.level]
            loops = lm.temporal if slot.kind == "T" else lm.spatial_x + lm.spatial_y
            got = [l.residual for l in loops if l.dim == d and l.factor > 1]
            if (got[0] if got else None) != r:
                raise KeyError(f"{lm.target}: residual of {d} is {got[0] if got else None}, "
                               f"its loop ends determine {r}")

    def _canonical_order(self, i: int, listed: list[str], lm: LevelMapping) -> tuple[str, ...]:
        """The free-region order of level i: the listed free dims in their order, then the
        free dims the mapping leaves out (unit loops) in dimension order. The non-unit
        loops must respect the pinned outer/inner dimensions."""
        lo = self._orders[i]
        free = lo.free
        if not free:
            return ()
        big = [d for d in listed if lm.factor(d, "temporal") > 1]
        outer = [d for d in lo.outer if d in big]
        inner = [d for d in lo.inner if d in big]
        middle = [d for d in big if d in free]
        if big != outer + middle + inner:
            raise KeyError(f"{lm.target}: loop order breaks the pinned outer/inner dimensions")
        present = [d for d in listed if d in free]
        return tuple(present + [d for d in free if d not in present])

    def canonical_id(self, mid: int) -> int:
        """The id of the canonical member of ``mid``'s pruning class."""
        m = self.mapping(mid)
        return self.id(_drop_unit_temporal(m))

    def is_canonical(self, mid: int) -> bool:
        return self.canonical_id(mid) == mid

    # -- enumeration and sampling --------------------------------------------------------
    def enumerate(self, *, legal: bool = True, limit: int | None = None
                  ) -> Iterator[tuple[int, Mapping]]:
        """Canonical mappings in increasing id order (legal ones only by default)."""
        count = 0
        n_f = self.factorization_size
        L = len(self.arch.levels)
        for fi in range(n_f):
            base = self.mapping(fi * self.permutation_size * self.bypass_size)
            # Per level: canonical free-region orders = orders of its non-unit free loops
            # followed by the unit ones in dimension order.
            per_level = []
            for i in range(L):
                free = self._orders[i].free
                t = {l.dim: l.factor for l in base.levels[i].temporal}
                nonunit = [d for d in free if t.get(d, 1) > 1]
                unit = [d for d in free if t.get(d, 1) == 1]
                ranks = sorted(rank_permutation(free, tuple(p) + tuple(unit))
                               for p in permutations(nonunit))
                per_level.append(ranks)
            lp_ids = [0]
            for i in range(L):
                lp_ids = [x * self.permutation_count(i) + r for x in lp_ids for r in per_level[i]]
            for lp in lp_ids:
                for by in range(self.bypass_size):
                    mid = (fi * self.permutation_size + lp) * self.bypass_size + by
                    m = self.mapping(mid)
                    if legal and self.problems(m):
                        continue
                    yield mid, m
                    count += 1
                    if limit is not None and count >= limit:
                        return

    def problems(self, mapping: Mapping) -> list[tuple[str | None, str | None, str]]:
        """Legality problems of a mapping of this space (fanout per axis, capacity, and
        the minimum PE utilization constraint)."""
        out = mapping_problems(self.workload, self.arch, mapping)
        if not out:
            out = pe_utilization_problems(self.arch, mapping,
                                          self.constraints.min_pe_utilization)
        return out

    @cached_property
    def batch_legality(self) -> BatchLegality:
        """The vectorized twin of ``problems`` for rows that are points of this space
        (``spaces/legality.py``): ``batch_legality.check_batch(batch)`` is a bool mask."""
        L = len(self.arch.levels)
        colmax = {k: [[ds.max_factor(i, k) for ds in self._dims] for i in range(L)]
                  for k in ("T", "SX", "SY")}
        keep_const = [[self._keep_fixed[i].get(t) for t in self.workload.tensor_names]
                      for i in range(L)]
        return BatchLegality(self.workload, self.arch, colmax, keep_const,
                             self.constraints.min_pe_utilization)

    def is_legal(self, mapping: Mapping) -> bool:
        return not self.problems(mapping)

    # Sampling: the capacity-aware proposal (spaces/proposal.py), drawn uniformly, and
    # rejection of what is illegal: uniform over the legal ids.
    _MAX_PLANNED_BYPASS = 4096

    @cached_property
    def _proposal(self) -> list[ProposalEntry] | None:
        return build_proposal(self, self._MAX_PLANNED_BYPASS)

    def _draw_id(self, rng: random.Random) -> int:
        plan = self._proposal
        if plan is None:
            return rng.randrange(self.size)
        total = sum(w for _, w, _ in plan)
        x = rng.randrange(total)
        for by, w, limits in plan:
            if x < w:
                break
            x -= w
        fi = 0
        for ds, lim in zip(self._dims, limits):
            choice = ds.unrank(rng.randrange(ds.count(lim)), lim)
            fi = fi * ds.size + ds.rank(choice)
        lp = rng.randrange(self.permutation_size)
        return (fi * self.permutation_size + lp) * self.bypass_size + by

    def sample(self, n: int, *, seed: int | None = None, rng: random.Random | None = None,
               max_draws: int | None = None) -> list[tuple[int, Mapping]]:
        """``n`` legal mappings (with their ids) drawn uniformly from the legal ids."""
        rng = rng or random.Random(seed)
        out: list[tuple[int, Mapping]] = []
        draws = 0
        limit = max_draws if max_draws is not None else max(10000, 1000 * n)
        if self._proposal == []:
            raise SpecError("the layer fits no mapping: no split of the dimensions fits the "
                            "buffers under any keep choice", key="mapspace",
                            fix="bypass tensors at small levels or enlarge them")
        while len(out) < n:
            if draws >= limit:
                raise SpecError(f"found {len(out)} legal mappings in {draws} draws",
                                key="mapspace", fix="relax the constraints or the capacities; "
                                                    "`loopscape space` estimates the legal fraction")
            mid = self._draw_id(rng)
            draws += 1
            m = self.mapping(mid)
            if self.is_legal(m):
                out.append((mid, m))
        return out

    @cached_property
    def _batch_sampler(self) -> BatchSampler:
        return BatchSampler(self)

    def sample_batch(self, n: int, *, seed: int | None = None,
                     rng: "np.random.Generator | random.Random | None" = None,
                     with_ids: bool = True, max_draws: int | None = None
                     ) -> "tuple[np.ndarray | None, MappingBatch]":
        """``n`` legal mappings drawn uniformly from the legal ids (the distribution of
        ``sample``), vectorized: ``(ids, batch)`` with ``batch`` a ``MappingBatch`` (row
        ``i`` is ``encode([mapping(ids[i])])``) and ``ids`` int64, or object (Python ints)
        when the space has 2**63 ids or more; ``ids`` is None if ``with_ids=False``.

        ``rng`` is a ``numpy.random.Generator`` or a ``random.Random``; the same seed (or
        generator state) gives the same batch. See ``spaces/batch_sampling.py``."""
        if self.imperfect:  # no factor tables: scalar draws, encoded (residuals included)
            g = as_generator(seed, rng)
            drawn = self.sample(n, rng=random.Random(int(g.integers(0, 2 ** 63))),
                                max_draws=max_draws)
            batch = encode(self.workload, self.arch, [m for _, m in drawn])
            ids = np.array([mid for mid, _ in drawn],
                           dtype=np.int64 if self.size < 2 ** 63 else object)
            return (ids if with_ids else None), batch
        return self._batch_sampler.sample(n, as_generator(seed, rng), with_ids=with_ids,
                                          max_draws=max_draws)

    def legal_fraction(self, samples: int = 2000, seed: int = 0) -> float:
        """Share of ids whose mapping is legal, estimated from uniform draws."""
        rng = random.Random(seed)
        ok = sum(self.is_legal(self.mapping(rng.randrange(self.size))) for _ in range(samples))
        return ok / samples


def _drop_unit_temporal(m: Mapping) -> Mapping:
    return Mapping(tuple(LevelMapping(lm.target, tuple(l for l in lm.temporal if l.factor > 1),
                                      lm.spatial_x, lm.spatial_y, lm.keep) for lm in m.levels))
