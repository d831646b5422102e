"""The built-in search strategies, one module each (the interface: ``base.py``; the
registry by name: ``mapper/strategy.py``)."""

from .base import Proposal, SearchContext, Strategy
from .bayesian import BayesianSearch
from .exhaustive import ExhaustiveSearch
from .local import LocalSearch
from .random_search import RandomSearch

BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (RandomSearch, ExhaustiveSearch, LocalSearch,
                                                  BayesianSearch)

__all__ = ["BUILTIN_STRATEGIES", "BayesianSearch", "ExhaustiveSearch", "LocalSearch",
           "Proposal", "RandomSearch", "SearchContext", "Strategy"]
