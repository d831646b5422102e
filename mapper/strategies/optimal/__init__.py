"""The ``optimal`` strategy: the exact Pareto front with a certificate (docs/optimal.md)."""

from .certificate import describe_certificate, gap_objective, mapping_of, merge
from .scope import check_model, refusal
from .search import OptimalSearch
from .warm import worth_warming

__all__ = ["OptimalSearch", "check_model", "describe_certificate", "gap_objective", "mapping_of",
           "merge", "refusal", "worth_warming"]
