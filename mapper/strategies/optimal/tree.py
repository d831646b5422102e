"""The subtree walk of ``optimal``: counting a subtree's canonical mappings, expanding a
node (rules subtree_bound, J, K and P on its children), the heap keys and the open list,
as methods of the search (docs/optimal.md, "How it searches"). ``_block`` (search.py)
takes over when a subtree is small enough to form whole.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .unique import unique_rows


class SubtreeWalk:
    """Mixed into OptimalSearch: needs ``bd``, ``joint``, ``capacity``, ``profiles``,
    ``perm``, ``sizes``, ``split``, ``sig``, ``heap``, ``stack``, ``removed``, ``illegal``
    and the search's bound helpers (``_lb_vec``, ``_dominated``, ``_block``)."""

    # -- counting ------------------------------------------------------------------------
    def _signatures(self, di: int) -> dict[tuple[int, ...], int]:
        nu = self.bd.dims[di].nonunit.astype(np.int64)  # [rows, L] 0/1
        firsts, inv = unique_rows(nu)
        counts = np.bincount(inv, minlength=len(firsts))
        return {tuple(int(v) for v in nu[i]): int(c) for i, c in zip(firsts, counts)}

    def _count(self, depth: int, state: tuple[int, ...]) -> int:
        """Canonical mappings in a subtree: every completion of the dimensions from
        ``depth`` on, with ``state`` non-unit free loops per level so far."""
        if depth == self.D:
            return math.prod(math.factorial(s) for s in state) * self.B
        return sum(c * self.count(depth + 1, tuple(a + b for a, b in zip(state, k)))
                   for k, c in self.sig[depth].items())

    # -- the walk ------------------------------------------------------------------------
    def _expand(self) -> None:
        from_heap = not self.stack
        node = heapq.heappop(self.heap)[2] if from_heap else self.stack.pop()
        depth, rows, pos, neg, sp, fi, state = node[:7]
        bd = self.bd
        remaining = math.prod(self.sizes[depth:])
        if remaining <= self.block:
            self._block(depth, rows, pos, neg, sp, fi)
            return
        if self.spatial_profiles and node[9] is None:
            done, node = self._profile(node, from_heap)
            if done:
                return
        f = bd.dims[self.perm[depth]]
        cpos = pos[None] * f.pos
        cneg = neg[None] * f.neg
        csp = np.stack([sp[0][None] * f.sx, sp[1][None] * f.sy], axis=1)  # [R, 2, L]
        alive = (csp[:, 0] <= bd.fx).all(axis=1) & (csp[:, 1] <= bd.fy).all(axis=1)
        _, rn = bd.relaxed_over(self.perm[depth + 1:])
        rp = self.joint.relaxed(self.perm[depth + 1:], csp[:, 0], csp[:, 1])  # rule J
        # Compound extents from the assigned dimensions (unassigned ones: extent 1).
        # B7 on the reduced tiling (unassigned dimensions' factors 1: runs.py).
        fixed = {self.perm[k]: r for k, r in enumerate(rows)}
        fixed[self.perm[depth]] = np.arange(len(f.pos))
        ctem, cext = bd.partial_tiling(fixed, len(f.pos))
        ce = bd.tiling_extents(ctem, cext)
        cycles = cpos[:, 0] * rp[:, 0]  # rule B1 (rule J's floor included)
        # rules J and K: the chains priced with the rows that fit their keepers
        energy = self.capacity.bound(self.perm[depth + 1:], cpos, cneg, rp, rn[None],
                                     cext, ce)
        # B1 with the fanout: the unassigned dimensions' spatial factors fit in what the
        # assigned ones leave of each level's fanout, so their temporal product is at
        # least their bounds' product over that room.
        room = (bd.fx[None] // np.maximum(csp[:, 0], 1)).prod(axis=1) * \
            (bd.fy[None] // np.maximum(csp[:, 1], 1)).prod(axis=1)
        rest = float(math.prod(self.st.bounds[di] for di in self.perm[depth + 1:]))
        cycles = np.maximum(cycles, np.ceil(cpos[:, 0] * rest / np.maximum(room, 1)))
        lb = self._lb_vec(energy, cycles)
        floors = np.full(len(lb), node[8])
        if node[9] is not None:  # rule P's bounds per profile of this dimension's rows
            gfloor, glb, gdom, gempty = node[9]
            g = self.profiles.group[self.perm[depth]]
            alive &= ~gempty[g]  # no completion of such a row fits the fanout
            lb = np.where(gempty[g][:, None], lb, np.maximum(lb, glb[g]))
            floors = np.where(gempty[g], floors, np.maximum(floors, gfloor[g]))
        pruned = alive & self._dominated(lb)
        if node[9] is not None:
            pruned |= alive & gdom[g]
        child_fi = fi * self.sizes[depth]
        nu = f.nonunit.astype(np.int64)
        new = []
        for r in range(len(f.pos)):
            if depth + 1 == self.split and \
                    (child_fi + r) % self.ctx.workers != self.ctx.worker:
                continue  # another stream's share
            cstate = tuple(a + b for a, b in zip(state, nu[r]))
            # Above the split a subtree spans several streams' shares: it is kept, and
            # each stream removes (and counts) only its own share below.
            shared = depth + 1 < self.split and self.ctx.workers > 1
            if not shared and (not alive[r] or pruned[r]):
                n = self.count(depth + 1, cstate)
                if not alive[r]:
                    self.illegal["fanout"] += n
                else:
                    self.removed["subtree_bound"] += n
                continue
            new.append((depth + 1, rows + (r,), cpos[r], cneg[r], csp[r], child_fi + r,
                        cstate, lb[r], float(floors[r]), None))
        self._push(new)

    def _keys(self, lb: np.ndarray) -> np.ndarray:
        """The gap objective's lower bounds (EDP in pJ x cycles, or the first objective)
        of objective bounds ``lb`` [N, n_objectives]."""
        objs = self.ctx.objectives
        if "energy_pj" in objs and "cycles" in objs:
            return lb[:, objs.index("energy_pj")] * lb[:, objs.index("cycles")]
        return lb[:, 0]

    def _key(self, node) -> float:
        """A node's heap key: its gap objective's bound, at least its floor (rule P)."""
        return max(float(self._keys(node[7][None])[0]), node[8])

    def _profile(self, node, from_heap: bool) -> tuple[bool, tuple]:
        """Rule P on a node about to be expanded: its bound per spatial profile of the
        unassigned dimensions. True when the node is done with here: removed (every
        profile's bound dominated, or none fits the fanout) or pushed back with its
        tighter key; with the node, tightened (its children inherit the floor)."""
        depth, rows, pos, neg, sp, fi, state = node[:7]
        fixed = {self.perm[k]: r for k, r in enumerate(rows)}
        tem, ext = self.bd.partial_tiling(fixed, 1)
        before = self.profiles.counted
        got = self.profiles.bound(self.perm[depth:], pos, neg, sp[0], sp[1],
                                  self.bd.tiling_extents(tem, ext), fixed)
        self.meter.combos += self.profiles.counted - before  # the work budget's count
        if got is None:
            return False, node
        energy, cycles, first = got
        shared = depth < self.split and self.ctx.workers > 1
        if not len(energy):
            if shared:
                return False, node
            self.illegal["fanout"] += self.count(depth, state)
            return True, node
        lbs = self._lb_vec(energy, cycles)
        dom = self._dominated(lbs)
        if not shared and dom.all():
            self.removed["subtree_bound"] += self.count(depth, state)
            return True, node
        # Per profile of the next dimension's rows (the children): the least bounds of
        # the combinations with that profile, and whether all of them are dominated.
        keys = self._keys(lbs)
        G = len(self.profiles.keys[self.perm[depth]])
        gfloor = np.full(G, np.inf)
        np.minimum.at(gfloor, first, keys)
        glb = np.full((G, lbs.shape[1]), np.inf)
        np.minimum.at(glb, first, lbs)
        gdom = np.ones(G, dtype=bool)
        np.logical_and.at(gdom, first, dom)
        gempty = ~np.isin(np.arange(G), first)
        tight = node[:7] + (np.maximum(node[7], lbs.min(axis=0)),
                            max(node[8], float(keys.min())), (gfloor, glb, gdom, gempty))
        if from_heap and self._key(tight) > self._key(node) * (1 + 1e-9):
            self._push([tight])  # expanded when its tighter key comes up
            return True, tight
        return False, tight

    def _push(self, nodes: list) -> None:
        if self.stack or len(self.heap) + len(nodes) > self.max_open:
            self.stack.extend(reversed(nodes))
            return
        for node in nodes:
            self.seq += 1
            heapq.heappush(self.heap, (self._key(node), self.seq, node))
