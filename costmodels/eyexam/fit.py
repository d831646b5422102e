"""Eyexam's capacity test (step 5): does some completion of a spatial assignment (temporal
factors for the rest, keep choices) have kept tiles that fit every level?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from loopscape.spaces.arch import Architecture, StorageLevel
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.workload import Workload


@dataclass(frozen=True)
class LevelCheck:
    level: StorageLevel
    cap_bits: int
    low_bits: float  # min_utilization x capacity (0: no minimum)
    forced: tuple[str, ...]  # tensors the level must keep
    free: tuple[str, ...]  # tensors it may keep or bypass


def level_checks(workload: Workload, arch: Architecture, c: Constraints
                  ) -> tuple[list[int], list[LevelCheck]]:
    idx, checks = [], []
    for i, lvl in enumerate(arch.levels):
        cap = lvl.effective_capacity_bits
        if cap is None:
            continue
        lc = c.level(lvl.name)
        forced, free = [], []
        for t in workload.tensor_names:
            if i == 0 or (lc is not None and t in lc.keep and lvl.may_keep(t)):
                forced.append(t)
            elif lvl.may_keep(t) and not (lc is not None and t in lc.bypass):
                free.append(t)
        idx.append(i)
        checks.append(LevelCheck(lvl, cap, lvl.min_utilization * cap if lvl.min_utilization
                                  else 0.0, tuple(forced), tuple(free)))
    return idx, checks


def kept_bits(workload: Workload, lvl: StorageLevel, tensors: Sequence[str],
          box: dict[str, int]) -> int:
    return sum(workload.tensor(t).size(box) * lvl.bits(t) for t in tensors)


class Fit:
    """Tests spatial assignments for a completion whose kept tiles fit every level."""

    def __init__(self, workload: Workload, checks: Sequence[LevelCheck]):
        self.workload = workload
        self.checks = list(checks)
        self.dims = workload.dims

    def _box(self, vecs: Sequence[Sequence[int]], pos: int) -> dict[str, int]:
        return {d: v[pos] for d, v in zip(self.dims, vecs)}

    def overflow(self, lows: Sequence[Sequence[int]]) -> str | None:
        """Why the smallest tiles (per dimension, per level: the smallest extent any of
        its candidate vectors gives) break a level with only forced keeps; None if
        they do not."""
        for pos, ch in enumerate(self.checks):
            box = self._box(lows, pos)
            need = kept_bits(self.workload, ch.level, ch.forced, box)
            if need > ch.cap_bits:
                parts = ", ".join(f"{t} {self.workload.tensor(t).size(box):,} words"
                                  for t in ch.forced)
                return (f"{ch.level.name} needs at least {need:,} bits ({parts}) but holds "
                        f"{ch.cap_bits:,}")
            if ch.low_bits:
                most = kept_bits(self.workload, ch.level, ch.forced + ch.free, box)
                if most < ch.low_bits:
                    return (f"{ch.level.name} cannot reach its min_utilization "
                            f"({most:,} of {ch.cap_bits:,} bits at most)")
        return None

    def fits(self, cands: Sequence[Sequence[tuple[int, ...]]]) -> bool:
        """Whether one inner vector per dimension (from ``cands``) and keep choices per
        level exist whose tiles fit every capacity (and reach every min_utilization)."""
        n = len(self.checks)
        if n == 0:
            return True
        lo = [[min(v[p] for v in cs) for p in range(n)] for cs in cands]
        hi = [[max(v[p] for v in cs) for p in range(n)] for cs in cands]
        chosen: list[tuple[int, ...]] = []

        def feasible(k: int) -> bool:
            for pos, ch in enumerate(self.checks):
                small = {d: (chosen[i][pos] if i < k else lo[i][pos])
                         for i, d in enumerate(self.dims)}
                if kept_bits(self.workload, ch.level, ch.forced, small) > ch.cap_bits:
                    return False
                if ch.low_bits:
                    big = {d: (chosen[i][pos] if i < k else hi[i][pos])
                           for i, d in enumerate(self.dims)}
                    if kept_bits(self.workload, ch.level, ch.forced + ch.free, big) < ch.low_bits:
                        return False
            return True

        def leaf() -> bool:
            for pos, ch in enumerate(self.checks):
                if not ch.low_bits:
                    continue  # forced keeps fit (feasible()), free tensors bypass
                box = self._box(chosen, pos)
                base = kept_bits(self.workload, ch.level, ch.forced, box)
                sizes = [kept_bits(self.workload, ch.level, (t,), box) for t in ch.free]
                ok = False
                for mask in range(1 << len(sizes)):
                    used = base + sum(s for j, s in enumerate(sizes) if mask >> j & 1)
                    if ch.low_bits <= used <= ch.cap_bits:
                        ok = True
                        break
                if not ok:
                    return False
            return True

        def dfs(k: int) -> bool:
            if not feasible(k):
                return False
            if k == len(cands):
                return leaf()
            for v in cands[k]:
                chosen.append(v)
                if dfs(k + 1):
                    return True
                chosen.pop()
            return False

        return dfs(0)


__all__ = ["Fit", "LevelCheck", "kept_bits", "level_checks"]
