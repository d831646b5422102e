"""The built-in search strategies, one module each (the interface: ``base.py``; the
registry by name: ``mapper/strategy.py``)."""

from .auto import AutoSearch
from .base import Proposal, SearchContext, Strategy
from .bayesian import BayesianSearch
from .climb import ClimbSearch
from .exhaustive import ExhaustiveSearch
from .local import LocalSearch
from .moves import Moves
from .optimal import OptimalSearch
from .random_search import RandomSearch

BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (RandomSearch, ExhaustiveSearch, LocalSearch,
                                                  BayesianSearch, OptimalSearch, ClimbSearch,
                                                  AutoSearch)

__all__ = ["AutoSearch", "BUILTIN_STRATEGIES", "BayesianSearch", "ClimbSearch", "ExhaustiveSearch", "LocalSearch",
           "Moves", "OptimalSearch", "Proposal", "RandomSearch", "SearchContext", "Strategy"]
