"""Pareto archive: exactly the non-dominated set of the points offered, and its hypervolume.

Internally every objective is minimized: objectives named in ``maximize`` are negated on
the way in and back on the way out, so users always see their own orientation. Point
``a`` dominates ``b`` when ``a`` is no worse in every objective and better in at least
one. Identical objective vectors are one point: the first one added stays (with its
item), later copies are rejected and do not count as an improvement.

Batches are filtered with numpy: rows are sorted lexicographically (stable, so among
equal rows the earliest comes first); a row can then only be dominated by, or equal to,
rows before it, so it is checked, chunk by chunk, against the survivors so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

__all__ = ["ParetoArchive", "ParetoPoint", "hypervolume", "nondominated_mask"]


@dataclass(frozen=True)
class ParetoPoint:
    """One point of a front: its objective values (user orientation) and its payload."""

    values: tuple[float, ...]
    item: Any = None


# -- numpy kernels (minimization) ---------------------------------------------------------

def _lex_order(x: np.ndarray) -> np.ndarray:
    """Stable lexicographic order of the rows of ``x`` (first column most significant)."""
    if x.shape[1] == 0:
        return np.arange(len(x))
    return np.lexsort(x[:, ::-1].T)


def _sorted_nondominated(x: np.ndarray) -> np.ndarray:
    """Mask of the rows of lexicographically sorted ``x`` [n, k] that no earlier row weakly
    dominates: exactly the non-dominated rows, of equal rows only the first (a row can
    only be dominated by, or equal to, an earlier one)."""
    n, k = x.shape
    keep = np.ones(n, dtype=bool)
    if n <= 1 or k <= 1:
        keep[1:] = False  # one column, sorted: only the first (smallest) row survives
        return keep
    if k == 2:
        prev_min = np.minimum.accumulate(x[:, 1])
        keep[1:] = x[1:, 1] < prev_min[:-1]
        return keep
    rest = x[:, 1:]  # the first column is already ordered: earlier rows are <= there
    front = np.empty((0, k - 1))
    start = 0
    while start < n:
        size = int(max(64, min(1024, (1 << 20) // max(1, len(front)))))
        stop = min(n, start + size)
        c = rest[start:stop]
        alive = np.ones(len(c), dtype=bool)
        if len(front):
            # Chunk rows weakly dominated (in the remaining columns) by an earlier survivor.
            dom = np.ones((len(front), len(c)), dtype=bool)
            for j in range(k - 1):
                dom &= front[:, j, None] <= c[None, :, j]
            alive = ~dom.any(axis=0)
        idx = np.nonzero(alive)[0]
        if len(idx) > 1:
            cc = c[idx]
            dom = np.triu(np.ones((len(idx), len(idx)), dtype=bool), 1)  # dominator before
            for j in range(k - 1):
                dom &= cc[:, j, None] <= cc[None, :, j]
            alive[idx[dom.any(axis=0)]] = False
        keep[start:stop] = alive
        if alive.any():
            front = np.concatenate([front, c[alive]])
        start = stop
    return keep


def nondominated_mask(values: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``values`` [n, k] (all minimized) that no other row dominates;
    of identical rows only the first is kept."""
    x = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of points, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("objective values contain NaN")
    order = _lex_order(x)
    mask = np.zeros(len(x), dtype=bool)
    mask[order[_sorted_nondominated(x[order])]] = True
    return mask


def _hv2(p: np.ndarray, r: np.ndarray) -> float:
    """2-D hypervolume of points ``p`` (all strictly below ``r``) by a sweep on x."""
    p = p[np.lexsort((p[:, 1], p[:, 0]))]
    best_y = np.minimum.accumulate(p[:, 1])
    x_next = np.append(p[1:, 0], r[0])
    return float(np.sum((x_next - p[:, 0]) * (r[1] - best_y)))


def _hv(p: np.ndarray, r: np.ndarray) -> float:
    """Exact hypervolume (minimization) of points strictly below ``r``, by slicing the
    last objective (HSO): each slab's area is the (k-1)-D volume of the points above it."""
    n, k = p.shape
    if n == 0:
        return 0.0
    if k == 1:
        return float(r[0] - p[:, 0].min())
    if k == 2:
        return _hv2(p, r)
    p = p[np.argsort(p[:, -1], kind="stable")]
    total = 0.0
    proj = np.empty((0, k - 1))  # non-dominated projections of the points swept so far
    for i in range(n):
        q = p[i, :-1]
        if not (proj <= q).all(axis=1).any():
            proj = np.concatenate([proj[~(q <= proj).all(axis=1)], q[None]])
        depth = (p[i + 1, -1] if i + 1 < n else r[-1]) - p[i, -1]
        if depth > 0:
            total += depth * _hv(proj, r[:-1])
    return total


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Exact volume dominated by ``points`` [n, k] (all minimized) and bounded by
    ``reference``; points not strictly better than the reference in every objective
    contribute nothing. Dominated points are allowed and change nothing."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, len(reference))
    r = np.asarray(reference, dtype=np.float64)
    if np.isnan(r).any() or np.isnan(p).any():
        raise ValueError("hypervolume of NaN values")
    p = p[(p < r).all(axis=1)]
    if len(p) == 0:
        return 0.0
    if p.shape[1] > 2:
        p = p[nondominated_mask(p)]
    return _hv(p, r)


# -- the archive --------------------------------------------------------------------------

class ParetoArchive:
    """The non-dominated set of every point added so far.

    ``objectives`` name the columns of the values passed to ``add``/``add_batch``; those
    also listed in ``maximize`` are maximized, the others minimized (names in
    ``maximize`` that are not objectives are ignored, so the default suits any list).
    ``version`` grows by one whenever a call changes the front; ``improved`` counts the
    points that entered it; ``seen`` counts the points offered.
    """

    def __init__(self, objectives: Sequence[str] = ("energy_pj", "cycles"),
                 maximize: Sequence[str] = ("utilization",)):
        if isinstance(objectives, str):
            objectives = (objectives,)
        self.objectives: tuple[str, ...] = tuple(objectives)
        if not self.objectives:
            raise ValueError("a Pareto archive needs at least one objective")
        if len(set(self.objectives)) != len(self.objectives):
            raise ValueError(f"repeated objective in {self.objectives}")
        if isinstance(maximize, str):
            maximize = (maximize,)
        self.maximize: tuple[str, ...] = tuple(o for o in self.objectives if o in set(maximize))
        self._sign = np.array([-1.0 if o in self.maximize else 1.0 for o in self.objectives])
        k = len(self.objectives)
        self._x = np.empty((0, k))  # internal (minimized) values, lexicographic order
        self._values: list[tuple[float, ...]] = []  # user orientation, same order
        self._items: list[Any] = []
        self.version = 0
        self.improved = 0
        self.seen = 0

    # -- inspection ---------------------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of objectives."""
        return len(self.objectives)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[ParetoPoint]:
        return iter(self.front)

    @property
    def front(self) -> list[ParetoPoint]:
        """The points, best first in the first objective, then the next (maximized
        objectives count as best when largest)."""
        return [ParetoPoint(v, it) for v, it in zip(self._values, self._items)]

    def values_array(self) -> np.ndarray:
        """Objective values [len, k] in the user's orientation, in front order."""
        return np.array(self._values, dtype=np.float64).reshape(len(self), self.k)

    def items(self) -> list[Any]:
        """The items, in front order."""
        return list(self._items)

    def ideal(self) -> tuple[float, ...]:
        """Best value of each objective over the front (user orientation)."""
        self._need_points()
        return tuple(float(v) for v in self._x.min(axis=0) * self._sign)

    def nadir(self) -> tuple[float, ...]:
        """Worst value of each objective over the front (user orientation)."""
        self._need_points()
        return tuple(float(v) for v in self._x.max(axis=0) * self._sign)

    def hypervolume(self, reference: Sequence[float]) -> float:
        """Exact volume the front dominates up to ``reference`` (user orientation: for a
        maximized objective the reference is a lower bound). Points not strictly better
        than the reference in every objective contribute 0."""
        r = np.asarray(reference, dtype=np.float64)
        if r.shape != (self.k,):
            raise ValueError(f"reference needs {self.k} values {self.objectives}, got {r.shape}")
        return hypervolume(self._x, r * self._sign)

    # -- adding -------------------------------------------------------------------------
    def _need_points(self) -> None:
        if not len(self):
            raise ValueError("the archive is empty")

    def _internal(self, values: np.ndarray) -> np.ndarray:
        if values.ndim != 2 or values.shape[1] != self.k:
            raise ValueError(f"expected values of shape [N, {self.k}] for objectives "
                             f"{self.objectives}, got {values.shape}")
        bad = np.isnan(values).any(axis=1)
        if bad.any():
            raise ValueError(f"objective values contain NaN (row {int(np.argmax(bad))})")
        return values * self._sign + 0.0  # + 0.0 turns -0.0 into 0.0

    def add(self, values: Sequence[float], item: Any = None) -> bool:
        """Offer one point; True if it entered the front (dominated points it beats leave)."""
        v = np.asarray(values, dtype=np.float64).reshape(1, -1)
        x = self._internal(v)[0]
        self.seen += 1
        if len(self) and (self._x <= x).all(axis=1).any():
            return False  # dominated by, or equal to, a front point
        stay = ~(x <= self._x).all(axis=1)
        pos = int(np.searchsorted(_lex_rank(self._x[stay], x), True))
        keep = np.nonzero(stay)[0]
        self._x = np.insert(self._x[stay], pos, x, axis=0)
        vals = [self._values[i] for i in keep]
        items = [self._items[i] for i in keep]
        vals.insert(pos, tuple(float(a) for a in v[0]))
        items.insert(pos, item)
        self._values, self._items = vals, items
        self.version += 1
        self.improved += 1
        return True

    def add_batch(self, values: np.ndarray, items: Sequence | None = None) -> int:
        """Offer the rows of ``values`` [N, k] in order (as if added one by one; row i's
        item is ``items[i]``). Returns how many of them are in the front afterwards."""
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1 and v.size == 0:
            v = v.reshape(0, self.k)
        x = self._internal(v)
        n = len(x)
        if items is not None and len(items) != n:
            raise ValueError(f"{len(items)} items for {n} rows")
        self.seen += n
        if n == 0:
            return 0
        # The batch's own non-dominated rows first (cheap to merge), then the merge: the
        # front goes before the batch so that on equal values the older point wins.
        own = np.nonzero(nondominated_mask(x))[0]
        m = len(self)
        allx = np.concatenate([self._x, x[own]])
        order = _lex_order(allx)  # stable: the front's copy of a value comes first
        survivors = order[_sorted_nondominated(allx[order])]  # lexicographic order
        entered = int((survivors >= m).sum())
        if entered == 0:
            return 0
        vals, its = [], []
        for s in survivors:
            if s < m:
                vals.append(self._values[s])
                its.append(self._items[s])
            else:
                row = int(own[s - m])
                vals.append(tuple(float(a) for a in v[row]))
                its.append(None if items is None else items[row])
        self._x = allx[survivors]
        self._values, self._items = vals, its
        self.version += 1
        self.improved += entered
        return entered

    def merge(self, other: "ParetoArchive") -> int:
        """Add another archive's points in its front order; returns how many entered."""
        if other.objectives != self.objectives or other.maximize != self.maximize:
            raise ValueError(f"cannot merge an archive over {other.objectives} "
                             f"(maximize {other.maximize}) into one over {self.objectives} "
                             f"(maximize {self.maximize})")
        return self.add_batch(other.values_array(), other.items())

    def __repr__(self) -> str:
        return (f"ParetoArchive(objectives={self.objectives}, maximize={self.maximize}, "
                f"points={len(self)}, version={self.version})")


def _lex_rank(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For lexicographically sorted ``rows``, a boolean array that is False up to where
    ``x`` belongs and True after (rows lexicographically greater than ``x``)."""
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    diff = rows != x
    j = np.argmax(diff, axis=1)  # first differing column
    any_diff = diff.any(axis=1)
    greater = rows[np.arange(len(rows)), j] > x[j]
    return any_diff & greater
