"""The ``optimal`` strategy: the exact Pareto front with a certificate (docs/optimal.md)."""

from .certificate import describe_certificate, gap_objective, mapping_of, merge
from .prepare import prepare_kernels
from .scope import check_model, refusal
from .search import OptimalSearch
from .warm import worth_warming

__all__ = ["OptimalSearch", "check_model", "describe_certificate", "gap_objective", "mapping_of",
           "merge", "prepare_kernels", "refusal", "worth_warming"]
