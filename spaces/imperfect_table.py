"""The array view of one dimension's imperfect factorizations (``ImperfectDimSpace``),
for ``SpaceArrays`` and the strategies built on it (``local``).

Perfect dimensions have a ``slots.FactorTable``: every factorization in a numpy table.
Imperfect ones are too many for that (a 512-cube GEMM on ``simba_like``: 890,324 per
dimension), so a row is its rank in the dimension space, turned into factors and
residuals on demand (memoised per rank) through the space's own ``unrank``/``rank``.
Moves are ``imperfect.move_end``: change one slot's end, the outermost loop covers the
bound again, the residuals follow.
"""

from __future__ import annotations

import numpy as np

from .imperfect import PRIME_MOVE, ImperfectDimSpace, move_end
from .slots import AXIS_CODES

__all__ = ["ImperfectTable"]

_AXES = {1: "X", 2: "Y"}


class ImperfectTable:
    """Rows of an imperfect dimension space, by rank: ``per_level_of`` (ends as
    [n, 3, L]: temporal, X, Y), ``residual_of`` (residuals, 0 for a perfect loop),
    ``rows_of`` (ranks of a batch's columns), ``move`` (neighbours)."""

    imperfect = True

    def __init__(self, ds: ImperfectDimSpace, levels: int):
        self.ds = ds
        self.levels = levels
        self.size = ds.size
        self.open_slots = np.array([j for j, o in enumerate(ds.options) if len(o) > 1],
                                   dtype=np.int64)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        got = self._rows.get(r)
        if got is None:
            choice = self.ds.unrank(r)
            ends = np.ones((3, self.levels), dtype=np.int64)
            res = np.zeros((3, self.levels), dtype=np.int64)
            for slot, (f, axis), x in zip(self.ds.slots, choice, self.ds.residuals(choice)):
                if f == 1:
                    continue
                k = 0 if slot.kind == "T" else AXIS_CODES[axis]
                ends[k, slot.level] = f
                if x is not None:
                    res[k, slot.level] = x
            got = self._rows[r] = (ends, res)
        return got

    def _gather(self, rows: np.ndarray, part: int, blank: int) -> np.ndarray:
        """Part ``part`` (0: ends, 1: residuals) [n, 3, L] of the rows (ranks) ``rows``."""
        rows = np.asarray(rows).ravel()
        out = np.full((len(rows), 3, self.levels), blank, dtype=np.int64)
        for x, r in enumerate(rows.tolist()):
            out[x] = self._row(r)[part]
        return out

    def per_level_of(self, rows: np.ndarray) -> np.ndarray:
        """Ends [n, 3, L] of the rows (ranks) ``rows``."""
        return self._gather(rows, 0, 1)

    def residual_of(self, rows: np.ndarray) -> np.ndarray:
        """Residuals [n, 3, L] of the rows (0: perfect or no loop)."""
        return self._gather(rows, 1, 0)

    def rows_of(self, temporal: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
        """Ranks of rows given this dimension's ends per level ([n, L] each; a spatial
        slot's axis is the one whose end is > 1)."""
        out = np.empty(len(temporal), dtype=np.int64)
        for x in range(len(temporal)):
            choice = []
            for slot in self.ds.slots:
                i = slot.level
                if slot.kind == "T":
                    choice.append((int(temporal[x, i]), ""))
                else:
                    fx, fy = int(sx[x, i]), int(sy[x, i])
                    choice.append((fx * fy, "X" if fx > 1 else "Y" if fy > 1 else ""))
            out[x] = self.ds.rank(choice)
        return out

    def within(self, limits) -> None:
        """No row list per capacity limits: draws are uniform over all ranks."""
        return None

    def move(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A neighbour of each row (``imperfect.move_end`` at a random open slot: half of
        them prime-factor moves, which keep a perfect row perfect, the rest any other
        end move), or -1 where the move leaves the space."""
        n = len(rows)
        out = np.full(n, -1, dtype=np.int64)
        if not len(self.open_slots) or not n:
            return out
        slots = self.open_slots[rng.integers(0, len(self.open_slots), size=n)]
        hows = np.where(rng.random(n) < 0.5, PRIME_MOVE, rng.integers(0, PRIME_MOVE, size=n))
        u = rng.random(n)
        for x, r in enumerate(np.asarray(rows).tolist()):
            got = move_end(self.ds, r, int(slots[x]), int(hows[x]),
                           lambda opts, v=float(u[x]): opts[int(v * len(opts))])
            if got is not None:
                out[x] = got
        return out
