"""The ``optimal`` strategy: the exact Pareto front with a certificate (docs/optimal.md)."""

from .certificate import describe_certificate, gap_objective, mapping_of, merge
from .search import OptimalSearch

__all__ = ["OptimalSearch", "describe_certificate", "gap_objective", "mapping_of", "merge"]
