"""Setup tables that depend only on the mapspace and the link-transfer setting: the
space's structure, the bounder, rule J's joint floor, the order tables and the tree's
branching order. The
streams of one process search the same space object (they run interleaved, docs/
search.md), so they build these once: on layers with large dimensions that costs seconds
per stream. The tables are read-only after construction (their caches fill with values
that depend on their arguments alone), and are dropped with the space.
"""

from __future__ import annotations

import weakref

from loopscape.spaces.mapspace import Mapspace

from .bounds import Bounder
from .joint import JointFloor
from .leaves import LeafBound
from .orders import OrderTables
from .structure import SpaceStructure, structure
from .tree_order import branching_order

_TABLES: "weakref.WeakKeyDictionary[Mapspace, dict]" = weakref.WeakKeyDictionary()


def space_tables(space: Mapspace, links: bool
                 ) -> tuple[SpaceStructure, Bounder, JointFloor, OrderTables, tuple[int, ...]]:
    """(structure, bounder, joint floor, order tables, branching order) of ``space``,
    built once per space object and link setting."""
    per = _TABLES.setdefault(space, {})
    if links not in per:
        st = structure(space)
        bd = Bounder(space.workload, space.arch, st, links=links)
        joint = JointFloor(bd)
        per[links] = (st, bd, joint, OrderTables(space.workload, space.arch, st),
                      tuple(branching_order(joint, st.dim_sizes)))
    return per[links]


def space_leaf_bound(space: Mapspace, links: bool) -> LeafBound:
    """Rule leaf_bound's order classes and pattern registry for ``space`` (leaves.py),
    shared likewise by the streams of a process: they depend on the space alone, and
    the streams meet many of the same patterns of non-unit loops."""
    per = _TABLES.setdefault(space, {})
    key = (links, "leaf")
    if key not in per:
        st, bd, _, orders, _ = space_tables(space, links)
        per[key] = LeafBound(bd, orders.keep_sets, len(space.workload.tensors))
    return per[key]
