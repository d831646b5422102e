"""``loopscape search``: the Pareto front of a layer on an architecture."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopscape.mapper.result_dir import write_result_dir
from loopscape.mapper.search import SearchResult, search as run_search
from loopscape.mapper.strategy import strategy_names
from loopscape.spaces.errors import SpecError

from .console import console, wide_when_piped
from .space import load_space_inputs
from .sparse_options import command_sparsity, sparsity_options


def render(result: SearchResult) -> None:
    wide_when_piped()
    s = result.stats
    table = Table(title=f"Pareto front of {result.workload} on {result.arch} "
                        f"({s.strategy}, {s.evaluated:,} legal mappings in {s.seconds:.1f} s)")
    table.add_column("#", justify="right")
    for o in result.objectives:
        table.add_column(o, justify="right")
    for col in ("energy_pj", "cycles", "edp", "utilization", "gap_cycles"):
        if col not in result.objectives:
            table.add_column(col, justify="right")
    table.add_column("mapspace id", justify="right", overflow="fold")
    for k, p in enumerate(result.front):
        m = p.evaluation
        extra = {"energy_pj": f"{m['energy_pj']:,.0f}", "cycles": f"{m['cycles']:,}",
                 "edp": f"{m['edp_j_cycles']:.4g}", "utilization": f"{100 * m['utilization']:.1f}%",
                 "gap_cycles": f"x{m['gap']['cycles_ratio']:.2f}" if "gap" in m else "-"}
        row = [str(k)] + [_fmt(p.objectives[o]) for o in result.objectives]
        row += [v for c, v in extra.items() if c not in result.objectives]
        row.append("-" if p.mapspace_id is None else str(p.mapspace_id))
        table.add_row(*row)
    console.print(table)
    console.print(f"stopped by {s.stopped_by}; {s.rejected:,} illegal proposals dropped; "
                  f"seed {s.seed}, {s.jobs} job(s)")


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH LAYER")
@click.option("--strategy", default="random", show_default=True,
              help="Search strategy (see docs/search.md).")
@click.option("--objectives", default="energy_pj,cycles", show_default=True,
              help="Comma-separated objectives: energy_pj, cycles, edp, utilization, "
                   "dram_words, accesses:LEVEL, energy:LEVEL.")
@click.option("--budget", type=int, default=None, help="Legal mappings to evaluate.")
@click.option("--time", "seconds", type=float, default=None, help="Wall-time limit in seconds.")
@click.option("--patience", type=int, default=None,
              help="Stop after this many evaluations without a change of the front.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel workers.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write DIR/front.json and one mapping YAML per front point.")
@click.option("--constraints", "constraints_file",
              help="Constraints YAML file or preset (e.g. eyeriss_like_constraints).")
@click.option("--from-timeloop", "from_timeloop", is_flag=True,
              help="Read architecture, problem and constraints from Timeloop YAML files.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@sparsity_options
def search(inputs, strategy, objectives, budget, seconds, patience, jobs, seed, out_dir,
           constraints_file, from_timeloop, as_json, sparsity_file, densities) -> None:
    """Search the mapspace; show and save the Pareto-optimal mappings.

    ARCH and LAYER are preset names or YAML files.
    """
    if strategy not in strategy_names():
        raise SpecError(f"unknown strategy {strategy!r}", key="--strategy",
                        fix=f"use one of {', '.join(strategy_names())}")
    if budget is None and seconds is None:
        raise SpecError("give --budget N (legal mappings) or --time SECONDS", key="--budget")
    workload, arch, constraints = load_space_inputs(inputs, from_timeloop, constraints_file)
    sparsity = command_sparsity(inputs, from_timeloop, sparsity_file, densities, workload, arch)
    if as_json or jobs > 1:
        result = run_search(workload, arch, constraints, strategy=strategy,
                            objectives=objectives, evaluations=budget, seconds=seconds,
                            patience=patience, jobs=jobs, seed=seed, sparsity=sparsity)
    else:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("searching", total=budget)

            def tick(n: int, front: int) -> None:
                bar.update(task, advance=n, description=f"searching (front {front})")
            result = run_search(workload, arch, constraints, strategy=strategy,
                                objectives=objectives, evaluations=budget, seconds=seconds,
                                patience=patience, jobs=jobs, seed=seed, progress=tick,
                                sparsity=sparsity)
    if out_dir:
        write_result_dir(result, Path(out_dir), workload, arch, constraints)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render(result)
        if out_dir:
            console.print(f"wrote {out_dir}/front.json and {len(result.front)} mapping file(s)")
