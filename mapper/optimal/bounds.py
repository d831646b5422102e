"""Admissible lower bounds for sets of tilings (docs/optimal.md, rules B1-B4).

A *tiling* fixes every factor (and mesh axis) of every dimension: one row of each
dimension's factorization list. Loop orders and keep/bypass choices are left open. For
a set of tilings (one full tiling, or every completion of a prefix of dimensions) this
module gives a lower bound of energy and of cycles that holds for every order and keep
choice. Every term is a product over dimensions of a non-negative per-dimension
feature, so a prefix is bounded by taking, for each unassigned dimension, the minimum
of each feature over its rows (the maximum for the one subtracted term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.workload import Tensor, Workload

from .structure import SpaceStructure

_SAFETY = 1.0 - 1e-9  # floating-point slack: the model sums in another order


def solo_dims(tensor: Tensor) -> frozenset[str]:
    """Dimensions that alone make up some axis of ``tensor`` (with a non-zero coefficient):
    children of a fanout that differ in such a dimension have different tile origins."""
    return frozenset(axis[0][1] for axis in tensor.axes if len(axis) == 1 and axis[0][0] != 0)


def is_simple(tensor: Tensor) -> bool:
    """Every axis is one dimension with coefficient +-1 and no dimension repeats: tiles
    of different positions are disjoint, there is no sliding window and no hole."""
    ds = [axis[0][1] for axis in tensor.axes if len(axis) == 1 and abs(axis[0][0]) == 1]
    return len(ds) == len(tensor.axes) and len(set(ds)) == len(ds)


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

    def __init__(self, workload: Workload, arch: Architecture, st: SpaceStructure):
        self.workload, self.arch, self.st = workload, arch, st
        L = len(arch.levels)
        self.L = L
        tensors = workload.tensors
        # Keeper candidates per tensor: the innermost level forced to keep it, and any
        # level inside it with a free keep bit.
        self.cands: list[list[int]] = []
        for t in tensors:
            kmin = max(i for i in range(L) if st.keep_fixed[i].get(t.name) is True)
            self.cands.append([kmin] + [i for i in range(kmin + 1, L)
                                        if (i, t.name) in st.keep_free])
        # Positive columns: 0 = cycles; 1..L = cycles x instances(l); then one column per
        # (tensor, candidate keeper): instances(k) x words served by k to the MACs.
        self.col_a: dict[tuple[int, int], int] = {}
        self.col_q: dict[tuple[int, int], int] = {}
        n_pos = 1 + L
        n_neg = 0
        for ti, t in enumerate(tensors):
            for k in self.cands[ti]:
                self.col_a[(ti, k)] = n_pos
                n_pos += 1
                if t.read_write:
                    self.col_q[(ti, k)] = n_neg
                    n_neg += 1
        self.n_pos, self.n_neg = n_pos, n_neg
        self.simple = [is_simple(t) for t in tensors]
        # Words of the whole tensor's bounding box (holes included): partition(0).
        self.words = [t.size({d: workload.bound(d) for d in workload.dims}) for t in tensors]
        self.dims = [self._features(di) for di in range(len(st.dims))]
        self.pos_min = [f.pos.min(axis=0) for f in self.dims]
        self.neg_max = [f.neg.max(axis=0) if n_neg else np.zeros(0) for f in self.dims]
        top = arch.levels[0]
        # Compulsory outermost traffic of a simple tensor served through an inner keeper.
        self.c0 = [(top.update_energy_pj if t.read_write else top.read_energy_pj)
                   / top.block_words(t.name) * w if s else 0.0
                   for t, w, s in zip(tensors, self.words, self.simple)]
        self.fanout = [arch.fanout(i) for i in range(L)]

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
        for ti, t in enumerate(self.workload.tensors):
            solo = d in solo_dims(t)
            for k in self.cands[ti]:
                g = below[:, k] if solo else 1.0
                pos[:, self.col_a[(ti, k)]] = inst[:, k] * T * g
                if t.read_write:
                    # instances(k) x partition(k) / |t|: the copies of each output element
                    # among the instances of k (exact for simple tensors; else instances).
                    if self.simple[ti]:
                        q = np.ones(n) if d in t.dims else inst[:, k]
                    else:
                        q = inst[:, k]
                    neg[:, self.col_q[(ti, k)]] = q
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
    def bound(self, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(energy_pj lower bound, cycles lower bound) from the per-column products over
        dimensions (``pos`` [N, n_pos], ``neg`` [N, n_neg])."""
        arch = self.arch
        cycles = pos[:, 0]
        energy = np.full(len(pos), self.workload.macs * arch.compute.energy_pj)
        for l, lvl in enumerate(arch.levels):
            if lvl.leak_energy_pj:
                energy = energy + lvl.leak_energy_pj * pos[:, 1 + l]
        for ti, t in enumerate(self.workload.tensors):
            best = None
            for k in self.cands[ti]:
                lvl = arch.levels[k]
                bw = lvl.block_words(t.name)
                served = pos[:, self.col_a[(ti, k)]]
                if t.read_write:
                    held = self.words[ti] * neg[:, self.col_q[(ti, k)]]
                    term = (lvl.update_energy_pj / bw) * served + \
                        (lvl.read_energy_pj / bw) * np.maximum(served - held, 0.0)
                else:
                    term = (lvl.read_energy_pj / bw) * served
                if k > 0:
                    term = term + self.c0[ti]
                best = term if best is None else np.minimum(best, term)
            energy = energy + best
        return energy * _SAFETY, cycles

    def relaxed(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Products of the relaxed features of the dimensions from ``depth`` on."""
        pos = np.ones(self.n_pos)
        neg = np.ones(self.n_neg)
        for di in range(depth, len(self.dims)):
            pos = pos * self.pos_min[di]
            neg = neg * self.neg_max[di]
        return pos, neg
