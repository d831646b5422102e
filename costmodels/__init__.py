"""Cost models: the scalar analytical evaluator (Timeloop-compatible, the reference), the
batched numpy evaluator, lower bounds, and the brute-force simulator (a test oracle)."""

from .batched import BatchEvaluator, BatchResult, evaluate_batch
from .bounds import LowerBounds, lower_bounds
from .evaluate import Evaluation, LevelStats, TensorStats, evaluate
from .eyexam import EyexamReport, EyexamStep, eyexam
from .options import SEMANTICS, ModelOptions
from .nest import SCHEDULES, NestAnalysis, TensorTraffic, analyze, refetch_words
from .simulator import simulate
from .sparse_batched import SparseBatchEvaluator
from .sparse_eval import evaluate_sparse
from .sparse_result import SparseEvaluation

__all__ = [
    "BatchEvaluator", "BatchResult", "ModelOptions", "SEMANTICS", "Evaluation", "LevelStats", "LowerBounds", "NestAnalysis",
    "SCHEDULES", "TensorStats", "TensorTraffic", "analyze", "evaluate", "evaluate_batch",
    "lower_bounds", "refetch_words", "simulate",
    "EyexamReport", "EyexamStep", "eyexam",
    "SparseBatchEvaluator", "SparseEvaluation", "evaluate_sparse",
]
