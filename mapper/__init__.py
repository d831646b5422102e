"""Search: strategies (ask/tell), the Pareto archive, objectives, and the search driver."""

from .objectives import MAXIMIZED, objective_values, objective_values_scalar, parse_objectives
from .pareto import ParetoArchive, ParetoPoint, hypervolume, nondominated_mask
from .search import FrontPoint, SearchResult, SearchStats, search
from .result_dir import ResultDir, read_result_dir, write_result_dir
from .strategy import (Proposal, SearchContext, Strategy, make_strategy, register_strategy,
                       strategy_names)

__all__ = [
    "FrontPoint", "MAXIMIZED", "ParetoArchive", "ParetoPoint", "Proposal", "ResultDir", "SearchContext",
    "SearchResult", "SearchStats", "Strategy", "hypervolume", "make_strategy",
    "nondominated_mask", "objective_values", "objective_values_scalar", "parse_objectives", "read_result_dir",
    "register_strategy", "search", "strategy_names", "write_result_dir",
]
