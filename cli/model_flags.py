"""The ``--semantics``, ``--no-link-transfers`` and ``--residual-cycles`` options shared by evaluate, search,
sweep and eyexam (docs/semantics.md)."""

from __future__ import annotations

import click

from loopscape.costmodels.options import RESIDUAL_CYCLES, SEMANTICS, ModelOptions


def _remember(ctx: click.Context, _param, value):
    ctx.meta["loopscape.residual_cycles"] = value
    return value


def model_option_flags(f):
    """Add ``--semantics`` and ``--link-transfers/--no-link-transfers`` to a click command."""
    f = click.option("--link-transfers/--no-link-transfers", "link_transfers", default=True,
                     show_default=True,
                     help="Let PEs take data from mesh neighbours over links, as Timeloop "
                          "does by default; --no-link-transfers is Timeloop's "
                          "TIMELOOP_DISABLE_LINK_TRANSFERS=1.")(f)
    f = click.option("--semantics", type=click.Choice(SEMANTICS), default="timeloop",
                     show_default=True,
                     help="timeloop: current Timeloop (after PR #297); timeloop-pre297: "
                          "the older refetch analysis.")(f)
    f = click.option("--residual-cycles", type=click.Choice(RESIDUAL_CYCLES),
                     default="timeloop", show_default=True, expose_value=False,
                     callback=_remember,
                     help="Mappings with residual loops: timeloop counts cycles as the "
                          "product of all temporal loop factors, as Timeloop does; exact "
                          "counts the cycles the busiest PE runs.")(f)
    return f


def options_from_flags(semantics: str, link_transfers: bool) -> ModelOptions:
    ctx = click.get_current_context(silent=True)
    cycles = ctx.meta.get("loopscape.residual_cycles", "timeloop") if ctx else "timeloop"
    return ModelOptions(semantics=semantics, link_transfers=link_transfers,
                        residual_cycles=cycles)
