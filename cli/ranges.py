"""Range-checked numeric option types that fail like every other user mistake: one line
``error: --OPTION: ...`` with a fix, exit status 2 (click's own range types print a usage
block instead)."""

from __future__ import annotations

import click

from loopscape.spaces.errors import SpecError

__all__ = ["int_range", "float_range"]


class _Ranged(click.ParamType):
    def __init__(self, inner: click.ParamType, text: str):
        self.inner = inner
        self.name = inner.name
        self.text = text

    def convert(self, value, param, ctx):
        try:
            return self.inner.convert(value, param, ctx)
        except click.BadParameter:
            name = param.opts[0] if param is not None and param.opts else "value"
            raise SpecError(f"{value!r} is not {self.text}", key=name,
                            fix=f"give {name} {self.text}") from None

    def get_metavar(self, param, *args, **kwargs):  # e.g. INTEGER RANGE in --help
        return self.inner.get_metavar(param, *args, **kwargs)


def _describe(lo, hi, lo_open=False) -> str:
    lo, hi = (f"{x:g}" if isinstance(x, float) else x for x in (lo, hi))
    if hi is None:
        return f"a number {'>' if lo_open else '>='} {lo}"
    return f"a number in [{lo}, {hi}]" if not lo_open else f"a number in ({lo}, {hi}]"


def int_range(minimum: int, maximum: int | None = None) -> click.ParamType:
    """An integer option in [minimum, maximum]."""
    return _Ranged(click.IntRange(min=minimum, max=maximum),
                   "an integer " + _describe(minimum, maximum).removeprefix("a number "))


def float_range(minimum: float, maximum: float | None = None, *,
                min_open: bool = False) -> click.ParamType:
    """A number option in [minimum, maximum] (or (minimum, maximum] with ``min_open``)."""
    return _Ranged(click.FloatRange(min=minimum, max=maximum, min_open=min_open),
                   _describe(minimum, maximum, min_open))
