"""The ``loopscape`` command: one click group, one small module per sub-command."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from loopscape.spaces.errors import LoopscapeError

from .console import err_console


class _Group(click.Group):
    """Turns loopscape's own errors (user mistakes) into one clear line, exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LoopscapeError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False,
                              markup=True, soft_wrap=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loopscape")
def cli() -> None:
    """loopscape: map-space exploration for DNN accelerators.

    Describe a workload (one layer: the `layer:` section of a YAML file) and an
    architecture; evaluate mappings with a Timeloop-compatible cost model; size and walk
    the mapspace. Architectures, workloads and mappings are YAML files (docs/formats.md)
    or built-in preset names (`loopscape presets`).
    """


def _register() -> None:
    from .evaluate import evaluate
    from .eyexam import eyexam
    from .export import export
    from .presets import presets
    from .search import search
    from .space import space
    from .sweep import sweep_cmd
    from .zoo import zoo
    cli.add_command(evaluate)
    cli.add_command(eyexam)
    cli.add_command(export)
    cli.add_command(presets)
    cli.add_command(search)
    cli.add_command(space)
    cli.add_command(sweep_cmd)
    cli.add_command(zoo)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="loopscape")


if __name__ == "__main__":  # pragma: no cover
    main()
