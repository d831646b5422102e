"""Search strategies by name: the interface (``strategies/base.py``, re-exported here) and
the registry. The built-in strategies (``mapper/strategies/``) are listed explicitly;
:func:`register_strategy` adds your own (docs/search.md shows a complete example).
"""

from __future__ import annotations

import time
from typing import Any

from loopscape.spaces.errors import SpecError

from .strategies import BUILTIN_STRATEGIES
from .strategies.base import Proposal, SearchContext, Strategy

__all__ = ["Proposal", "SearchContext", "Strategy", "make_strategy", "prepare_strategy",
           "register_strategy", "strategy_names"]

_REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in BUILTIN_STRATEGIES}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make ``cls`` available by its ``name`` (usable as a class decorator)."""
    if not cls.name:
        raise SpecError(f"strategy class {cls.__name__} has no name", key="strategy")
    _REGISTRY[cls.name] = cls
    return cls


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def _strategy_class(spec: str) -> type[Strategy]:
    cls = _REGISTRY.get(spec)
    if cls is None:
        raise SpecError(f"unknown strategy {spec!r}", key="strategy",
                        fix=f"use one of {', '.join(sorted(_REGISTRY))}, or register your own")
    return cls


def prepare_strategy(spec: str | Strategy, ctx: SearchContext) -> float:
    """Run the strategy's one-time ``prepare`` (e.g. compiling its kernels) for the
    search of ``ctx``; the seconds it took."""
    cls = type(spec) if isinstance(spec, Strategy) else _strategy_class(spec)
    start = time.perf_counter()
    cls.prepare(ctx)
    return time.perf_counter() - start


def make_strategy(spec: str | Strategy, **options: Any) -> Strategy:
    """A strategy instance from a name (with options) or an instance (used as is)."""
    if isinstance(spec, Strategy):
        if options:
            raise SpecError("options are given to the strategy's constructor, not to search",
                            key="strategy")
        return spec
    cls = _strategy_class(spec)
    try:
        return cls(**options)
    except TypeError as e:
        raise SpecError(f"bad option for strategy {spec!r}: {e}", key="strategy") from None
