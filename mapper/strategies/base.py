"""The search-strategy interface: strategies propose candidate mappings in batches and
learn from their scores (ask/tell), like optuna's samplers.

A strategy never evaluates anything itself: the driver (``loopscape.mapper.search``)
asks for a batch, scores it with the batched cost model, feeds the Pareto archive, and
tells the strategy the scores. Illegal proposals are dropped by the strategy and only
counted (``Proposal.rejected``): they never stop a search.

To plug in a strategy of your own, subclass :class:`Strategy`, give it a ``name``, and
either pass an instance to ``search(strategy=MyStrategy())`` or make it available by
name with ``loopscape.mapper.strategy.register_strategy`` (docs/search.md shows a
complete example). Strategies import only this module; the registry
(``mapper/strategy.py``) imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from loopscape.spaces.encoding import MappingBatch
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace


@dataclass
class Proposal:
    """Legal candidate mappings as arrays, with their mapspace ids when known."""

    batch: MappingBatch
    ids: list[int] | None = None
    tokens: list[Any] | None = None  # strategy-private handle per row (e.g. optuna trials)
    rejected: int = 0  # illegal proposals the strategy dropped
    # Strategy work spent to produce it, in evaluation-equivalents (a deterministic count,
    # e.g. optimal's bounding): charged against the stream's evaluation budget.
    work: int = 0

    def __len__(self) -> int:
        return len(self.batch)


@dataclass
class SearchContext:
    """What a strategy may know about the search it serves."""

    space: Mapspace
    objectives: tuple[str, ...]
    maximize: tuple[str, ...]
    seed: int
    worker: int = 0
    workers: int = 1
    budget: int | None = None  # evaluations this worker may spend, if bounded
    extra: dict = field(default_factory=dict)


class Strategy(ABC):
    """Base class of search strategies. Options are constructor keyword arguments,
    declared explicitly by each strategy (a typo is an error, never ignored)."""

    name: ClassVar[str] = ""
    #: Whether the strategy searches imperfect mapspaces (``Constraints.imperfect``):
    #: those have no factor tables (``SpaceArrays`` holds their rows as ranks).
    supports_imperfect: ClassVar[bool] = False

    def setup(self, ctx: SearchContext) -> None:
        """Called once before the first ``ask``; keep ``ctx`` and seed your RNG here."""
        if getattr(ctx.space, "imperfect", False) and not self.supports_imperfect:
            raise SpecError(f"strategy {self.name or type(self).__name__!r} does not search "
                            f"imperfect factors", key="strategy",
                            fix="use --strategy local, climb, random or exhaustive with "
                                "--imperfect (docs/mapspace.md, imperfect factors)")
        self.ctx = ctx

    @classmethod
    def prepare(cls, ctx: SearchContext) -> None:
        """One-time work of this process before a search's clock starts, such as compiling
        the strategy's kernels; ``search`` reports its seconds (``stats.prepare_seconds``)
        and does not count them in the time limit. ``ctx`` is the search's context
        without a budget or a deadline. Default: nothing."""

    @abstractmethod
    def ask(self, n: int) -> Proposal | None:
        """Up to ``n`` legal candidates, or None when the strategy has nothing left."""

    def tell(self, proposal: Proposal, values: np.ndarray) -> None:
        """Scores of the rows of ``proposal``: ``values[i, j]`` is objective j of row i
        (in the user's orientation: maximized objectives are not negated)."""
