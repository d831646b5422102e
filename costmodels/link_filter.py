"""Link transfers in the batched evaluator (docs/semantics.md, "Link transfers"): which
rows of a batch may use inter-PE links (``flags``, an exact necessary condition) and what
links change in them (``effects``), both in numpy (``link_effects_batched``); and the same
effects from the scalar ``links.link_effects``, one row at a time (``scalar_effects``,
the reference the numpy path is tested and benchmarked against).
"""

from __future__ import annotations

import math

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.mapping import Mapping, tile_box
from loopscape.spaces.workload import Workload

from .link_effects_batched import LinkEffectsBatch
from .links import LinkEffect, link_effects
from .nest import loop_steps
from .options import ModelOptions


def mapping_link_effects(workload: Workload, arch: Architecture, mapping: Mapping,
                         options: ModelOptions, schedule: str = "timeloop"
                         ) -> dict[tuple[int, str], LinkEffect]:
    """``link_effects`` of one mapping, its inputs derived as ``nest.analyze`` does."""
    n = len(arch.levels)
    loops = loop_steps(mapping, workload.dims)
    temporal_above = [[(d, f, s) for lvl in loops[:c] for d, f, s, sp in lvl if not sp and f > 1]
                      for c in range(n)]
    # extents only below a fanout (the only tiles link_effects looks at)
    extents = [{t.name: t.extents(tile_box(mapping, c, workload.dims)) for t in workload.tensors}
               if c and any(l.factor > 1 for l in mapping.levels[c - 1].spatial) else {}
               for c in range(n)]
    utilized = [1]
    for lvl in loops[:-1]:
        utilized.append(utilized[-1] * math.prod(f for _, f, _, sp in lvl if sp))
    return link_effects(workload, arch, mapping, extents, temporal_above, utilized, schedule,
                        options.keeps_stationary_translation)


class LinkFilter:
    """``flags(batch)``: rows where some fanout's children may take data over links;
    ``effects(batch, rows, options)``: what links change in those rows, for the batched
    model (in numpy, ``link_effects_batched``); ``scalar_effects``: the same from the
    scalar ``link_effects`` row by row (the reference)."""

    def __init__(self, workload: Workload, arch: Architecture, keep_stationary: bool,
                 vectorized: bool = True):
        self.workload, self.arch = workload, arch
        self.vectorized = vectorized
        self.batched = LinkEffectsBatch(workload, arch, keep_stationary)

    def flags(self, b: MappingBatch) -> np.ndarray:
        """Per row: whether some visit may take data over a link."""
        return self.batched.candidates(b)

    def effects(self, b: MappingBatch, rows: np.ndarray, options: ModelOptions) -> dict:
        """Per (child level, tensor index): arrays over ``rows`` of the parent's saved
        words, the child's fills and added reads with links, whether they apply, and the
        numerator and denominator (0: none) of ``bypass_ratio``: in numpy, or with
        ``vectorized=False`` from ``scalar_effects``."""
        if self.vectorized:
            return self.batched.effects(b, rows)
        return self.scalar_effects(b, rows, options)

    def scalar_effects(self, b: MappingBatch, rows: np.ndarray, options: ModelOptions
                       ) -> dict:
        """``effects`` from the scalar ``link_effects``, one row at a time (the reference),
        for the rows ``flags`` marks (elsewhere links change nothing)."""
        names = self.workload.tensor_names
        n = len(rows)
        out: dict = {}
        for k in np.nonzero(self.flags(b.take(rows)))[0].tolist():
            r = int(rows[k])
            m = decode(self.workload, self.arch, b, r)
            for (c, t), e in mapping_link_effects(self.workload, self.arch, m, options).items():
                key = (c, names.index(t))
                if key not in out:
                    out[key] = [np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                                np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                                np.zeros(n, dtype=object), np.zeros(n, dtype=object)]
                v = out[key]
                if e.bypass_ratio is not None:  # the children bypass the tensor
                    v[4][k], v[5][k] = e.bypass_ratio.numerator, e.bypass_ratio.denominator
                else:
                    v[0][k], v[1][k], v[2][k], v[3][k] = \
                        e.saved_words, e.fills, e.extra_reads, True
        return out

def bypass_served(served: np.ndarray, child_served, num: np.ndarray, den: np.ndarray
                  ) -> np.ndarray:
    """``served`` with the rows where ``den`` > 0 replaced by the words the parent serves
    to children that bypass the tensor and used links (``links.bypass_served``): the
    children's words times ``num / den``, truncated, in exact integers."""
    rows = np.nonzero(den != 0)[0]
    out = np.array(np.broadcast_to(served, den.shape), dtype=np.int64)
    child = np.broadcast_to(child_served, den.shape)
    for r in rows.tolist():
        out[r] = int(child[r]) * int(num[r]) // int(den[r])
    return out
