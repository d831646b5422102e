"""Rule C: the compulsory words of a read-only tensor at the outermost level
(docs/optimal.md, "Compulsory words of a sliding window (rule C)").

Every element some MAC reads starts at the outermost level, the only level that holds
data before the layer runs, and reaches the MACs only through it: whatever the tiling,
loop order, keep choice and link transfers, the outermost level serves at least every
such element once. Rule B4 counts this for simple tensors (``|t|``); for a sliding
window the touched elements are the sums ``sum(coef * index)`` of each axis, a *sumset*,
which this module counts.
"""

from __future__ import annotations

import numpy as np

from loopscape.spaces.workload import Tensor, Workload

MAX_SPAN = 1 << 24  # longest axis counted element by element; longer: the widest term
MAX_SHIFTS = 1 << 16  # most shifted copies of a non-interval set; more: the widest term


def axis_values(axis, bounds: dict[str, int]) -> int:
    """Distinct values of ``sum(coef * d)`` over ``0 <= d < bound(d)`` (terms of
    coefficient 0 left out); at least the largest bound among the terms, the exact count
    when the axis spans at most ``MAX_SPAN`` values and no term with more than
    ``MAX_SHIFTS`` values shifts a set with gaps."""
    terms = [(c, d) for c, d in axis if c != 0 and bounds[d] > 1]
    if not terms:
        return 1
    span = sum(abs(c) * (bounds[d] - 1) for c, d in terms) + 1
    if span > MAX_SPAN:
        return max(bounds[d] for _, d in terms)
    hit = np.zeros(span, dtype=bool)
    hit[0] = True
    width = 1
    for c, d in terms:  # sumset of non-negative steps (a negative coefficient mirrors)
        step, n = abs(c), bounds[d]
        if step <= width and hit[:width].all():  # an interval stays one: no shifts
            width += step * (n - 1)
            hit[:width] = True
            continue
        if n > MAX_SHIFTS:  # too many shifts to take one by one: the widest term
            return max(bounds[d] for _, d in terms)
        new = np.zeros(span, dtype=bool)
        for i in range(n):
            new[i * step:i * step + width] |= hit[:width]
        hit, width = new, width + step * (n - 1)
    return int(hit.sum())


def touched_words(tensor: Tensor, workload: Workload) -> float:
    """A lower bound on the number of elements of ``tensor`` that MACs read: the product
    of the axes' distinct values over axes that share no dimension (greedily, in axis
    order; the projection of the touched set on such axes is their product, since their
    dimensions vary independently)."""
    bounds = {d: workload.bound(d) for d in workload.dims}
    used: set[str] = set()
    out = 1.0
    for axis in tensor.axes:
        dims = {d for c, d in axis if c != 0}
        if dims & used:
            continue
        used |= dims
        out *= axis_values(axis, bounds)
    return out


def compulsory_words(workload: Workload) -> list[float]:
    """Per tensor: the words the outermost level serves at least (rule C) for a read-only
    tensor, 0 for a read-write one (its terms are B4-B7's)."""
    return [0.0 if t.read_write else touched_words(t, workload) for t in workload.tensors]
