"""Search: strategies (ask/tell), the Pareto archive, objectives, the search driver, and
network sweeps."""

from .objectives import MAXIMIZED, objective_values, objective_values_scalar, parse_objectives
from .pareto import ParetoArchive, ParetoPoint, hypervolume, nondominated_mask
from .search import (STREAMS, FrontPoint, ProgressCallback, SearchProgress, SearchResult,
                     SearchStats, search)
from .result_dir import ResultDir, read_result_dir, write_result_dir
from .selection import SelectRule, parse_select, select_points
from .bottlenecks import bottlenecks
from .sweep import LayerFront, SweepResult, SweepSettings, network_layers, sweep
from .export import (EXPORT_FORMATS, ExportOutput, SweepDir, choose_point, export,
                     read_sweep_dir, render_maptxt, result_rows, rows_to_csv, sweep_choices,
                     sweep_rows)
from .plots import plot_breakdown, plot_front, plot_waterfall
from .units import format_cycles, format_edp, format_energy
from .strategy import (Proposal, SearchContext, Strategy, make_strategy, register_strategy,
                       strategy_names)

__all__ = [
    "FrontPoint", "LayerFront", "MAXIMIZED", "ParetoArchive", "ParetoPoint", "Proposal", "ResultDir", "SearchContext",
    "ProgressCallback", "STREAMS", "SearchProgress", "SearchResult", "SearchStats", "SelectRule", "Strategy", "SweepResult", "SweepSettings", "hypervolume", "make_strategy", "network_layers", "parse_select",
    "nondominated_mask", "objective_values", "objective_values_scalar", "parse_objectives", "read_result_dir",
    "register_strategy", "search", "select_points", "strategy_names", "sweep", "write_result_dir",
    "EXPORT_FORMATS", "ExportOutput", "SweepDir", "choose_point", "export", "read_sweep_dir",
    "render_maptxt", "result_rows", "rows_to_csv", "sweep_choices", "sweep_rows",
    "bottlenecks",
    "format_cycles", "format_edp", "format_energy", "plot_breakdown", "plot_front",
    "plot_waterfall",
]
