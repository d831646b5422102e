"""Search strategies by name: the interface (``strategies/base.py``, re-exported here) and
the registry. The built-in strategies (``mapper/strategies/``) are listed explicitly;
:func:`register_strategy` adds your own (docs/search.md shows a complete example).
"""

from __future__ import annotations

from typing import Any

from loopscape.spaces.errors import SpecError

from .strategies import BUILTIN_STRATEGIES
from .strategies.base import Proposal, SearchContext, Strategy

__all__ = ["Proposal", "SearchContext", "Strategy", "make_strategy", "register_strategy",
           "strategy_names"]

_REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in BUILTIN_STRATEGIES}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make ``cls`` available by its ``name`` (usable as a class decorator)."""
    if not cls.name:
        raise SpecError(f"strategy class {cls.__name__} has no name", key="strategy")
    _REGISTRY[cls.name] = cls
    return cls


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def make_strategy(spec: str | Strategy, **options: Any) -> Strategy:
    """A strategy instance from a name (with options) or an instance (used as is)."""
    if isinstance(spec, Strategy):
        if options:
            raise SpecError("options are given to the strategy's constructor, not to search",
                            key="strategy")
        return spec
    cls = _REGISTRY.get(spec)
    if cls is None:
        raise SpecError(f"unknown strategy {spec!r}", key="strategy",
                        fix=f"use one of {', '.join(sorted(_REGISTRY))}, or register your own")
    try:
        return cls(**options)
    except TypeError as e:
        raise SpecError(f"bad option for strategy {spec!r}: {e}", key="strategy") from None
