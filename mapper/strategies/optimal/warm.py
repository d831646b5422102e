"""The warm start of ``optimal``: a short run of ``local`` whose front seeds the
incumbent (it prunes from the first subtree on) and is proposed first (a search stopped
early is never worse than it)."""

from __future__ import annotations

import time

import numpy as np

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.mapspace import Mapspace

from ...objectives import objective_values
from ...pareto import nondominated_mask
from ..base import SearchContext
from ..local import LocalSearch


WARM_FACTOR = 16  # a space under this many times the warm start is walked at once


def worth_warming(pruned_size: int, evaluations: int) -> bool:
    """Whether a warm start of ``evaluations`` pays on a space of ``pruned_size``: a
    space a few times the warm start is cheaper to walk than to warm up for."""
    return bool(evaluations) and pruned_size > WARM_FACTOR * evaluations


def warm_start(space: Mapspace, ctx: SearchContext, evaluations: int, seconds: float
               ) -> tuple[np.ndarray, tuple[MappingBatch, list[int]] | None, int]:
    """(the non-dominated values found, all minimized; (their rows, their ids) or None;
    the mappings scored) after at most ``evaluations`` scored mappings or ``seconds``."""
    signs = np.array([-1.0 if o in ctx.maximize else 1.0 for o in ctx.objectives])
    loc = LocalSearch()
    loc.setup(SearchContext(space, ctx.objectives, ctx.maximize, ctx.seed))
    ev = BatchEvaluator(space.workload, space.arch, options=ctx.extra.get("options"))
    done = empty = 0
    seeds: list = []
    start = time.perf_counter()
    while done < evaluations and empty < 3 and \
            time.perf_counter() - start < seconds:  # a small space runs dry: stop
        prop = loc.ask(min(2048, evaluations - done))
        if prop is None:
            break
        empty = empty + 1 if len(prop) == 0 else 0
        if len(prop) == 0:
            continue
        vals = objective_values(ctx.objectives, ev(prop.batch), space.arch)
        loc.tell(prop, vals)
        rows = np.nonzero(nondominated_mask(vals * signs))[0]
        seeds.append((vals[rows] * signs, prop.batch, rows, [int(prop.ids[r]) for r in rows]))
        done += len(prop)
    if not seeds:
        return np.empty((0, len(ctx.objectives))), None, done
    x = np.vstack([v for v, *_ in seeds])
    keep = np.nonzero(nondominated_mask(x))[0]
    flat = [(b, r, i) for _, b, rows, ids in seeds for r, i in zip(rows, ids)]
    picked = [flat[k] for k in keep]
    return x[keep], (MappingBatch.concat([b.row(int(r)) for b, r, _ in picked]),
                     [i for *_, i in picked]), done
