"""Admissible lower bounds for sets of tilings (docs/optimal.md, rules B1-B7 and L).

A *tiling* fixes every factor (and mesh axis) of every dimension: one row of each
dimension's factorization list. Loop orders and keep/bypass choices are left open. For
a set of tilings (one full tiling, or every completion of a prefix of dimensions) this
module gives a lower bound of energy and of cycles that holds for every order and keep
choice (or, with ``keep_sets``, for every order of each given keep choice). Every term
is a product over dimensions of a non-negative per-dimension feature, so a prefix is
bounded by taking, for each unassigned dimension, the minimum of each feature over its
rows (the maximum for the one subtracted term).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.workload import Tensor, Workload

from .block_kernels import dim_tables
from .compulsory import compulsory_words
from .kernel_tables import chain_tables
from .kernels import chain_energy as chain_rows
from .kernels import compound_extents as compound_rows
from .runs import RunBound
from .scope import per_instance_floor
from .structure import SpaceStructure

SAFETY = 1.0 - 1e-9  # floating-point slack: the model sums in another order


def solo_dims(tensor: Tensor) -> frozenset[str]:
    """Dimensions that alone make up some axis of ``tensor`` (with a non-zero coefficient):
    children of a fanout that differ in such a dimension have different tile origins."""
    return frozenset(axis[0][1] for axis in tensor.axes if len(axis) == 1 and axis[0][0] != 0)


def is_simple(tensor: Tensor) -> bool:
    """Every axis is one dimension with coefficient +-1 and no dimension repeats: tiles
    of different positions are disjoint, there is no sliding window and no hole."""
    ds = [axis[0][1] for axis in tensor.axes if len(axis) == 1 and abs(axis[0][0]) == 1]
    return len(ds) == len(tensor.axes) and len(set(ds)) == len(ds)


def without_unit_terms(workload: Workload) -> Workload:
    """``workload`` with every axis term of a dimension of bound 1 left out (its index is
    always 0, so every tile and coordinate is the same): a 1x1 convolution's ``p + r``
    axis becomes ``p``, which makes P solo (rules B3, B6, B7)."""
    def reduced(t: Tensor) -> Tensor:
        axes = tuple(tuple(term for term in axis if workload.bound(term[1]) > 1) or axis
                     for axis in t.axes)
        return replace(t, axes=axes)
    return replace(workload, tensors=tuple(reduced(t) for t in workload.tensors))


@dataclass
class DimFeatures:
    """Per-row features of one dimension's factorizations."""

    pos: np.ndarray  # [rows, n_pos] float64, min-relaxed
    neg: np.ndarray  # [rows, n_neg] float64, max-relaxed
    sx: np.ndarray  # [rows, L] spatial factor on X at each level
    sy: np.ndarray  # [rows, L]
    ext: np.ndarray  # [rows, L] extent of the dimension in each level's tile
    temporal: np.ndarray  # [rows, L] temporal factor at each level
    nonunit: np.ndarray  # [rows, L] bool: a free loop of this level with factor > 1


class Bounder:
    """Features per dimension and the bound formulas over their products."""

    def __init__(self, workload: Workload, arch: Architecture, st: SpaceStructure,
                 links: bool = False, compulsory: bool = True):
        # Clustered levels' access energies per instance, floored (scope.py).
        workload = without_unit_terms(workload)
        self.workload, self.arch, self.st = workload, per_instance_floor(arch), st
        L = len(arch.levels)
        self.L = L
        # Link transfers (docs/optimal.md, rule L): a read-only tensor's fills of a keeper
        # right below a fanout, and its parent's reads serving it, keep only the visits
        # that step a loop outside the innermost solo loop (B7's outer part): links can
        # serve none of them. With links the extents ``ce`` carry both versions.
        self.links = links
        self.fans = [arch.fanout(i) != (1, 1) for i in range(L)]
        tensors = workload.tensors
        self.simple = [is_simple(t) for t in tensors]
        # Per tensor: levels forced to keep it (always level 0) and levels with a free
        # keep bit; a keep choice's chain of keepers is the forced ones plus a subset.
        self.forced = [[i for i in range(L) if st.keep_fixed[i].get(t.name) is True]
                       for t in tensors]
        self.freeb = [[i for i in range(L) if (i, t.name) in st.keep_free] for t in tensors]
        self.chains: list[list[tuple[int, ...]]] = []
        for ti in range(len(tensors)):
            v = self.freeb[ti]
            self.chains.append([tuple(sorted(set(self.forced[ti]) | set(s)))
                                for n in range(len(v) + 1) for s in combinations(v, n)])
        # Positive columns: 0 = cycles; 1..L = cycles x instances(l); per (tensor, level
        # that may keep it): A = instances x words served to the MACs by that level if it
        # is the innermost keeper, R = the instances' product over the dimensions that are
        # not solo in the tensor (B6: instances x share >= R x solo_words x compound
        # extents of the tile).
        # Negative columns (outputs): Q = instances x partition / |t|.
        self.col_a: dict[tuple[int, int], int] = {}
        self.col_r: dict[tuple[int, int], int] = {}
        self.col_q: dict[tuple[int, int], int] = {}
        n_pos, n_neg = 1 + L, 0
        for ti, t in enumerate(tensors):
            for k in sorted(set(self.forced[ti]) | set(self.freeb[ti])):
                self.col_a[(ti, k)] = n_pos
                n_pos += 1
                self.col_r[(ti, k)] = n_pos
                n_pos += 1
                if t.read_write:
                    self.col_q[(ti, k)] = n_neg
                    n_neg += 1
        self.n_pos, self.n_neg = n_pos, n_neg
        # Words of the whole tensor's bounding box (holes included): partition(0).
        self.words = [t.size({d: workload.bound(d) for d in workload.dims}) for t in tensors]
        # B6: product of the bounds of the solo dimensions, and the compound axes (more
        # than one term) whose extents in a tile multiply the compulsory words.
        self.solo_words = [float(np.prod([workload.bound(d) for d in solo_dims(t)]))
                           for t in tensors]
        self.compound = [[axis for axis in t.axes if len(axis) > 1] for t in tensors]
        self.col_ce = {key: n for n, key in enumerate(self.col_r)}
        self.n_ce = len(self.col_ce)
        self.runs = RunBound(workload, st, self.col_ce)  # rule B7
        self.dims = [self._features(di) for di in range(len(st.dims))]
        self.dim_tables = dim_tables(self.dims)  # the same, padded (block_kernels.py)
        self.pos_min = [f.pos.min(axis=0) for f in self.dims]
        self.neg_max = [f.neg.max(axis=0) if n_neg else np.zeros(0) for f in self.dims]
        self.fanout = [arch.fanout(i) for i in range(L)]
        self.fx = np.array([f[0] for f in self.fanout], dtype=np.int64)  # per level, mesh X
        self.fy = np.array([f[1] for f in self.fanout], dtype=np.int64)  # and mesh Y
        # chain_energy's per-word energies and columns, flat for the kernel (kernels.py)
        lv, names = self.arch.levels, [t.name for t in tensors]
        self.chain_tables = chain_tables(
            self.col_a, self.col_r, self.col_q, self.col_ce, len(tensors), L,
            [[lv[k].read_energy_pj / lv[k].block_words(n) for n in names] for k in range(L)],
            [[lv[k].update_energy_pj / lv[k].block_words(n) for n in names] for k in range(L)],
            [[lv[k].fill_energy_pj / lv[k].block_words(n) for n in names] for k in range(L)],
            [[self.linked_child(ti, k) for k in range(L)] for ti in range(len(tensors))],
            [t.read_write for t in tensors], self.words, self.solo_words, self.n_ce,
            compulsory_words(workload) if compulsory else [0.0] * len(tensors))  # rule C

    def _features(self, di: int) -> DimFeatures:
        st, L = self.st, self.L
        d = st.dims[di]
        F, A = st.factors[di], st.axes[di]
        n = len(F)
        temporal = np.ones((n, L), dtype=np.int64)
        sx = np.ones((n, L), dtype=np.int64)
        sy = np.ones((n, L), dtype=np.int64)
        for j, (lvl, kind) in enumerate(st.slots):
            if kind == "T":
                temporal[:, lvl] *= F[:, j]
            else:
                sx[:, lvl] *= np.where(A[:, j] == 1, F[:, j], 1)
                sy[:, lvl] *= np.where(A[:, j] == 2, F[:, j], 1)
        sp = (sx * sy).astype(np.float64)
        T = temporal.prod(axis=1).astype(np.float64)
        inst = np.ones((n, L))
        for l in range(1, L):
            inst[:, l] = inst[:, l - 1] * sp[:, l - 1]
        below = np.ones((n, L))  # product of spatial factors at levels >= k
        acc = np.ones(n)
        for k in range(L - 1, -1, -1):
            acc = acc * sp[:, k]
            below[:, k] = acc
        pos = np.empty((n, self.n_pos))
        neg = np.empty((n, self.n_neg))
        pos[:, 0] = T
        pos[:, 1:1 + L] = T[:, None] * inst
        for (ti, k), col in self.col_a.items():
            t = self.workload.tensors[ti]
            g = below[:, k] if d in solo_dims(t) else 1.0
            pos[:, col] = inst[:, k] * T * g
        for (ti, k), col in self.col_r.items():
            pos[:, col] = 1.0 if d in solo_dims(self.workload.tensors[ti]) else inst[:, k]
        for (ti, k), col in self.col_q.items():
            t = self.workload.tensors[ti]
            if self.simple[ti]:
                neg[:, col] = 1.0 if d in t.dims else inst[:, k]
            else:
                neg[:, col] = inst[:, k]
        ext = np.ones((n, L), dtype=np.int64)
        for i in range(L):
            for j, (lvl, _) in enumerate(st.slots):
                if lvl >= i:
                    ext[:, i] *= F[:, j]
        nonunit = np.zeros((n, L), dtype=bool)
        for i in range(L):
            if d in st.free[i]:
                nonunit[:, i] = temporal[:, i] > 1
        return DimFeatures(pos, neg, sx, sy, ext, temporal, nonunit)

    # -- the bound formulas ------------------------------------------------------------
    def partial_tiling(self, rows: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(temporal, ext), both [n, L, D], of ``n`` tilings that fix each dimension
        ``di`` of ``rows`` to row ``rows[di]`` (one row, or an array of n rows) and leave
        the others at factor and extent 1 (their least; B7 on the reduced tiling)."""
        tem = np.ones((n, self.L, len(self.dims)), dtype=np.int64)
        ext = np.ones((n, self.L, len(self.dims)), dtype=np.int64)
        for di, r in rows.items():
            tem[:, :, di], ext[:, :, di] = self.dims[di].temporal[r], self.dims[di].ext[r]
        return tem, ext

    def compound_extents(self, ext: np.ndarray) -> np.ndarray:
        """[N, n_ce]: per (tensor, level) column, the product of the tile's extents along
        the tensor's compound axes, for tilings with dimension extents ``ext`` [N, L, D]
        (1 when the tensor has none). With links, [N, 2 n_ce]: the same twice (the
        link-safe half, see ``tiling_extents``)."""
        out = compound_rows(ext, self.runs.tables)
        return np.hstack([out, out]) if self.links else out

    def tiling_extents(self, temporal: np.ndarray, ext: np.ndarray,
                       order0: np.ndarray | None = None,
                       ranks: np.ndarray | None = None) -> np.ndarray:
        """[N, n_ce]: the factor on B6's words of full tilings (``temporal`` factors and
        per-level extents ``ext``, both [N, L, D]): compound extents times rule B7's
        order-aware refetch factor (runs.py; ``order0``: the outermost level's order, if
        known; ``ranks`` [N, L, D]: every level's order, for full mappings). Pass it as
        ``ce``. With links, [N, 2 n_ce]: then the columns from n_ce on hold the link-safe
        factor (compound extents times B7's outer part alone, rule L), used for the terms
        a link can lower."""
        full, outer = self.runs.factor_pair(temporal, ext, order0, ranks)
        if self.links:
            return self.compound_extents(ext) * np.hstack([full, outer])
        return self.compound_extents(ext) * full

    def chain_energy(self, ti: int, chain: tuple[int, ...], pos: np.ndarray,
                     neg: np.ndarray, skip_top: bool = False,
                     ce: np.ndarray | None = None) -> np.ndarray:
        """Lower bound of tensor ``ti``'s access energy when exactly the levels of
        ``chain`` keep it (rules B3, B5, B6, B7; L under links); ``ce``: the tilings'
        extents (``tiling_extents``), None for a subtree (taken as 1). ``skip_top``
        leaves out the outermost level's accesses and the next keeper's fills (the caller
        knows them exactly)."""
        return chain_rows(ti, chain, skip_top, pos, neg, ce, self.chain_tables)

    def linkless(self, lo: int, hi: int) -> bool:
        """No link transfer can change the words of read-only tensors moved through
        levels ``lo`` .. ``hi - 1``'s fanouts (always true without links)."""
        return not self.links or not any(self.fans[lo:hi])

    def linked_child(self, ti: int, k: int) -> bool:
        """Whether links can lower tensor ``ti``'s fills of keeper ``k``: a read-only
        tensor, link transfers on, and a fanout at level ``k - 1`` (rule L)."""
        return self.links and k > 0 and self.fans[k - 1] and \
            not self.workload.tensors[ti].read_write

    def bound(self, pos: np.ndarray, neg: np.ndarray, keep_sets: np.ndarray | None = None,
              ce: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(energy_pj lower bound, cycles lower bound) from the per-column products over
        dimensions (``pos`` [N, n_pos], ``neg`` [N, n_neg]). With ``keep_sets`` [B, L, T]
        (and N = 1): the energy bound of each keep choice, shape [B]."""
        cycles = pos[:, 0]
        base = self.fixed_energy(pos)
        if keep_sets is None:
            energy = base
            for ti in range(len(self.workload.tensors)):
                terms = [self.chain_energy(ti, ch, pos, neg, ce=ce) for ch in self.chains[ti]]
                energy = energy + np.min(terms, axis=0)
            return energy * SAFETY, cycles
        energy = np.full(len(keep_sets), base[0])
        for ti in range(len(self.workload.tensors)):
            cache: dict[tuple[int, ...], float] = {}
            for b, ks in enumerate(keep_sets):
                ch = tuple(np.nonzero(ks[:, ti])[0].tolist())
                if ch not in cache:
                    cache[ch] = float(self.chain_energy(ti, ch, pos, neg, ce=ce)[0])
                energy[b] += cache[ch]
        return energy * SAFETY, cycles

    def fixed_energy(self, pos: np.ndarray) -> np.ndarray:
        """[N]: MAC energy plus leakage (rules B1, B2) from the columns ``pos``."""
        base = np.full(len(pos), self.workload.macs * self.arch.compute.energy_pj)
        for l, lvl in enumerate(self.arch.levels):
            if lvl.leak_energy_pj:
                base = base + lvl.leak_energy_pj * pos[:, 1 + l]
        return base

    def relaxed(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Products of the relaxed features of the dimensions from ``depth`` on."""
        return self.relaxed_over(range(depth, len(self.dims)))

    def relaxed_over(self, dims) -> tuple[np.ndarray, np.ndarray]:
        """Products of the relaxed features of the dimensions ``dims`` (indices)."""
        pos = np.ones(self.n_pos)
        neg = np.ones(self.n_neg)
        for di in dims:
            pos = pos * self.pos_min[di]
            neg = neg * self.neg_max[di]
        return pos, neg
