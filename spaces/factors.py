"""Integer factors: the one place the mapspace, constraints, search and Eyexam get the
divisors of a loop bound from."""

from __future__ import annotations

import math


def divisors(n: int) -> list[int]:
    """The positive divisors of ``n`` (n >= 1), ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))
