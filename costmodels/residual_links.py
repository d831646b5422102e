"""Inter-PE link transfers in loop nests with residual loops (docs/semantics.md, "Link
transfers" and "Residual loops").

Used by ``nest.analyze`` instead of ``links.link_effects`` when a mapping has a residual
loop; it produces the same ``LinkEffect`` per (child level, tensor). It follows Timeloop's
analysis of a fanout, visit by visit (the visits of ``residual_walk``: Timeloop's
representative iterations, or every iteration under ``schedule="exact"``):

* Only the fanout's first child (every spatial index 0) is analysed; every other child's
  delta is that delta translated by the child's spatial offset, as Timeloop extrapolates
  it. So a child at the edge of a spatial residual gets the first child's tile shape, not
  its smaller real one (the brute-force simulator, which walks real tiles, differs there).
* On a pass where a spatial loop of the fanout runs its residual, only the children with
  an index below the residual take part, and they are numbered on the mesh with the
  residual as the loop's radix (Timeloop's linear index; the mesh itself keeps its full
  width).
* A present child takes its delta over a link when a mesh neighbour (left, right, up,
  down; no wraparound) that was present at the previous visit received exactly the same
  set of words then. Per visit the links are used only if the parent then serves fewer
  words (distinct sets, multicast counted once).

Deltas are sets ``tile minus overlap with the previous tile`` (or the whole tile after a
reset); they are compared exactly through a canonical form (one box, or a box minus an
inner box).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

from loopscape.spaces.arch import Architecture
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.workload import Tensor, Workload

from .links import LinkEffect
from .residual_walk import ResidualNest, representative

Box = tuple[tuple[int, ...], tuple[int, ...]]  # lowest and highest corner, inclusive


def _size(b: Box) -> int:
    return math.prod(max(0, h - l + 1) for l, h in zip(*b))


def _intersect(a: Box, b: Box) -> Box | None:
    lo = tuple(max(x, y) for x, y in zip(a[0], b[0]))
    hi = tuple(min(x, y) for x, y in zip(a[1], b[1]))
    return (lo, hi) if all(l <= h for l, h in zip(lo, hi)) else None


def delta_key(cur: Box, inter: Box | None) -> tuple:
    """Canonical form of the set ``cur`` minus ``inter`` (a box inside it, or None):
    ``()`` when empty, ``("box", lo, hi)`` when it is a box, else ``("cut", cur, inter)``
    (a box minus an inner box that is not a slab at one end is determined by the two)."""
    if inter is None:
        return ("box",) + cur
    if inter == cur:
        return ()
    differ = [a for a in range(len(cur[0])) if (inter[0][a], inter[1][a]) != (cur[0][a], cur[1][a])]
    if len(differ) == 1:
        a = differ[0]
        lo, hi = list(cur[0]), list(cur[1])
        if inter[0][a] == cur[0][a]:
            lo[a] = inter[1][a] + 1
            return ("box", tuple(lo), tuple(hi))
        if inter[1][a] == cur[1][a]:
            hi[a] = inter[0][a] - 1
            return ("box", tuple(lo), tuple(hi))
    return ("cut", cur, inter)


def translate_key(key: tuple, v: Sequence[int]) -> tuple:
    """``key`` (a ``delta_key``) moved by ``v``."""
    if not key or not any(v):
        return key

    def mv(b: Box) -> Box:
        return tuple(x + d for x, d in zip(b[0], v)), tuple(x + d for x, d in zip(b[1], v))

    if key[0] == "box":
        return ("box",) + mv((key[1], key[2]))
    return ("cut", mv(key[1]), mv(key[2]))


def _move(prev: Box, cur: Box) -> tuple[int, ...]:
    """Difference of the boxes' centres, rounded half away from zero."""
    out = []
    for pl, ph, cl, ch in zip(prev[0], prev[1], cur[0], cur[1]):
        diff = (cl + ch - pl - ph) / 2
        out.append(int(math.copysign(math.floor(abs(diff) + 0.5), diff)))
    return tuple(out)


class _FanoutWalk:
    """Visits of the temporal loops above the children of fanout ``i`` (instance 0 of the
    parent), with the first child's tile and the children present at each."""

    def __init__(self, rn: ResidualNest, mapping: Mapping, arch: Architecture, i: int):
        self.rn = rn
        self.c = i + 1
        self.above = [j for j, l in enumerate(rn.loops) if l.level < self.c]
        self.temporal = [j for j in self.above if not rn.loops[j].spatial]
        self.sp = [j for j, l in enumerate(rn.loops) if l.level == i and l.spatial]
        x_factor = math.prod(l.factor for l in mapping.levels[i].spatial_x)
        self.h_size = max(arch.fanout(i)[0], x_factor)
        self.full, self.last = rn.extents(self.c)

    def visits(self):
        """(weight, index dict) of every visit, in the walk's order."""
        rn = self.rn
        idx: dict[int, int] = {}

        def walk(k: int, w: int):
            if k == len(self.temporal):
                yield w, idx
                return
            j = self.temporal[k]
            l = rn.loops[j]
            n = rn.trips(j, idx)
            if rn.schedule == "exact":
                its = [(x, 1) for x in range(n)]
            else:
                run_last = rn.first_imperfect.get(l.dim, -1) > j and rn.on_last(idx, j, l.dim)
                its = [(x, v) for x, v, _ in representative(n, run_last, l.last != l.factor)]
            for x, v in its:
                idx[j] = x
                yield from walk(k + 1, w * v)
            idx[j] = 0

        yield from walk(0, 1)

    def children(self, idx: dict[int, int]) -> list[tuple[int, tuple[int, ...]]]:
        """(linear mesh index, offset in steps of each spatial loop) of the children
        present at this visit, as Timeloop extrapolates them: the first child (all
        indices 0) is analysed; along the innermost loop of the first row each child is
        the one before moved by that loop's step; in any other row, a child is the one
        ``s`` places before it (``s`` the product of the current trips of the loops
        inside the innermost outer loop at a non-zero index) moved by that loop's step.
        With full trips this is each child's own offset; on a residual pass the linear
        index uses the residual as radix, so it can differ (and an index met twice keeps
        the first child, as Timeloop's map does)."""
        rn = self.rn
        m = len(self.sp)
        unit = [tuple(int(a == b) for b in range(m)) for a in range(m)]
        out: dict[int, tuple[int, ...]] = {}

        def moved(src: int, k: int, own: tuple[int, ...]) -> tuple[int, ...]:
            base = out.get(src)
            if base is None:  # nothing to extrapolate from: the child's own offset
                return own
            return tuple(a + b for a, b in zip(base, unit[k]))

        def rec(k: int, lin: int, s: int, level: int, digits: tuple[int, ...]):
            j = self.sp[k]
            n = rn.trips(j, idx)
            for x in range(n):
                idx[j] = x
                here = lin * n + x
                if k + 1 < m:
                    rec(k + 1, here, 1 if x else s * n, k if x else level, digits + (x,))
                elif s == 0:  # the first row
                    out.setdefault(here, (0,) * m if x == 0 else
                                   moved(here - 1, k, digits + (x,)))
                else:
                    out.setdefault(here, moved(here - s * n, level, digits + (x,)))
            idx[j] = 0

        if m:
            rec(0, 0, 0, -1, ())
        else:
            out[0] = ()
        return list(out.items())

    def first_box(self, tensor: Tensor, idx: dict[int, int]) -> Box:
        """The first child's tile of ``tensor`` at this visit."""
        rn = self.rn
        n_above = len(self.above)
        ext = {d: self.last[d] if rn.on_last(idx, n_above, d) else self.full[d] for d in rn.dims}
        origin = {d: 0 for d in rn.dims}
        for j in self.above:
            origin[rn.loops[j].dim] += idx.get(j, 0) * rn.loops[j].step
        lo, hi = [], []
        for axis in tensor.axes:
            a = sum(k * origin[d] for k, d in axis)
            lo.append(a + sum(k * (ext[d] - 1) for k, d in axis if k < 0))
            hi.append(a + sum(k * (ext[d] - 1) for k, d in axis if k > 0))
        return tuple(lo), tuple(hi)

    def offset(self, tensor: Tensor, steps: tuple[int, ...]) -> tuple[int, ...]:
        """How far a child's tile sits from the first child's: ``steps`` of each
        spatial loop."""
        out = [0] * len(tensor.axes)
        for j, x in zip(self.sp, steps):
            if x:
                l = self.rn.loops[j]
                for a, axis in enumerate(tensor.axes):
                    out[a] += x * l.step * sum(k for k, d in axis if d == l.dim)
        return tuple(out)

    def neighbours(self, lin: int) -> list[int]:
        h = lin % self.h_size
        out = [lin - self.h_size, lin + self.h_size]
        if h > 0:
            out.append(lin - 1)
        if h + 1 < self.h_size:
            out.append(lin + 1)
        return [n for n in out if n >= 0]


def residual_link_effects(workload: Workload, arch: Architecture, mapping: Mapping,
                          rn: ResidualNest, utilized: Sequence[int]
                          ) -> dict[tuple[int, str], LinkEffect]:
    """Per (child level c, tensor) where link transfers lower the parent's words, for a
    mapping with residual loops (``rn``: its walks). ``utilized[c]``: utilized instances of
    level ``c`` (peer accesses are link words over them, as ``links.link_effects``)."""
    out: dict[tuple[int, str], LinkEffect] = {}
    n = len(arch.levels)
    for i in range(n - 1):
        if not any(l.level == i and l.spatial for l in rn.loops):
            continue
        fw = _FanoutWalk(rn, mapping, arch, i)
        if not fw.temporal:
            continue
        c = i + 1
        n_children = math.prod(rn.loops[j].factor for j in fw.sp)
        for tensor in workload.tensors:
            if tensor.read_write:
                continue
            without = with_ = links = 0
            parent_fills = Fraction(0)
            prev_box = None
            trans = None
            prev_key: tuple = ()
            prev_offs: dict[int, tuple[int, ...]] = {}
            for w, idx in fw.visits():
                cur = fw.first_box(tensor, idx)
                # The refetch rule for the first child (residual_walk.ResidualNest.refetch).
                if prev_box is None:
                    inter = None
                else:
                    t = _move(prev_box, cur)
                    inter = _intersect(cur, prev_box)
                    if fw.rn.keep_stationary and not any(t):
                        pass  # a tile that did not move keeps the history
                    elif trans is None:
                        trans = t
                    elif t != trans:
                        inter, trans = None, None
                key = delta_key(cur, inter)
                got = _size(cur) - (0 if inter is None else _size(inter))
                kids = fw.children(idx)
                offs = {lin: fw.offset(tensor, steps) for lin, steps in kids}
                if got:
                    groups = len(set(offs.values()))
                    linked = set()
                    if prev_key:
                        for lin, off in offs.items():
                            for nb in fw.neighbours(lin):
                                po = prev_offs.get(nb)
                                if po is not None and translate_key(prev_key, tuple(
                                        p - o for p, o in zip(po, off))) == key:
                                    linked.add(lin)
                                    break
                    rest = len({off for lin, off in offs.items() if lin not in linked})
                    without += w * got * groups
                    if rest < groups:
                        with_ += w * got * rest
                        links += w * got * len(linked)
                        parent_fills += Fraction(w * got * (len(offs) - len(linked)), n_children)
                    else:
                        with_ += w * got * groups
                        parent_fills += Fraction(w * got * len(offs), n_children)
                prev_box, prev_key, prev_offs = cur, key, offs
            if links and tensor.name not in mapping.levels[c].keep:
                out[c, tensor.name] = LinkEffect(0, 0, 0, 0, Fraction(with_) / parent_fills)
            elif links:
                peer = Fraction(links, utilized[c])
                out[c, tensor.name] = LinkEffect(without - with_, math.floor(parent_fills + peer),
                                                 math.floor(peer + Fraction(1, 2)), links)
    return out
