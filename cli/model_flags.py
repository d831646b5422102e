"""The ``--semantics`` and ``--no-link-transfers`` options shared by evaluate, search,
sweep and eyexam (docs/semantics.md)."""

from __future__ import annotations

import click

from loopscape.costmodels.options import SEMANTICS, ModelOptions


def model_option_flags(f):
    """Add ``--semantics`` and ``--no-link-transfers`` to a click command."""
    f = click.option("--no-link-transfers", "no_link_transfers", is_flag=True,
                     help="No inter-PE link transfers (Timeloop's "
                          "TIMELOOP_DISABLE_LINK_TRANSFERS=1); currently always the case: "
                          "link transfers are not modelled yet.")(f)
    f = click.option("--semantics", type=click.Choice(SEMANTICS), default="timeloop",
                     show_default=True,
                     help="timeloop: current Timeloop (after PR #297); timeloop-pre297: "
                          "the older refetch analysis.")(f)
    return f


def options_from_flags(semantics: str, no_link_transfers: bool) -> ModelOptions:
    return ModelOptions(semantics=semantics)
