"""Rich consoles shared by the commands: results to stdout, diagnostics to stderr."""

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def wide_when_piped(min_width: int = 120) -> None:
    """Use at least ``min_width`` columns when stdout is not a terminal (logs, pipes),
    so wide tables are not squeezed to rich's 80-column default."""
    if not console.is_terminal and console.width < min_width:
        console.width = min_width
