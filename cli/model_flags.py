"""The ``--semantics`` and ``--no-link-transfers`` options shared by evaluate, search,
sweep and eyexam (docs/semantics.md)."""

from __future__ import annotations

import click

from loopscape.costmodels.options import SEMANTICS, ModelOptions


def model_option_flags(f):
    """Add ``--semantics`` and ``--link-transfers/--no-link-transfers`` to a click command."""
    f = click.option("--link-transfers/--no-link-transfers", "link_transfers", default=False,
                     show_default=True,
                     help="Let PEs take data from mesh neighbours over links, as Timeloop "
                          "does by default (off: TIMELOOP_DISABLE_LINK_TRANSFERS=1). Exact; "
                          "a search costs about five times as much on row-stationary "
                          "spaces.")(f)
    f = click.option("--semantics", type=click.Choice(SEMANTICS), default="timeloop",
                     show_default=True,
                     help="timeloop: current Timeloop (after PR #297); timeloop-pre297: "
                          "the older refetch analysis.")(f)
    return f


def options_from_flags(semantics: str, link_transfers: bool) -> ModelOptions:
    return ModelOptions(semantics=semantics, link_transfers=link_transfers)
