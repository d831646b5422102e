"""``loopscape export``: mapping files for other tools, summaries, loop nests and plots
from a search result directory or a sweep directory."""

from __future__ import annotations

import click

from loopscape.mapper.export import EXPORT_FORMATS, export as run_export

from .console import console


@click.command()
@click.argument("result", metavar="RESULT")
@click.option("--format", "fmt", required=True, metavar="|".join(EXPORT_FORMATS),
              help="yaml: loopscape mapping; timeloop: Timeloop map.yaml (--full: also arch, "
                   "problem, ERT); json/csv: summaries; maptxt: the loop nest; plot: PNG/SVG.")
@click.option("--point", type=int, default=None,
              help="Front point to export (result directory; 0-based, as in front.json).")
@click.option("--select", default=None,
              help="Pick the point by edp (default), energy_pj, cycles or 'latency<=N'.")
@click.option("--full", is_flag=True,
              help="With --format timeloop: also write arch.yaml, problem.yaml, ERT.yaml.")
@click.option("--out", default=None, metavar="PATH",
              help="File (or directory for multi-file exports); text goes to stdout without it.")
def export(result: str, fmt: str, point: int | None, select: str | None, full: bool,
           out: str | None) -> None:
    """Export RESULT (a `search --out` or `sweep --out` directory) for other tools.

    See docs/export.md for every format and file.
    """
    output = run_export(result, fmt.strip().lower(), point=point, select=select, full=full,
                        out=out)
    if output.text is not None:
        click.echo(output.text, nl=False)
        return
    files = output.files
    if len(files) == 1:
        console.print(f"wrote {files[0]}")
    else:
        shown = ", ".join(f.name for f in files[:4]) + (", ..." if len(files) > 4 else "")
        console.print(f"wrote {len(files)} files to {files[0].parent} ({shown})")
