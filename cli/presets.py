"""``loopscape presets``: list the built-in architectures, layers and mappings with their sources."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.spaces.presets import list_presets

from .console import console, wide_when_piped


@click.command()
@click.option("--kind", type=click.Choice(["architecture", "layer", "mapping", "constraints", "sparsity"]), default=None,
              help="Only list presets of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def presets(kind: str | None, as_json: bool) -> None:
    """List the built-in presets: name, kind, description and source.

    Use a preset's name wherever a command takes an architecture, layer or mapping file.
    The full sources are in `--json` and in the preset files' headers (docs/presets.md).
    """
    items = list_presets(kind)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in items], indent=2))
        return
    wide_when_piped()
    table = Table(title="loopscape presets", show_lines=False)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("description")
    table.add_column("source")
    for p in items:
        description = p.description
        if p.kind == "mapping":
            description += f" [dim](maps {p.layer} on {p.architecture})[/]"
        elif p.kind in ("constraints", "sparsity"):
            description += f" [dim](for {p.architecture})[/]"
        source = p.source if len(p.source) <= 70 else p.source[:67] + "..."
        table.add_row(p.name, p.kind, description, source)
    console.print(table)
