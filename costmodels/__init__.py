"""Cost models: the scalar analytical evaluator (Timeloop-compatible) and lower bounds."""

from .bounds import LowerBounds, lower_bounds
from .evaluate import Evaluation, LevelStats, TensorStats, evaluate
from .nest import SCHEDULES, NestAnalysis, TensorTraffic, analyze, refetch_words

__all__ = [
    "Evaluation", "LevelStats", "LowerBounds", "NestAnalysis", "SCHEDULES", "TensorStats",
    "TensorTraffic", "analyze", "evaluate", "lower_bounds", "refetch_words",
]
