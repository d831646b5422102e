"""Brute-force loop-nest simulator: the test oracle of the analytical nest model.

It implements docs/semantics.md literally, with explicit Python sets of tensor
coordinates, and shares no code with ``nest.py``:

* the mapping is flattened into one loop nest (per level: temporal loops, then spatial
  Y, then spatial X; levels outermost first), each loop with its step;
* a tile is built by enumerating every point of the iteration sub-box of the loops at
  and below a level, projecting each point, taking the per-axis min/max and
  materializing that box as a set of coordinate tuples;
* the visits of a level are the index combinations of the temporal loops above it (all
  of them for ``schedule="exact"``, indices 0 and 1 weighted by ``f - 1`` for
  ``schedule="timeloop"``); the refetch rule is applied with set differences, and
  ``options.semantics`` says whether a visit where the tile does not move keeps the
  remembered translation (current Timeloop) or records it (before Timeloop's PR #297);
* multicast and spatial reduction group the children of one fanout whose request
  streams (the explicit sets fetched at every visit) are identical; a bypassing child
  passes up the distinct streams of its own children.

Only meant for tiny problems (a few thousand MACs).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from dataclasses import dataclass
from typing import Iterator, Sequence, Union

import numpy as np

from loopscape.spaces.arch import Architecture
from loopscape.spaces.mapping import Mapping, check_mapping
from loopscape.spaces.workload import Tensor, Workload

from .options import ModelOptions, model_options

SCHEDULES = ("exact", "timeloop")

Coord = tuple[int, ...]
Stream = tuple[tuple[int, frozenset], ...]  # (weight, set of coordinates) per visit
# A request is what one child asks of its parent over the whole run:
# ("fetch", stream) for a child that keeps the tensor, ("mac", stream) for a MAC,
# ("pass", frozenset of requests) for a child that bypasses it.
Request = tuple[str, Union[Stream, frozenset]]


@dataclass(frozen=True)
class SimCounts:
    """Per-instance counts of one tensor at one level (the fields of ``TensorTraffic``)."""

    tile_words: int
    partition_words: int
    reads: int
    fills: int
    updates: int


@dataclass(frozen=True)
class FlatLoop:
    """One loop of the flattened nest."""

    level: int
    dim: int  # index into workload.dims
    factor: int
    step: int
    spatial: bool


def flatten(workload: Workload, mapping: Mapping) -> list[FlatLoop]:
    """The loop nest outermost first; a loop's step is the product of the factors of its
    dimension in every loop nested inside it."""
    raw: list[tuple[int, str, int, bool]] = []
    for i, lm in enumerate(mapping.levels):
        raw += [(i, l.dim, l.factor, False) for l in lm.temporal]
        raw += [(i, l.dim, l.factor, True) for l in lm.spatial_y]
        raw += [(i, l.dim, l.factor, True) for l in lm.spatial_x]
    out = []
    for j, (i, d, f, sp) in enumerate(raw):
        step = math.prod(ff for _, dd, ff, _ in raw[j + 1:] if dd == d)
        out.append(FlatLoop(i, workload.dims.index(d), f, step, sp))
    return out


def _projection(workload: Workload, tensor: Tensor) -> np.ndarray:
    """Matrix (axes x dims) mapping an iteration point to a tensor coordinate."""
    a = np.zeros((len(tensor.axes), len(workload.dims)), dtype=np.int64)
    for k, axis in enumerate(tensor.axes):
        for c, d in axis:
            a[k, workload.dims.index(d)] += c
    return a


def _point(loops: Sequence[FlatLoop], index: Sequence[int], ndims: int) -> np.ndarray:
    """Iteration point (per-dimension coordinate) of one index combination of ``loops``."""
    p = np.zeros(ndims, dtype=np.int64)
    for l, x in zip(loops, index):
        p[l.dim] += x * l.step
    return p


def _sub_box(loops: Sequence[FlatLoop], ndims: int) -> np.ndarray:
    """Every iteration point (relative) reached by the index combinations of ``loops``."""
    pts = np.zeros((1, ndims), dtype=np.int64)
    for l in loops:
        unit = np.zeros(ndims, dtype=np.int64)
        unit[l.dim] = l.step
        pts = (pts[:, None, :] + np.arange(l.factor)[None, :, None] * unit).reshape(-1, ndims)
    return pts


def visits(loops: Sequence[FlatLoop], schedule: str) -> Iterator[tuple[int, tuple[int, ...]]]:
    """(weight, index combination) of every visit, in execution order."""
    if schedule == "exact":
        for idx in itertools.product(*(range(l.factor) for l in loops)):
            yield 1, idx
    elif schedule == "timeloop":
        for idx in itertools.product(*(range(min(l.factor, 2)) for l in loops)):
            yield math.prod(l.factor - 1 for l, x in zip(loops, idx) if x == 1), idx
    else:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {SCHEDULES}")


def _centre(corners: tuple[Coord, Coord]) -> tuple[Fraction, ...]:
    """Centre of a box given as its lowest and highest corners."""
    return tuple(Fraction(a + b, 2) for a, b in zip(*corners))


def _round(x: Fraction) -> int:
    """Round half away from zero."""
    r = math.floor(abs(x) + Fraction(1, 2))
    return r if x >= 0 else -r


class _TensorWalk:
    """Tiles, fetch streams and requests of one tensor under one mapping."""

    def __init__(self, workload: Workload, mapping: Mapping, tensor: Tensor, schedule: str,
                 keep_stationary: bool = True, arch: Architecture | None = None,
                 link_transfers: bool = False):
        self.keep_stationary = keep_stationary
        self.arch = arch
        self.link_transfers = link_transfers
        self._links: dict[tuple[int, tuple[int, ...]], tuple[int, Fraction, int] | None] = {}
        self.mapping = mapping
        self.tensor = tensor
        self.schedule = schedule
        self.n = len(mapping.levels)
        self.ndims = len(workload.dims)
        self.loops = flatten(workload, mapping)
        self.proj = _projection(workload, tensor)
        # With residual loops the nest runs exactly the points below every bound.
        self.bound = np.array([workload.bound(d) for d in workload.dims], dtype=np.int64) \
            if mapping.imperfect else None
        self._requests: dict[tuple[int, tuple[int, ...]], Request] = {}

    # -- the nest seen from level j (j == n: the MACs) -------------------------------
    def spatial_above(self, j: int) -> list[FlatLoop]:
        return [l for l in self.loops if l.spatial and l.level < j]

    def spatial_at(self, j: int) -> list[FlatLoop]:
        return [l for l in self.loops if l.spatial and l.level == j]

    def temporal_above(self, j: int) -> list[FlatLoop]:
        return [l for l in self.loops if not l.spatial and l.level < j]

    def keeps(self, j: int) -> bool:
        return self.tensor.name in self.mapping.levels[j].keep

    def tiles(self, j: int, pos: tuple[int, ...], schedule: str
              ) -> list[tuple[int, tuple[Coord, Coord], set[Coord]]]:
        """(weight, (lowest, highest corner), tile as a set) per visit of the instance of level ``j``
        at spatial position ``pos`` (indices of the spatial loops above ``j``)."""
        base = _point(self.spatial_above(j), pos, self.ndims)
        above = self.temporal_above(j)
        below = [l for l in self.loops if l.level >= j]
        box = _sub_box(below, self.ndims)  # every iteration point under the level
        weights, points = [], []
        for w, idx in visits(above, schedule):
            weights.append(w)
            points.append(base + _point(above, idx, self.ndims))
        pts = np.stack(points)[:, None, :] + box[None, :, :]  # visits x sub-box x dims
        coords = pts @ self.proj.T  # project every point: visits x sub-box x axes
        if self.bound is not None:  # residual loops: only points below the bounds run
            runs = (pts < self.bound).all(axis=2)  # visits x sub-box
            out = []
            for w, c, r in zip(weights, coords, runs):
                if not r.any():
                    continue  # this instance is idle at this visit
                lo, hi = c[r].min(axis=0).tolist(), c[r].max(axis=0).tolist()
                tile = set(itertools.product(*(range(a, b + 1) for a, b in zip(lo, hi))))
                out.append((w, (tuple(lo), tuple(hi)), tile))
            return out
        lows, highs = coords.min(axis=1).tolist(), coords.max(axis=1).tolist()
        out = []
        for w, lo, hi in zip(weights, lows, highs):
            tile = set(itertools.product(*(range(a, b + 1) for a, b in zip(lo, hi))))
            out.append((w, (tuple(lo), tuple(hi)), tile))
        return out

    # -- what an instance fetches: the refetch rule ------------------------------------
    def fetch_stream(self, j: int, pos: tuple[int, ...]) -> Stream:
        """The set fetched at every visit by the instance of level ``j`` at ``pos``."""
        out = []
        prev: set[Coord] | None = None
        prev_c: tuple[Fraction, ...] = ()
        trans: Coord | None = None  # None: no translation recorded
        for w, lo, tile in self.tiles(j, pos, self.schedule):
            # A tile's move: the difference of the centres of the two boxes, rounded half
            # away from zero (the corners' difference when the boxes have one shape).
            centre = _centre(lo)
            if prev is None:
                got = tile
            else:
                t = tuple(_round(a - b) for a, b in zip(centre, prev_c))
                if self.keep_stationary and not any(t):
                    got = tile - prev  # a tile that did not move: nothing new, history kept
                elif trans is None:
                    got, trans = tile - prev, t
                elif t == trans:
                    got = tile - prev
                else:
                    got, trans = tile, None
            out.append((w, frozenset(got)))
            prev, prev_c = tile, centre
        return tuple(out)

    def aligned_stream(self, j: int, pos: tuple[int, ...]) -> Stream:
        """``fetch_stream`` with None at every visit where the instance is idle, so the
        streams of all children of a fanout line up visit by visit."""
        stream = iter(self.fetch_stream(j, pos))
        return tuple(next(stream) if active else (w, None) for w, active in self.activity(j, pos))

    def activity(self, j: int, pos: tuple[int, ...]) -> list[tuple[int, bool]]:
        """(weight, whether the instance runs) per visit of the temporal loops above ``j``."""
        above = self.temporal_above(j)
        if self.bound is None:
            return [(w, True) for w, _ in visits(above, self.schedule)]
        base = _point(self.spatial_above(j), pos, self.ndims)
        box = _sub_box([l for l in self.loops if l.level >= j], self.ndims)
        return [(w, bool(((base + _point(above, idx, self.ndims) + box) < self.bound)
                         .all(axis=1).any()))
                for w, idx in visits(above, self.schedule)]

    # -- what a child asks of its parent -----------------------------------------------
    def children(self, j: int, pos: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Spatial positions of the children of the instance of level ``j`` at ``pos``."""
        return [pos + c for c in itertools.product(*(range(l.factor) for l in self.spatial_at(j)))]

    def request(self, j: int, pos: tuple[int, ...]) -> Request:
        """The request stream of the instance of level ``j`` (or MAC, ``j == n``) at ``pos``."""
        key = (j, pos)
        if key not in self._requests:
            if j == self.n:  # a MAC asks for its one coordinate every temporal iteration
                req: Request = ("mac", tuple((w, frozenset(tile))
                                             for w, _, tile in self.tiles(j, pos, self.schedule)))
            elif self.keeps(j):
                req = ("fetch", self.fetch_stream(j, pos))
            else:  # bypass: pass up the distinct requests of its own children
                req = ("pass", frozenset(self.request(j + 1, c) for c in self.children(j, pos)))
                link = self.links(j, pos)
                if link is not None:  # its children take some words over links
                    req = ("linked", (req, link[0]))
            self._requests[key] = req
        return self._requests[key]

    def served(self, i: int, pos: tuple[int, ...]) -> int:
        """Words the instance of level ``i`` at ``pos`` serves to its fanout."""
        distinct = {self.request(i + 1, c) for c in self.children(i, pos)}
        link = self.links(i, pos)
        return sum(words(r) for r in distinct) - (0 if link is None else link[0])

    # -- link transfers between the children of a fanout ----------------------------------
    def links(self, i: int, pos: tuple[int, ...]) -> tuple[int, Fraction, int] | None:
        """(words the instance of level ``i`` at ``pos`` no longer serves, each child's
        fills from it (an average), words moved over links) when its children take data
        from a neighbour: a child whose set fetched at a visit equals a mesh neighbour's
        set at the previous visit; used at a visit only if the parent's distinct sets then
        shrink. None when no link is used."""
        key = (i, pos)
        if key in self._links:
            return self._links[key]
        out = None
        sp = self.spatial_at(i)
        if (self.link_transfers and self.arch is not None and i + 1 < self.n and sp
                and not self.tensor.read_write):
            kids = self.children(i, pos)
            # Every child's set per visit of the parent, empty where the child is idle
            # (residual loops): a neighbour idle at the previous visit lends nothing.
            # Visits where every child is idle do not run at all.
            streams = [self.aligned_stream(i + 1, c) for c in kids]
            runs = [v for v in range(len(streams[0])) if any(st[v][1] is not None for st in streams)]
            streams = [tuple((st[v][0], st[v][1] or frozenset()) for v in runs) for st in streams]
            ny = len(self.mapping.levels[i].spatial_y)  # flatten: Y loops, then X loops
            lx = math.prod(l.factor for l in sp[ny:])
            h_size = max(self.arch.fanout(i)[0], lx)
            where = []
            for c in kids:
                linear = 0
                for l, x in zip(sp, c[len(pos):]):
                    linear = linear * l.factor + x
                where.append((linear % h_size, linear // h_size))
            grid = {q: k for k, q in enumerate(where)}
            near = [[grid[q] for q in ((h, v - 1), (h, v + 1), (h - 1, v), (h + 1, v))
                     if q in grid] for h, v in where]
            saved = links = served = 0
            fills = Fraction(0)
            for v in range(len(streams[0])):
                w = streams[0][v][0]
                sets = [st[v][1] for st in streams]
                linked = {k for k in range(len(kids)) if v > 0 and sets[k] and any(
                    sets[k] == streams[j][v - 1][1] for j in near[k])}
                every = sum(len(x) for x in set(sets))
                rest = sum(len(x) for x in {sets[k] for k in range(len(kids)) if k not in linked})
                served += w * rest  # the parent's words at this visit, links used or not
                if linked and rest < every:
                    saved += w * (every - rest)
                    links += w * sum(len(sets[k]) for k in linked)
                    fills += Fraction(w * sum(len(sets[k]) for k in range(len(kids))
                                              if k not in linked), len(kids))
                else:
                    fills += Fraction(w * sum(len(x) for x in sets), len(kids))
            if links and not self.keeps(i + 1):
                # The children bypass the tensor: the parent serves what they pass on,
                # all of them, times its words per word received (Timeloop's rescaling),
                # and no link words remain.
                passed = sum(words(self.request(i + 1, c)) for c in kids)
                distinct = sum(words(r) for r in {self.request(i + 1, c) for c in kids})
                out = (distinct - math.floor(Fraction(passed * served) / (fills * len(kids))),
                       Fraction(0), 0)
            elif links:
                out = (saved, fills, links)
        self._links[key] = out
        return out

    # -- per-level counts -----------------------------------------------------------------
    def counts(self, i: int) -> SimCounts:
        pos = (0,) * len(self.spatial_above(i))
        exact = self.tiles(i, pos, "exact")
        tile_words = max(len(t) for _, _, t in exact)
        assert self.bound is not None or all(len(t) == tile_words for _, _, t in exact), \
            "tiles of one level differ in size"
        partition = len(set().union(*(t for _, _, t in exact)))
        share = 0 if i == 0 else words(("fetch", self.fetch_stream(i, pos)))
        served = self.served(i, pos)
        link = self.links(i - 1, pos[:len(self.spatial_above(i - 1))]) if i > 0 else None
        if link is not None:  # Timeloop: peer reads and fills, averaged over all instances
            peer = Fraction(link[2], math.prod(l.factor for l in self.spatial_above(i)))
            return SimCounts(tile_words, partition, served + math.floor(peer + Fraction(1, 2)),
                             math.floor(link[1] + peer), 0)
        if self.tensor.read_write:
            return SimCounts(tile_words, partition, served - partition,
                             0 if i == 0 else share - partition, served)
        return SimCounts(tile_words, partition, served, 0 if i == 0 else share, 0)


def words(req: Request) -> int:
    """Words a request stream moves (visits weighted by the schedule)."""
    kind, body = req
    if kind == "pass":
        return sum(words(r) for r in body)
    if kind == "linked":
        inner, saved = body
        return words(inner) - saved
    return sum(w * len(s) for w, s in body)


def simulate(workload: Workload, arch: Architecture, mapping: Mapping,
             schedule: str = "exact", options: ModelOptions | None = None
             ) -> tuple[dict[str, SimCounts], ...]:
    """Per storage level (outermost first), per tensor that level keeps: per-instance counts.

    ``options.semantics`` selects how a visit where the tile does not move treats the
    remembered translation (docs/semantics.md).

    The mapping must be legal for ``arch`` (capacities are not checked). Each count is
    taken at the instance whose spatial indices above it are all 0; the children of
    every fanout are walked explicitly.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {SCHEDULES}")
    options = model_options(options)
    check_mapping(workload, arch, mapping, check_capacity=False)
    if mapping.imperfect and schedule != "exact":
        raise ValueError("the simulator walks residual loops with schedule='exact' only")
    out: list[dict[str, SimCounts]] = [dict() for _ in mapping.levels]
    for tensor in workload.tensors:
        walk = _TensorWalk(workload, mapping, tensor, schedule,
                           options.keeps_stationary_translation, arch, options.link_transfers)
        for i in range(len(mapping.levels)):
            if walk.keeps(i):
                out[i][tensor.name] = walk.counts(i)
    return tuple(out)
