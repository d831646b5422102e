"""Rule V: distinct origins along a sliding-window axis (docs/optimal.md, "Distinct
origins along a compound axis (rule V)").

B3 counts a fanout's distinct child origins with the spatial factors of the tensor's solo
dimensions only (a dimension of a compound axis such as ``p + r`` counts 1, since two of
them can cancel). Yet along one axis ``sum(coef * index)``, fixing every term but one,
different values of that term's index give different sums (its coefficient and its
step, the child's extent, are non-zero): so the children of a fanout at level ``j`` have
at least ``max over the axis's dimensions of their spatial factor at j`` distinct origins
along that axis, and, the tensor's axes over disjoint sets of dimensions, at least the
product over axes of the per-axis counts. The innermost keeper ``k`` serves the MACs
once per distinct origin at every fanout ``j >= k`` (docs/semantics.md, "What a level
serves"); no keeper lies below it, so no link transfer changes those reads. Where a
combination of spatial profiles (rule P) fixes every dimension's spatial factors, B3's
served words (column ``A`` of keeper ``k``) are multiplied by the product over levels
``j >= k`` and compound axes of that maximum. Tensors whose axes share a dimension are
left alone (their origins are not a product over axes).
"""

from __future__ import annotations

import numpy as np

from .bounds import Bounder


class CompoundOrigins:
    """Rule V's factor on B3's columns, per combination of spatial factors."""

    def __init__(self, bd: Bounder):
        self.bd = bd
        st = bd.st
        di = {d: i for i, d in enumerate(st.dims)}
        self.terms = []  # (column of A, first level k, [[dim indices of one compound axis]])
        for ti, t in enumerate(bd.workload.tensors):
            used = [d for axis in t.axes for c, d in axis if c != 0]
            if len(used) != len(set(used)):
                continue  # axes share a dimension
            comp = [[di[d] for c, d in axis if c != 0] for axis in t.axes if
                    sum(1 for c, _ in axis if c != 0) > 1]
            if not comp:
                continue
            for (tj, k), col in bd.col_a.items():
                if tj == ti:
                    self.terms.append((col, k, comp))

    def factor(self, sp: np.ndarray) -> np.ndarray | None:
        """[K, n_pos] multipliers of the positive columns (1 but for rule V's), from each
        combination's spatial factor per dimension and level ``sp`` [K, D, L] (X times
        Y); None when no tensor has a compound axis."""
        if not self.terms:
            return None
        out = np.ones((sp.shape[0], self.bd.n_pos))
        for col, k, comp in self.terms:
            f = np.ones(sp.shape[0])
            for dims in comp:
                f = f * sp[:, dims, k:].max(axis=1).prod(axis=1)
            out[:, col] = f
        return out
