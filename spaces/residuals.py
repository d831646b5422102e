"""Imperfect factorization: the coverage rule of loops with residuals.

A dimension's loops, taken outermost first over the whole nest (per level: temporal
loops, then spatial Y, then spatial X), form a mixed-radix counter whose digit ``k``
runs ``0 .. factor_k - 1``. With residuals the nest visits every digit string up to
the *last point*, whose digit ``k`` is ``last_k - 1`` (``last`` = residual, or factor
for a perfect loop), in lexicographic order. So a loop runs ``factor`` iterations,
except on the last pass of all its enclosing same-dimension loops, where it runs
``last``. The loops of a dimension cover its bound exactly when the last point is
``bound - 1``:

    n = 0;  for each loop, outermost first:  n = n * factor + last - 1;   n + 1 == bound

For perfect loops this is the product rule. The outermost (non-unit) loop of a
dimension always runs its residual, so it must be perfect (write the residual as its
factor); Timeloop also requires this of spatial loops.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .mapping import Loop, Mapping

__all__ = ["covered", "coverage_problems", "nest_order", "trim_to_bounds"]


def nest_order(mapping: "Mapping") -> list[tuple[int, "Loop", bool]]:
    """Every loop as (level index, loop, is_spatial), outermost first."""
    out = []
    for i, lm in enumerate(mapping.levels):
        out += [(i, l, False) for l in lm.temporal]
        out += [(i, l, True) for l in lm.spatial_y + lm.spatial_x]
    return out


def covered(loops: Sequence["Loop"]) -> int:
    """Points of a dimension its loops (outermost first) visit."""
    n = 0
    for l in loops:
        n = n * l.factor + l.last - 1
    return n + 1


def coverage_problems(mapping: "Mapping", dims: Sequence[str],
                      bounds: dict[str, int]) -> list[str]:
    """One message per dimension whose loops do not cover its bound exactly."""
    out = []
    order = nest_order(mapping)
    for d in dims:
        loops = [(i, l) for i, l, _ in order if l.dim == d and l.factor > 1]
        for i, l in loops:
            if not isinstance(l.residual, (int, type(None))) or isinstance(l.residual, bool) \
                    or (l.residual is not None and not 1 <= l.residual <= l.factor):
                out.append(f"{mapping.levels[i].target}: residual of {d} must be an integer "
                           f"1..{l.factor}, got {l.residual!r}")
        if out:
            continue
        if loops and loops[0][1].imperfect:
            i, l = loops[0]
            out.append(f"{mapping.levels[i].target}: the outermost loop of {d} ({l.factor},"
                       f"{l.residual}) always runs its residual; write it as {l.residual}")
            continue
        n = covered([l for _, l in loops])
        if n != bounds[d]:
            shown = " x ".join(f"{mapping.levels[i].target} {l.factor}"
                               + (f",{l.residual}" if l.imperfect else "")
                               for i, l in loops) or "no loops"
            what = "cover" if any(l.imperfect for _, l in loops) else "multiply to"
            out.append(f"factors of {d} {what} {n} but the layer's {d} is {bounds[d]} "
                       f"({shown})")
    return out


def trim_to_bounds(mapping: "Mapping", bounds: dict[str, int]) -> "Mapping":
    """A mapping of a padded layer (each bound rounded up) made into one of the real
    layer: every dimension keeps its loops' factors and gets the residuals whose last
    point is ``bound - 1``; loops that would then run once collapse, and the outermost
    remaining loop of a dimension gets its residual as factor (it must be perfect)."""
    import dataclasses

    order = nest_order(mapping)
    new: dict[int, "Loop"] = {}  # position in ``order`` -> replacement loop
    for d, bound in bounds.items():
        pos = [k for k, (_, l, _) in enumerate(order) if l.dim == d and l.factor > 1]
        loops = [order[k][1] for k in pos]
        if covered([type(l)(d, l.factor) for l in loops]) < bound:
            raise ValueError(f"the loops of {d} cover fewer than {bound} points")
        if not loops:  # bound 1
            continue
        strides = [math.prod(x.factor for x in loops[k + 1:]) for k in range(len(loops))]
        last = bound - 1
        digits = [last // strides[0]] + [(last // s) % l.factor
                                        for s, l in zip(strides[1:], loops[1:])]
        outer = True
        for k, l, x in zip(pos, loops, digits):
            if outer:  # runs only on the last pass: its residual is all it runs
                new[k] = type(l)(d, x + 1)
                outer = x == 0
            else:
                new[k] = type(l)(d, l.factor, x + 1)
    levels = []
    k = 0
    for lm in mapping.levels:
        groups = {}
        for kind in ("temporal", "spatial_y", "spatial_x"):
            out = []
            for l in getattr(lm, kind):
                l2 = new.get(k, l)
                if l2.factor > 1:
                    out.append(l2)
                k += 1
            groups[kind] = tuple(out)
        levels.append(dataclasses.replace(lm, **groups))
    return type(mapping)(tuple(levels))
