"""Legality of mappings: the one set of rules, scalar and vectorized side by side.

``mapping_problems`` checks one ``Mapping`` and says what is wrong with it (names, loop
structure, factor products, keep rules, fanout per mesh axis, capacity and minimum
utilization of each level). ``pe_utilization_problems`` adds the constraints' minimum PE
utilization. ``BatchLegality`` is their vectorized twin for many rows of one mapspace at
once (the samplers and strategies call it): rows are points of the mapspace, so the
structural rules hold by construction and it checks what varies between points, the
fanout per axis, capacity, each level's minimum utilization and the minimum PE
utilization, with the same limits (``capacity_bits``, ``min_used_bits``, ``min_pes``).

The vectorized check is exact. Sums and products run in int64 where a static bound (the
largest value a point of the space can reach) proves they fit; a check whose bound does
not fit (e.g. ``word_bits: 2**62``) runs in float64 with a relative margin, and rows
within the margin of the limit are decided again with Python integers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .arch import Architecture, StorageLevel
from .errors import MappingError
from .residuals import coverage_problems
from .workload import Workload

if TYPE_CHECKING:  # pragma: no cover - types only (mapping.py re-exports this module)
    from .mapping import Mapping

Problem = tuple[str | None, str | None, str]

INT64_SAFE = 2 ** 62  # sums of two such values still fit in int64
_MARGIN = 1e-9  # relative; float64 rounding over a few hundred operations is far below


# -- shared limits ---------------------------------------------------------------------------

def capacity_bits(lvl: StorageLevel) -> int | None:
    """Bits one instance of ``lvl`` may fill (None: unbounded)."""
    return lvl.effective_capacity_bits


def min_used_bits(lvl: StorageLevel) -> int:
    """Fewest bits the kept tiles must use (its ``min_utilization``): ``used`` is too low
    exactly when ``used < min_used_bits`` (0 when there is no minimum)."""
    cap = capacity_bits(lvl)
    if not lvl.min_utilization or cap is None:
        return 0
    return math.ceil(lvl.min_utilization * cap)  # int < float  <=>  int < ceil(float)


def min_pes(arch: Architecture, min_pe_utilization: float) -> int:
    """Fewest MAC units a mapping must use under ``min_pe_utilization`` (0: no minimum)."""
    if not min_pe_utilization:
        return 0
    return math.ceil(min_pe_utilization * arch.compute.instances)


def axis_extent(axis: Sequence[tuple[int, str]], box: dict[str, int]) -> int:
    """Extent of one tensor axis (a sum of coefficient x dimension terms) over ``box``."""
    return sum(abs(c) * (box.get(d, 1) - 1) for c, d in axis) + 1


def tile_box(mapping: "Mapping", i: int, dims: Sequence[str]) -> dict[str, int]:
    """Per-dimension extent covered by all loops at level ``i`` and below."""
    box = {d: 1 for d in dims}
    for lm in mapping.levels[i:]:
        for l in lm.temporal + lm.spatial:
            box[l.dim] *= l.factor
    return box


# -- scalar rules ----------------------------------------------------------------------------

def check_mapping(workload: Workload, arch: Architecture, mapping: "Mapping",
                  *, check_capacity: bool = True) -> None:
    """Raise MappingError naming the level, tensor and limit that a mapping violates."""
    problems = mapping_problems(workload, arch, mapping, check_capacity=check_capacity)
    if problems:
        level, tensor, msg = problems[0]
        raise MappingError(msg, level=level, tensor=tensor)


def mapping_problems(workload: Workload, arch: Architecture, mapping: "Mapping",
                     *, check_capacity: bool = True) -> list[Problem]:
    """All legality problems as (level, tensor, message); empty when legal."""
    out: list[Problem] = []
    if len(mapping.levels) != len(arch.levels):
        out.append((None, None, f"mapping has {len(mapping.levels)} levels, architecture "
                                f"{arch.name!r} has {len(arch.levels)} "
                                f"({', '.join(arch.level_names)})"))
        return out
    dims = set(workload.dims)
    tensors = set(workload.tensor_names)
    for lm, lvl in zip(mapping.levels, arch.levels):
        if lm.target != lvl.name:
            out.append((lm.target, None, f"mapping level {lm.target!r} is where architecture "
                                         f"level {lvl.name!r} is expected (levels go outermost "
                                         f"first)"))
    if out:
        return out
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        for kind, loops in (("temporal", lm.temporal), ("spatial", lm.spatial)):
            seen = set()
            for l in loops:
                if l.dim not in dims:
                    out.append((lvl.name, None, f"{lvl.name}: unknown dimension {l.dim!r} in "
                                                f"{kind} loops (layer has {list(workload.dims)})"))
                if isinstance(l.factor, bool) or not isinstance(l.factor, int) or l.factor <= 0:
                    out.append((lvl.name, None, f"{lvl.name}: factor of {l.dim} must be a "
                                                f"positive integer, got {l.factor!r}"))
                if l.dim in seen:
                    out.append((lvl.name, None, f"{lvl.name}: dimension {l.dim} has two {kind} "
                                                f"loops at one level"))
                seen.add(l.dim)
        fx, fy = arch.fanout(i)
        px = math.prod(l.factor for l in lm.spatial_x if isinstance(l.factor, int))
        py = math.prod(l.factor for l in lm.spatial_y if isinstance(l.factor, int))
        if px > fx:
            out.append((lvl.name, None, f"{lvl.name}: spatial X factors multiply to {px} but "
                                        f"the X fanout is {fx}"))
        if py > fy:
            out.append((lvl.name, None, f"{lvl.name}: spatial Y factors multiply to {py} but "
                                        f"the Y fanout is {fy}"))
        for t in lm.keep:
            if t not in tensors:
                out.append((lvl.name, t, f"{lvl.name}: keeps unknown tensor {t!r} "
                                         f"(layer has {sorted(tensors)})"))
            elif not lvl.may_keep(t):
                why = "it is a dummy level that holds no data" if lvl.dummy else \
                    f"it may only keep {list(lvl.keeps or [])}"
                out.append((lvl.name, t, f"{lvl.name}: cannot keep {t}: {why}"))
    missing = tensors - set(mapping.levels[0].keep)
    if missing:
        out.append((arch.levels[0].name, sorted(missing)[0],
                    f"{arch.levels[0].name}: the outermost level must keep every tensor; it "
                    f"bypasses {sorted(missing)}"))
    bad_factor = any("must be a positive integer" in m for _, _, m in out)
    out += [] if bad_factor else [(None, None, msg) for msg in coverage_problems(
        mapping, workload.dims, {d: workload.bound(d) for d in workload.dims})]
    if out or not check_capacity:
        return out
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        cap = capacity_bits(lvl)
        if cap is None:
            continue
        box = tile_box(mapping, i, workload.dims)
        used = 0
        parts = []
        for t in lm.keep:
            words = workload.tensor(t).size(box)
            used += words * lvl.bits(t)
            parts.append(f"{t} {words} words x {lvl.bits(t)} b")
        if used > cap:
            worst = max(lm.keep, key=lambda t: workload.tensor(t).size(box) * lvl.bits(t))
            out.append((lvl.name, worst,
                        f"{lvl.name}: kept tiles need {used} bits ({', '.join(parts)}) but the "
                        f"level holds {cap} bits; bypass a tensor there or move factors of its "
                        f"loops to an outer level"))
        elif used < min_used_bits(lvl):
            out.append((lvl.name, None, f"{lvl.name}: kept tiles use {used} bits, below the "
                                        f"minimum utilization {lvl.min_utilization:g} of "
                                        f"{cap} bits"))
    return out


def pe_utilization_problems(arch: Architecture, mapping: "Mapping",
                            min_pe_utilization: float) -> list[Problem]:
    """The constraints' minimum PE utilization: the spatial factors of all levels must
    multiply to at least ``min_pes`` MAC units."""
    need = min_pes(arch, min_pe_utilization)
    used = math.prod(l.factor for lm in mapping.levels for l in lm.spatial)
    if used < need:
        return [(None, None, f"uses {used} of {arch.compute.instances} MAC units, below "
                             f"min_pe_utilization {min_pe_utilization:g}")]
    return []


# -- vectorized twin -------------------------------------------------------------------------

KINDS = ("T", "SX", "SY")
Columns = Callable[[str, int, int], np.ndarray]  # (kind, level, dim) -> [N] ints
Keeps = Callable[[int, int], "np.ndarray | bool"]  # (level, tensor) -> [N] bools or a constant


class BatchLegality:
    """The legality rules that vary between points of one mapspace, for many rows at once.

    ``colmax[kind][i][d]`` bounds the factor of dimension ``d`` at level ``i`` (kind "T"
    temporal, "SX"/"SY" spatial per axis) over the rows to check; 1 means always 1 (the
    column is never read). ``keep_const[i][t]`` is True/False for a fixed keep choice,
    None when it varies per row. Rows must be points of the space: their factors of each
    dimension multiply to its bound."""

    def __init__(self, workload: Workload, arch: Architecture,
                 colmax: dict[str, Sequence[Sequence[int]]],
                 keep_const: Sequence[Sequence[bool | None]], min_pe_utilization: float = 0.0):
        self.workload, self.arch = workload, arch
        L, D = len(arch.levels), len(workload.dims)
        self.L, self.D, self.T = L, D, len(workload.tensors)
        self.active = {k: [[int(colmax[k][i][d]) > 1 for d in range(D)] for i in range(L)]
                       for k in KINDS}
        bounds = [workload.bound(d) for d in workload.dims]
        # Fanout per (level, axis): checked where the product of the column bounds can
        # exceed the fanout.
        self.fan_checks = []
        for i in range(L):
            for k, limit in zip(("SX", "SY"), arch.fanout(i)):
                dims = [d for d in range(D) if self.active[k][i][d]]
                top = math.prod(min(int(colmax[k][i][d]), bounds[d]) for d in dims)
                if dims and top > limit:
                    self.fan_checks.append((i, k, dims, limit, top < INT64_SAFE))
        self.min_pes = min_pes(arch, min_pe_utilization)
        pe_cols = [(k, i, d) for k in ("SX", "SY") for i in range(L) for d in range(D)
                   if self.active[k][i][d]]
        pe_top = math.prod(min(int(colmax[k][i][d]), bounds[d]) for k, i, d in pe_cols)
        self.pe_cols = pe_cols if self.min_pes > 1 else []
        self.pe_exact = pe_top < INT64_SAFE
        self.pe_never = self.min_pes > pe_top  # no point reaches the minimum
        # Capacity: per bounded level, the tensors it may keep as (t, axes, bits, const),
        # axes as [(dim, |coefficient|)] per tensor axis (a dimension once per axis).
        self.cap_checks = []
        incmax = [[1] * D for _ in range(L + 1)]
        for i in range(L - 1, -1, -1):
            for d in range(D):
                m = 1
                for k in KINDS:
                    m *= int(colmax[k][i][d])
                incmax[i][d] = min(bounds[d], incmax[i + 1][d] * m)
        for i, lvl in enumerate(arch.levels):
            cap = capacity_bits(lvl)
            if cap is None:
                continue
            low = min_used_bits(lvl)
            tensors, top = [], 0
            for t, tensor in enumerate(workload.tensors):
                const = keep_const[i][t]
                if const is False:
                    continue
                axes = []
                for axis in tensor.axes:
                    coef: dict[int, int] = {}
                    for c, dim in axis:
                        d = workload.dims.index(dim)
                        coef[d] = coef.get(d, 0) + abs(c)
                    axes.append([(d, c) for d, c in coef.items() if c])
                words = math.prod(1 + sum(c * (incmax[i][d] - 1) for d, c in axis)
                                  for axis in axes)
                top += words * lvl.bits(tensor.name)
                tensors.append((t, axes, lvl.bits(tensor.name), const))
            if top <= cap and low == 0:
                continue  # every point fits and there is no minimum
            self.cap_checks.append((i, tensors, cap, low, top < INT64_SAFE))
        self.need_levels = sorted({i for i, *_ in self.cap_checks})
        self.need_set = set(self.need_levels)

    # -- the check -------------------------------------------------------------------------
    def check(self, n: int, col: Columns, keep: Keeps) -> np.ndarray:
        """Which of ``n`` rows are legal; ``col(kind, i, d)`` gives a column of factors
        (only active ones are asked for), ``keep(i, t)`` a keep column or constant."""
        ok = np.ones(n, dtype=bool)
        for i, k, dims, limit, exact in self.fan_checks:
            cols = [col(k, i, d) for d in dims]
            ok &= _at_most(cols, limit, exact, n)
        if self.pe_cols or self.pe_never:
            if self.pe_never:
                ok[:] = False
            else:
                cols = [col(k, i, d) for k, i, d in self.pe_cols]
                ok &= ~_at_most(cols, self.min_pes - 1, self.pe_exact, n)
        if not self.cap_checks:
            return ok
        inc: list = [1] * self.D  # extent of each dimension at this level and below
        incs = {}
        for i in range(self.L - 1, self.need_levels[0] - 1, -1):
            for d in range(self.D):
                for k in KINDS:
                    if self.active[k][i][d]:
                        c = col(k, i, d)
                        inc[d] = c.astype(np.int64) if isinstance(inc[d], int) else inc[d] * c
            if i in self.need_set:
                incs[i] = list(inc)
        for i, tensors, cap, low, exact in self.cap_checks:
            box = incs[i]
            if exact:
                used = np.zeros(n, dtype=np.int64)
                for t, axes, bits, const in tensors:
                    words = self._words(axes, box, np.int64)
                    part = words * bits
                    used += part if const is True else _masked(part, keep(i, t))
                ok &= used <= cap
                if low:
                    ok &= used >= low
            else:
                usedf = np.zeros(n)
                for t, axes, bits, const in tensors:
                    part = self._words(axes, box, np.float64) * float(bits)
                    usedf += part if const is True else _masked(part, keep(i, t))

                def exact_used(r: int, i=i, tensors=tensors, box=box) -> int:
                    total = 0
                    for t, axes, bits, const in tensors:
                        kk = const if const is not None else keep(i, t)
                        if not (kk if isinstance(kk, bool) else bool(np.asarray(kk)[r])):
                            continue
                        words = 1
                        for axis in axes:
                            words *= 1 + sum(c * (_int(box[d], r) - 1) for d, c in axis)
                        total += words * bits
                    return total

                ok &= _decide(usedf, exact_used, cap)
                if low:
                    ok &= ~_decide(usedf, exact_used, low - 1)
        return ok

    @staticmethod
    def _words(axes, box, dtype) -> np.ndarray | int:
        words = 1
        for axis in axes:
            ext = 1
            for d, c in axis:
                v = box[d]
                if isinstance(v, np.ndarray):
                    v = v.astype(dtype, copy=False)
                ext = ext + (v - 1 if c == 1 else c * (v - 1))
            words = words * ext
        return words

    # -- adapters ----------------------------------------------------------------------------
    def check_batch(self, b) -> np.ndarray:
        """Which rows of a ``MappingBatch`` of points of the space are legal."""
        arrays = {"T": b.temporal, "SX": b.spatial_x, "SY": b.spatial_y}
        return self.check(len(b), lambda k, i, d: arrays[k][:, i, d],
                          lambda i, t: b.keep[:, i, t])


def _at_most(cols: list[np.ndarray], limit: int, exact: bool, n: int) -> np.ndarray:
    """Rows whose product of ``cols`` is at most ``limit``."""
    if exact:
        prod = np.ones(n, dtype=np.int64)
        for c in cols:
            prod = prod * c
        return prod <= limit
    prodf = np.ones(n)
    for c in cols:
        prodf = prodf * c.astype(np.float64)
    return _decide(prodf, lambda r: math.prod(int(c[r]) for c in cols), limit)


def _masked(part, keep):
    if isinstance(keep, (bool, np.bool_)):
        return part if keep else 0
    return np.where(keep, part, 0)


def _int(v, r: int) -> int:
    return int(v[r]) if isinstance(v, np.ndarray) else int(v)


def _decide(valuef: np.ndarray, exact: Callable[[int], int], limit: int) -> np.ndarray:
    """Rows whose value is at most ``limit``: decided from the float64 estimate where it
    is clearly on one side, from the exact Python integer (``exact(row)``) otherwise."""
    valuef = np.asarray(valuef, dtype=np.float64)
    lim = float(limit)
    tol = _MARGIN * max(abs(lim), 1.0)
    out = valuef <= lim
    close = np.flatnonzero(np.abs(valuef - lim) <= tol + _MARGIN * np.abs(valuef))
    for r in close.tolist():
        out[r] = exact(r) <= limit
    return out
