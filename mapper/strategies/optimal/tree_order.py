"""The order in which the branch and bound fixes the dimensions (docs/optimal.md, "How it
searches"): the dimensions whose rows raise the subtree bound most come first, so
subtrees are removed high in the tree.

Some bounds need two dimensions at once (a sliding window's halo needs both of its
image dimensions), so the tree starts with the pair of dimensions whose least bound over
all their row pairs is the highest (pairs of at most ``pair_rows`` row pairs are
scored), then takes the others by decreasing median bound of their rows alone. Ties keep
the layer's order. The order changes only the walk, never the result: ids are those of
the mapspace whatever the order.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .joint import JointFloor


def branching_order(jf: JointFloor, sizes: tuple[int, ...], pair_rows: int = 4096
                    ) -> tuple[int, ...]:
    """Dimension indices, first fixed first."""
    D = len(sizes)
    if D < 3:
        return tuple(range(D))
    single = {}
    for d in range(D):
        e = jf.assigned_energy({d: np.arange(sizes[d])})
        single[d] = (float(np.min(e)), float(np.median(e)))
    best, first = None, ()
    for a, b in combinations(range(D), 2):
        if sizes[a] * sizes[b] > pair_rows or sizes[a] * sizes[b] == 1:
            continue
        ra, rb = np.divmod(np.arange(sizes[a] * sizes[b]), sizes[b])
        e = jf.assigned_energy({a: ra, b: rb})
        score = (float(np.min(e)), float(np.median(e)))
        if best is None or score > best:
            best, first = score, (a, b)
    if best is not None and best[0] <= max(v[0] for v in single.values()):
        first = ()  # no pair beats a single dimension: order by single scores only
    rest = sorted((d for d in range(D) if d not in first),
                  key=lambda d: (-single[d][1], -single[d][0], d))
    return tuple(first) + tuple(rest)
