"""The explicit size limits of specs, checked when a layer or architecture is built.

The cost models, the mapspace and the search keep counts in int64 (and factors in
int32) numpy arrays; Python integers have no bound. Every integer that ends in such an
array is range-checked here, when the spec is constructed (so the YAML loaders, the
Timeloop reader and the Python builders all check the same limits), with a SpecError
that names the key, the value and the limit. docs/limits.md derives each limit.

Where the int64 products come from:

* a dimension bound and every loop factor are held as int32 (``batch_sampling``,
  ``mapper/local``): bound <= 2**31 - 1;
* a tile's words are a product of per-axis extents ``sum |c| * (b - 1) + 1``; a whole
  tensor's words bound every tile's: tensor words <= 2**48, and total MACs (the product
  of the bounds, which bounds every access count) <= 2**48;
* tile bits = tile words x bits per word, compared with capacity bits = capacity_words
  x word_bits, and up to four tensors summed per level: 2**48 x 2**10 x 4 = 2**60 <
  2**63, so capacity_words <= 2**48 and word_bits <= 1024;
* cycles = accesses / bandwidth: bandwidth >= 2**-10 words/cycle keeps them < 2**58.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import SpecError

__all__ = ["Limit", "LIMITS", "MAX_BOUND", "MAX_COEFFICIENT", "MAX_MACS", "MAX_TENSOR_WORDS",
           "MAX_INSTANCES", "MAX_CAPACITY_WORDS", "MAX_WORD_BITS", "MAX_BLOCK_SIZE",
           "MIN_BANDWIDTH", "MAX_BANDWIDTH", "check_limit", "check_finite"]


@dataclass(frozen=True)
class Limit:
    """One documented limit: its value, how it is written, what it bounds."""

    value: int | float
    text: str
    what: str
    upper: bool = True  # an upper bound; False: a lower bound


MAX_BOUND = 2 ** 31 - 1
MAX_COEFFICIENT = 2 ** 16
MAX_MACS = 2 ** 48
MAX_TENSOR_WORDS = 2 ** 48
MAX_INSTANCES = 2 ** 24
MAX_CAPACITY_WORDS = 2 ** 48
MAX_WORD_BITS = 1024
MAX_BLOCK_SIZE = 2 ** 16
MIN_BANDWIDTH = 2.0 ** -10
MAX_BANDWIDTH = 2.0 ** 48

LIMITS: dict[str, Limit] = {
    "bound": Limit(MAX_BOUND, "2**31 - 1", "a dimension bound"),
    "coefficient": Limit(MAX_COEFFICIENT, "2**16",
                         "a stride, dilation or projection coefficient (absolute value)"),
    "macs": Limit(MAX_MACS, "2**48", "total MACs (the product of the bounds)"),
    "tensor_words": Limit(MAX_TENSOR_WORDS, "2**48", "the words of one whole tensor"),
    "instances": Limit(MAX_INSTANCES, "2**24", "instances (mesh_x * mesh_y) of a level"),
    "capacity_words": Limit(MAX_CAPACITY_WORDS, "2**48", "capacity_words of a buffer"),
    "word_bits": Limit(MAX_WORD_BITS, "1024", "bits per word"),
    "block_size": Limit(MAX_BLOCK_SIZE, "2**16", "block_size (words per vector access)"),
    "min_bandwidth": Limit(MIN_BANDWIDTH, "2**-10", "a bandwidth (words/cycle)", upper=False),
    "max_bandwidth": Limit(MAX_BANDWIDTH, "2**48", "a bandwidth (words/cycle)"),
}


def check_limit(value: int | float, name: str, *, key: str | None = None,
                source: str | None = None) -> None:
    """SpecError unless ``value`` is within the limit called ``name``."""
    lim = LIMITS[name]
    ok = value <= lim.value if lim.upper else value >= lim.value
    if ok:
        return
    relation = "exceeds the limit" if lim.upper else "is below the limit"
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    raise SpecError(f"{shown} {relation} {lim.text} on {lim.what}", source=source, key=key,
                    fix=f"use a value {'<=' if lim.upper else '>='} {lim.text} "
                        f"(docs/limits.md)")


def check_finite(value: Any, *, key: str | None = None, what: str = "value") -> None:
    """SpecError for NaN or an infinity (a number that no count can be made of)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{what} must be a finite number, got {value}", key=key,
                        fix="write a finite number (docs/limits.md)")
