"""``optimal``'s bounding work as a deterministic count, in evaluation-equivalents.

An evaluation budget must bound optimal's time although it scores few mappings: each
proposal carries the work spent to produce it (``Proposal.work``), which the search
driver charges against the stream's share. The work is counted, never timed, so a
budget gives the same result on any machine. The weights are the measured CPU cost of
each counted step over the cost of one mapping scored by ``local`` (the unit;
``benchmarks/work_unit.py`` measures them; docs/search.md, "Evaluation budgets").
"""

from __future__ import annotations

import math

# CPU cost of one counted step, in units of one mapping scored by ``local``.
NODE = 10.0  # a subtree expanded (its children bounded together)
CHILD = 0.3  # a child row of an expanded subtree
BLOCK = 25.0  # a block formed (numpy calls whatever its size)
ROW = 0.15  # a completion formed, checked and bounded in a block
GROUP = 50.0  # a group of tilings through the per-tiling rules (batched calls)
TILING = 3.0  # a tiling through rules tiling_bound, keep_bound and leaf_bound
PROBE = 0.5  # a mapping scored by rule order_bound (in batches, without link transfers)
WARM = 1.0  # a mapping scored by the warm start (local)
COMBO = 0.4  # a combination of spatial profiles formed by rule P (a node's share of it)


class WorkMeter:
    """Counts optimal's steps; ``total()`` is their weighted sum, rounded down."""

    def __init__(self, probe=None) -> None:
        self.probe = probe  # its ``scored`` count is rule order_bound's probes
        self.nodes = self.children = self.blocks = self.rows = self.tilings = 0
        self.groups = self.warm = self.combos = 0

    @property
    def probes(self) -> int:
        return 0 if self.probe is None else self.probe.scored

    def expansion(self, sizes: tuple[int, ...], depth: int, block: int, workers: int,
                  shared: bool) -> None:
        """Count the next expansion of a subtree at ``depth``: a block of every completion
        (a stream's share of them when the block spans several streams' shares), or one
        node with a child per row of the next dimension."""
        remaining = math.prod(sizes[depth:])
        if remaining <= block:
            self.blocks += 1
            self.rows += -(-remaining // workers) if shared else remaining
        else:
            self.nodes += 1
            self.children += sizes[depth]

    def total(self) -> int:
        return int(NODE * self.nodes + CHILD * self.children + BLOCK * self.blocks +
                   ROW * self.rows + GROUP * self.groups + TILING * self.tilings +
                   PROBE * self.probes + WARM * self.warm + COMBO * self.combos)

    def to_dict(self) -> dict:
        return {"units": self.total(), "nodes": self.nodes, "children": self.children,
                "blocks": self.blocks, "rows": self.rows, "groups": self.groups,
                "tilings": self.tilings, "probes": self.probes, "warm": self.warm,
                "combos": self.combos}
