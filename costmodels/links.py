"""Inter-PE link transfers (Timeloop's default; docs/semantics.md, "Link transfers").

At a spatial fanout, every child (an instance of the next level) fetches a *delta* at each
visit of the temporal loops above it: what the refetch rule says it needs. A child may
instead take its delta over a link from a mesh neighbour (left, right, up or down; no
wraparound) when the neighbour's delta at the previous visit was exactly the same data.
The remaining children are served by the parent, children needing identical data once
(multicast). Per tensor and visit, the links are used only if the parent then serves fewer
words at that visit. Where used:

* the parent serves fewer words (and so does every bypassed level above it);
* each child's fills are the parent's words times the children they reach, divided by
  the number of children, plus its share of the link transfers (the transfers of one
  parent instance divided by all utilized instances of the child level, Timeloop's
  accounting); its reads grow by the same share (the neighbour's copy is read).

Children of one fanout visit translated copies of the same tile sequence, so the refetch
rule's outcome (nothing, a slice for translation ``t``, or the whole tile) is the same for
all of them at each visit; a delta is identified by that outcome and the tile's lowest
corner. Visits follow the analysis schedule (Timeloop's indices 0 and 1 weighted by
``f - 1``, or every iteration). Only read-only tensors kept by the child level are
considered. The brute-force simulator (``simulator.py``) checks this module with explicit
coordinate sets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction
from typing import Sequence

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.workload import Tensor, Workload

_NONE = object()  # "no translation remembered"


@dataclass(frozen=True)
class LinkEffect:
    """What link transfers change at one fanout for one tensor (per parent instance for
    ``saved_words`` and ``link_words``, per child instance for ``fills``/``extra_reads``)."""

    saved_words: int  # fewer words served by the fanout's parent level
    fills: int  # the child's fills with link transfers (replaces its share)
    extra_reads: int  # peer reads added to the child's reads
    link_words: int  # words moved over links, per parent instance
    # When the child level bypasses the tensor: the parent serves this many words per word
    # the child level passes on (instead of the distinct corners); no link words remain.
    bypass_ratio: Fraction | None = None


def _nearest(x: Fraction) -> int:
    """x rounded to the nearest integer, halves up."""
    return math.floor(x + Fraction(1, 2))


def _visits(factors: Sequence[int], schedule: str):
    """(weight, index tuple) of every visit in execution order."""
    if schedule == "exact":
        for idx in itertools.product(*(range(f) for f in factors)):
            yield 1, idx
    else:
        for idx in itertools.product(*(range(min(f, 2)) for f in factors)):
            yield math.prod(f - 1 for f, x in zip(factors, idx) if x == 1), idx


@lru_cache(maxsize=256)
def _coefficients(tensor: Tensor) -> dict[str, tuple[int, ...]]:
    """Per dimension indexing the tensor, how one step of it moves the tile's corner."""
    return {d: tuple(sum(c for c, dd in axis if dd == d) for axis in tensor.axes)
            for d in tensor.dims}


def _delta(ext, move, state, keep_stationary):
    """The refetch rule at one step: (outcome key, words fetched, new remembered state)."""
    size = math.prod(ext)
    if keep_stationary and not any(move):
        return ("none", None), 0, state
    if state is _NONE or state == move:
        if not any(move):
            return ("none", None), 0, move
        kept = math.prod(max(0, e - abs(m)) for e, m in zip(ext, move))
        return (("part", move), size - kept, move) if kept else (("all", None), size, move)
    return ("all", None), size, _NONE


def _deltas(ext, factors, taus, schedule, keep_stationary):
    """(weight, words fetched, same outcome as the previous visit, tile move since it) of
    the visits of the temporal loops above a tile: every visit under the ``exact``
    schedule; under Timeloop's, classes of visits with equal weights summed. When the
    innermost translation ``tau_k`` is zero, every other visit fetches nothing, so no visit
    fetches what the one before it did: only the first visit is yielded then.

    Timeloop's schedule visits indices 0 and 1 of every loop (outermost first). A step of
    loop j moves the tile by ``w_j = tau_j - sum_{i>j} tau_i``; the innermost loop k steps
    every other visit, after which the remembered state is ``tau_k`` (a step of k finds
    ``tau_k`` or nothing remembered, with the same outcome). So the visits form classes:
    a step of j < k (weight ``(N_j - 1) P_j``, ``P_j`` the product of the factors outside
    j) after a step of k; a step of k after the first visit (weight ``N_k - 1``) or after
    a step of j' < k (weight ``(N_k - 1)(N_j' - 1) P_j'``)."""
    m = len(factors)
    yield 1, math.prod(ext), False, tuple(0 for _ in ext)  # the first visit: the whole tile
    if m == 0 or not any(taus[-1]):
        return
    if schedule == "exact":
        prev_corner, prev_key, state = None, None, _NONE
        for idx in itertools.product(*(range(f) for f in factors)):
            corner = tuple(sum(x * tt[a] for x, tt in zip(idx, taus)) for a in range(len(ext)))
            if prev_corner is None:  # the first visit, yielded above
                prev_corner, prev_key = corner, ("all", None)
                continue
            mv = tuple(a - b for a, b in zip(corner, prev_corner))
            key, got, state = _delta(ext, mv, state, keep_stationary)
            yield 1, got, got > 0 and key == prev_key, mv
            prev_corner, prev_key = corner, (key if got else ("none", None))
        return
    k = m - 1
    T = taus[k]
    w = [tuple(taus[j][a] - sum(tt[a] for tt in taus[j + 1:]) for a in range(len(ext)))
         for j in range(m)]
    outer = [math.prod(factors[:j]) for j in range(m)]
    # A step of k: the state is tau_k or nothing, with the same outcome.
    k_key, k_got, _ = _delta(ext, T, _NONE, keep_stationary)
    k_key = k_key if k_got else ("none", None)
    yield factors[k] - 1, k_got, k_got > 0 and k_key == ("all", None), T
    for j in range(k):
        key, got, _ = _delta(ext, w[j], T, keep_stationary)
        wt = (factors[j] - 1) * outer[j]
        yield wt, got, got > 0 and key == k_key, w[j]
        yield wt * (factors[k] - 1), k_got, k_got > 0 and k_key == (key if got else ("none", None)), T


@lru_cache(maxsize=64)  # big arrays give big meshes: keep few
def mesh(factors: tuple[int, ...], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Children of a fanout with spatial loops of ``factors`` (outermost first): their
    spatial indices [children, loops] in linear order (mixed radix), and the (child,
    neighbour) pairs of the mesh they fill row by row, ``width`` per row: left, right,
    up and down, no wraparound."""
    k = math.prod(factors)
    digits = np.stack(np.unravel_index(np.arange(k), factors), axis=1).astype(np.int64) \
        if factors else np.zeros((1, 0), dtype=np.int64)
    lin = np.arange(k)
    right = lin[((lin % width) + 1 < width) & (lin + 1 < k)]
    down = lin[lin + width < k]
    a = np.concatenate([right, right + 1, down, down + width])
    b = np.concatenate([right + 1, right, down + width, down])
    return digits, np.stack([a, b], axis=1)


def link_effects(workload: Workload, arch: Architecture, mapping: Mapping,
                 tile_extents: Sequence[dict[str, tuple[int, ...]]],
                 temporal_above: Sequence[list[tuple[str, int, int]]],
                 utilized: Sequence[int], schedule: str, keep_stationary: bool
                 ) -> dict[tuple[int, str], LinkEffect]:
    """Per (child level c, tensor) where link transfers lower the parent's words.

    ``tile_extents[c][t]``: extents of tensor t's tile at level c; ``temporal_above[c]``:
    (dim, factor, step) of the non-unit temporal loops above level c, outermost first;
    ``utilized[c]``: utilized instances of level c."""
    out: dict[tuple[int, str], LinkEffect] = {}
    n = len(arch.levels)
    below = {d: 1 for d in workload.dims}  # factors of each dim at levels > i
    steps_below: list[dict[str, int]] = [dict() for _ in range(n)]
    for i in range(n - 1, -1, -1):
        steps_below[i] = dict(below)
        for l in mapping.levels[i].temporal + mapping.levels[i].spatial:
            below[l.dim] *= l.factor
    for i in range(n - 1):
        lm = mapping.levels[i]
        sp = [(l, "y") for l in lm.spatial_y if l.factor > 1] + \
             [(l, "x") for l in lm.spatial_x if l.factor > 1]
        if not sp:
            continue
        c = i + 1
        # Spatial offset (iteration point) and physical grid position of every child.
        base = steps_below[i]  # == steps below level i's loops: the child's box per dim
        # step of a spatial loop: its dim's factors nested inside it (children's box, and
        # later spatial loops of the same dim at this level)
        loop_steps = []
        for k, (l, _) in enumerate(sp):
            inner = math.prod(ll.factor for ll, _ in sp[k + 1:] if ll.dim == l.dim)
            loop_steps.append(base[l.dim] * inner)
        lx = math.prod(l.factor for l, a in sp if a == "x")
        digits, pairs = mesh(tuple(l.factor for l, _ in sp), max(arch.fanout(i)[0], lx))
        n_children = len(digits)
        loops = temporal_above[c]
        for tensor in workload.tensors:
            t = tensor.name
            if tensor.read_write:
                continue
            # Corner of every child's tile, and of the differences between neighbours.
            coef, zero = _coefficients(tensor), (0,) * len(tensor.axes)
            unit = np.array([[st * x for x in coef.get(l.dim, zero)]
                             for (l, _), st in zip(sp, loop_steps)], dtype=np.int64)
            offsets = digits @ unit  # [children, axes]
            nb_diffs = offsets[pairs[:, 1]] - offsets[pairs[:, 0]]
            diffs = set(map(tuple, nb_diffs.tolist()))
            taus = [tuple(s * x for x in coef.get(d, zero)) for d, _, s in loops]
            moves = set()
            wrap = [0] * len(offsets[0])  # where the loops inside loop j wrap back from
            for (_, f, _), tau in zip(reversed(loops), reversed(taus)):
                moves.add(tuple(x - y for x, y in zip(tau, wrap)))
                k = f - 1 if schedule == "exact" else 1
                wrap = [y + k * x for x, y in zip(tau, wrap)]
            # A child can only take a neighbour's previous delta if the tile's move between
            # two visits equals their offset difference: skip fanouts where none does.
            if not diffs & moves:
                continue
            ext = tile_extents[c][t]
            lo = offsets.min(axis=0)
            radix = np.cumprod(np.concatenate([[1], offsets.max(axis=0)[:-1] - lo[:-1] + 1]))
            corner_id = (offsets - lo) @ radix  # one integer per distinct corner
            groups_all = len(np.unique(corner_id))
            linked_memo: dict[tuple[int, ...], tuple[int, int]] = {}

            def linked(mv):
                """(children taking their delta over a link, distinct corners the parent
                still serves) when the tile moved by ``mv`` since the previous visit:
                child k links when a neighbour's corner is its own plus ``mv``."""
                r = linked_memo.get(mv)
                if r is None:
                    ks = np.zeros(n_children, dtype=bool)
                    ks[pairs[(nb_diffs == np.array(mv)).all(axis=1), 0]] = True
                    r = (int(ks.sum()), len(np.unique(corner_id[~ks])))
                    linked_memo[mv] = r
                return r

            without = with_ = links = 0
            parent_fills = Fraction(0)
            for w, got, same, mv in _deltas(ext, [f for _, f, _ in loops], taus, schedule,
                                            keep_stationary):
                if not got:
                    continue
                without += w * got * groups_all
                n_linked, rest = linked(mv) if same else (0, groups_all)
                if rest < groups_all:  # decided per visit, as Timeloop does
                    with_ += w * got * rest
                    links += w * got * n_linked
                    parent_fills += Fraction(w * got * (n_children - n_linked), n_children)
                else:
                    with_ += w * got * groups_all
                    parent_fills += w * got
            if links and t not in mapping.levels[c].keep:
                out[c, t] = LinkEffect(0, 0, 0, 0, Fraction(with_) / parent_fills)
            elif links:
                peer = Fraction(links, utilized[c])
                # Timeloop keeps these averages as doubles and prints them rounded.
                out[c, t] = LinkEffect(without - with_, math.floor(parent_fills + peer),
                                       _nearest(peer), links)
    return out


def bypass_served(effect: LinkEffect, child_served: int) -> int:
    """Words a fanout's parent serves for a tensor its children bypass, where links were
    used (``effect.bypass_ratio``): the words the children pass on, all of them, times
    the parent's words per word received from it (Timeloop rescales the parent's
    multicast accounting so; doubles, truncated)."""
    return math.floor(child_served * effect.bypass_ratio)
