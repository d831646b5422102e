"""Rule tiling_bound on a block of tilings, one tensor's B7 at a time (docs/optimal.md,
"Staged tiling bound").

The energy bound is MAC and leakage energy plus, per tensor, the least over its keep
chains of the chain's energy; a tensor's chains read only its own columns of the
extents ``ce``. Every term grows with ``ce`` and B7's factors (and their outer parts) are
at least 1, so pricing the tensors whose B7 is not computed yet with factor 1 (B6 with
compound extents) gives a bound no higher than the full one, in floating point too (the
same sums in the same order, each rounding monotone), and every objective bound grows
with the energy bound. A tiling that partial bound is strictly dominated by is dominated
by the full bound too, so it is removed at once; B7 of the next tensor is computed only
for the rest (in one compiled pass per block, kernels.py). The survivors' bounds are the
full ones, bit for bit (the same terms summed in the same order), the last test is the
search's own, and so the removed set and the certificate's counts are those of pricing
every tiling in full: only the work changes.
"""

from __future__ import annotations

import numpy as np

from .bounds import SAFETY, Bounder
from .kernel_tables import csr_offsets
from .kernels import staged_rows

KINDS = {"energy_pj": 0, "cycles": 1, "edp": 2, "utilization": 3}


class StagedBound:
    """Rule tiling_bound with B7 computed tensor by tensor. The tensors go in order of
    the tilings they removed per B7 column computed so far (at first: fewest columns
    first, ties in the layer's order); the order changes only the work."""

    def __init__(self, bd: Bounder, objectives, signs: np.ndarray, utilization_scale: float):
        self.bd = bd
        col_ti, col_c = np.asarray(bd.runs.tables[0]), np.asarray(bd.runs.tables[1])
        T = len(bd.chains)
        # B7 is 1 on the outermost level's columns: only the others are computed
        self.cols = [np.nonzero((col_ti == ti) & (col_c > 0))[0].astype(np.int64)
                     for ti in range(T)]
        self.cols_off, self.cols_flat = csr_offsets([c.tolist() for c in self.cols])
        chains = [list(ch) for ti in range(T) for ch in bd.chains[ti]]
        self.ch_off, self.ch_flat = csr_offsets(chains)
        self.tc_off = np.zeros(T + 1, dtype=np.int64)
        self.tc_off[1:] = np.cumsum([len(bd.chains[ti]) for ti in range(T)])
        # objective_bounds (dominance.py) per objective: its formula, or its constant
        self.kinds = np.array([KINDS.get(o, 4) for o in objectives], dtype=np.int64)
        self.fixed = np.array([0.0 if o in KINDS else (-np.inf if s < 0 else 0.0)
                               for o, s in zip(objectives, signs)])
        self.scale = float(utilization_scale)
        self.widths = np.array([max(1, len(c)) for c in self.cols])  # a stage's columns
        self.seen = np.zeros(T)  # B7 column-rows computed per tensor
        self.removed = np.zeros(T)  # tilings removed right after its stage

    def order(self) -> np.ndarray:
        """Every tensor, best yield per B7 column-row first (a tensor without B7 columns
        counts as one column: its stage only prices it)."""
        T = len(self.cols)
        rate = [(self.removed[ti] + 1.0) / (self.seen[ti] + max(1, len(self.cols[ti])))
                for ti in range(T)]
        return np.array(sorted(range(T), key=lambda ti: (-rate[ti], ti)), dtype=np.int64)

    def bound(self, temporal: np.ndarray, ext: np.ndarray, pos: np.ndarray,
              neg: np.ndarray, incumbent: np.ndarray):
        """(energy [N], cycles [N], ce [N, n_ce or 2 n_ce], pre [N]) of tilings
        ``temporal``/``ext`` [N, L, D] with columns ``pos``, ``neg``: the rows not in
        ``pre`` have ``Bounder.bound``'s energy and cycles and ``Bounder.tiling_extents``'s
        ``ce``; those in ``pre`` are strictly dominated by ``incumbent`` (objective
        vectors, internal orientation) already at a partial bound (lower values here).
        The caller tests the others with the full bound."""
        bd = self.bd
        N, n = len(temporal), bd.n_ce
        energy, pre = np.zeros(N), np.zeros(N, dtype=np.bool_)
        ce = np.empty((N, 2 * n if bd.links else n))
        stat = np.zeros((len(self.cols), 2), dtype=np.int64)  # rows priced, dominated
        c = np.ascontiguousarray  # the kernel's arrays: C order
        staged_rows(c(temporal, np.int64), c(ext, np.int64), c(pos, np.float64),
                    c(neg, np.float64), c(bd.fixed_energy(pos), np.float64), ce,
                    self.order(), self.cols_off, self.cols_flat, self.ch_off, self.ch_flat,
                    self.tc_off, bd.runs.tables, bd.chain_tables, bd.links, self.kinds,
                    self.fixed, self.scale, c(np.asarray(incumbent, dtype=np.float64)
                                              .reshape(-1, len(self.kinds))),
                    SAFETY, energy, pre, stat)
        self.seen += stat[:, 0] * self.widths
        self.removed += stat[:, 1]
        return energy, pos[:, 0], ce, pre
