"""Specifications: workloads (layers), architectures, mappings, constraints, the mapspace,
and their YAML forms."""

from .arch import Architecture, ComputeLevel, StorageLevel
from .constraints import Constraints, FactorRule, LevelConstraints, restrict_constraints
from .feasibility import capacity_floor_check, validate_constraints
from .errors import LoopscapeError, MappingError, SpecError
from .mapping import LevelMapping, Loop, Mapping, check_mapping, mapping_problems, tile_box, tile_words
from .encoding import MappingBatch, decode, encode
from .loop_orders import LevelOrder
from .mapspace import Mapspace
from .arrays import Genes, SpaceArrays
from .legality import BatchLegality, pe_utilization_problems
from .proposal import ProposalEntry
from .slots import DimSpace, FactorTable, Slot
from .imperfect import ImperfectDimSpace, cover_bound, move_end, residuals_of
from .imperfect_levels import LevelImperfectDimSpace
from .imperfect_table import ImperfectTable
from .sparse_capacity import capacity_arch
from .sparsity import (ActionOptimization, Density, SparseLevelCosts, SparsitySpec,
                       TensorFormat, validate_sparsity)
from .workload import (Tensor, Workload, batched_matmul, conv2d, depthwise_conv2d, einsum,
                       fully_connected, gemm)

__all__ = [
    "Constraints", "FactorRule", "capacity_floor_check", "validate_constraints", "LevelConstraints", "MappingBatch", "Mapspace", "decode",
    "encode",
    "Architecture", "ComputeLevel", "LevelMapping", "Loop", "LoopscapeError", "Mapping",
    "MappingError", "SpecError", "StorageLevel", "Tensor", "Workload", "batched_matmul",
    "check_mapping", "conv2d", "depthwise_conv2d", "einsum", "fully_connected", "gemm",
    "mapping_problems", "restrict_constraints", "tile_box", "tile_words",
    "BatchLegality", "DimSpace", "FactorTable", "Genes", "ImperfectDimSpace", "ImperfectTable",
    "LevelImperfectDimSpace", "cover_bound", "move_end", "residuals_of", "LevelOrder", "ProposalEntry", "Slot",
    "SpaceArrays", "pe_utilization_problems",
    "ActionOptimization", "Density", "SparseLevelCosts", "SparsitySpec", "TensorFormat",
    "capacity_arch", "validate_sparsity",
]
