"""``loopscape presets``: list the built-in architectures and layers with their sources."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.spaces.presets import list_presets

from .console import console


@click.command()
@click.option("--kind", type=click.Choice(["architecture", "layer"]), default=None,
              help="Only list presets of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def presets(kind: str | None, as_json: bool) -> None:
    """List the built-in presets: name, kind, description and source.

    Use a preset's name wherever a command takes an architecture or a layer file.
    """
    items = list_presets(kind)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in items], indent=2))
        return
    table = Table(title="loopscape presets", show_lines=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("description")
    table.add_column("source")
    for p in items:
        table.add_row(p.name, p.kind, p.description, p.source)
    console.print(table)
