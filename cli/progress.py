"""Live progress of a search on the terminal: evaluations, rate, best EDP so far, elapsed
and remaining time. Silent when stdout is not a terminal or with ``--quiet``; the mapper
only calls the ``ProgressCallback`` it is given."""

from __future__ import annotations

import contextlib
from typing import Iterator

from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from loopscape.mapper.search import ProgressCallback, SearchProgress

from .console import console


def shows_progress(quiet: bool) -> bool:
    """Whether a live display is wanted: a terminal and no ``--quiet``."""
    return not quiet and console.is_terminal


def describe(p: SearchProgress) -> str:
    """One line: evaluations, rate, best EDP (J*cycle)."""
    rate = p.evaluated / p.elapsed_s if p.elapsed_s > 0 else 0.0
    best = "-" if p.best_edp_j_cycles is None else f"{p.best_edp_j_cycles:.4g}"
    return f"{p.evaluated:,} evaluated, {rate:,.0f}/s, best EDP {best} J*cycle"


@contextlib.contextmanager
def search_progress(quiet: bool, label: str = "searching") -> Iterator[ProgressCallback | None]:
    """A callback that drives a rich progress bar (None when no display is wanted). The
    bar tracks the evaluation budget, else the time limit."""
    if not shows_progress(quiet):
        yield None
        return
    with Progress(BarColumn(bar_width=10), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(),
                  TextColumn("left"), console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, info="preparing (the first run after "
                            "installing compiles optimal's kernels, about 20 s)")

        def update(p: SearchProgress) -> None:
            if p.budget is not None:
                spent = p.evaluated + p.work  # optimal's bounding spends the budget too
                bar.update(task, total=p.budget, completed=min(spent, p.budget),
                           info=describe(p))
            else:
                total = p.seconds or 1.0
                bar.update(task, total=total, completed=min(p.elapsed_s, total),
                           info=describe(p))

        yield update
