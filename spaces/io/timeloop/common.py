"""What the Timeloop reader's modules share: the result type and small helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...arch import Architecture
from ...mapping import Mapping
from ...workload import Workload

__all__ = ["RANGE_RE", "TimeloopSpec", "is_empty"]


@dataclass(frozen=True)
class TimeloopSpec:
    """What a set of Timeloop files describes, as loopscape objects.

    ``mapping`` is None when the files hold no mapping (a mapper input without its
    ``map.yaml``). ``constraints`` keeps the raw ``architecture_constraints`` and
    ``mapspace_constraints`` targets in one list (``{"targets": [...]}``), or None when
    the files have neither; they are not interpreted yet.
    """

    workload: Workload
    arch: Architecture
    mapping: Mapping | None
    constraints: dict | None
    sources: tuple[str, ...]
    sparsity: object = None  # SparsitySpec from densities / sparse_optimizations, or None



def is_empty(value: Any) -> bool:
    """None, [] or {}: Timeloop treats such a key as absent."""
    return value is None or value == [] or value == {}


# ``GlobalBuffer[1..16]``: a component name with an instance range.
RANGE_RE = re.compile(r"^(?P<base>.*?)\[(?P<lo>-?\d+)\.\.(?P<hi>-?\d+)\]$")
