"""A block's tilings past rule tiling_bound, awaiting the per-tiling rules, as arrays.

``_block`` (search.py) keeps a few dozen tilings of each block it forms; nearly all of
them are then removed by rule leaf_bound's least over a whole tiling (rules.py). So the
tilings wait here as the block's arrays, the rules of a group read slices of them, and
a tiling's record (the tuple the probes and leaves take) is formed only once it passed
those rules (``record``). The records' layout is that of ``OptimalSearch``:
``(tfi, temporal, sx, sy, keeps, lb, combos, P, Q, ce, ext)``.
"""

from __future__ import annotations

import numpy as np


class PendingTilings:
    """Tilings of one block (arrays with one row per tiling, in the walk's order) and how
    many of them were taken (``start``): ``tfi`` their mapspace indices, ``full`` their
    rows in tree order, ``keep_ok`` [N, B] their legal keep choices (narrowed by rule
    keep_bound), ``lb`` their objective bounds, ``combos`` their canonical loop orders
    and ``temporal``, ``P``, ``Q``, ``ce``, ``ext`` their bound inputs."""

    __slots__ = ("tfi", "full", "keep_ok", "lb", "combos", "temporal", "P", "Q", "ce",
                 "ext", "start")

    def __init__(self, tfi, full, keep_ok, lb, combos, temporal, P, Q, ce, ext):
        self.tfi, self.full, self.keep_ok, self.lb = tfi, full, keep_ok, lb
        self.combos, self.temporal, self.P, self.Q = combos, temporal, P, Q
        self.ce, self.ext = ce, ext
        self.start = 0

    def __len__(self) -> int:
        """The tilings not taken yet."""
        return len(self.lb) - self.start

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` (at most) tilings' rows; they are taken."""
        a = self.start
        self.start = min(len(self.lb), a + n)
        return np.arange(a, self.start)

    def mappings(self, rows: np.ndarray) -> int:
        """The canonical mappings of ``rows``: loop orders times legal keep choices."""
        nk = self.keep_ok[rows].sum(axis=1)
        return int((self.combos[rows] * nk.astype(self.combos.dtype)).sum())

    def record(self, i: int, sx=None, sy=None, lb=None) -> tuple:
        """Tiling ``i``'s record (its meshes ``sx``, ``sy`` as given: None where the
        reader does not need them; ``lb`` replaces its bound)."""
        return (int(self.tfi[i]), self.temporal[i], sx, sy,
                np.nonzero(self.keep_ok[i])[0], self.lb[i] if lb is None else lb,
                int(self.combos[i]), self.P[i], self.Q[i], self.ce[i], self.ext[i])

    def narrow(self, i: int, keeps: np.ndarray) -> None:
        """Rule keep_bound left tiling ``i`` only ``keeps``."""
        row = np.zeros(self.keep_ok.shape[1], dtype=bool)
        row[keeps] = True
        self.keep_ok[i] = row

    def rest_bounds(self) -> np.ndarray:
        """The objective bounds of the tilings not taken yet."""
        return self.lb[self.start:]
