"""``loopscape search``: the Pareto front of a workload on an architecture."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from loopscape.mapper.result_dir import write_result_dir
from loopscape.mapper.search import STREAMS, SearchResult, search as run_search
from loopscape.mapper.strategy import strategy_names
from loopscape.mapper.strategies.auto import describe
from loopscape.mapper.units import CYCLES, EDP, ENERGY, column
from loopscape.spaces.errors import SpecError

from .ranges import float_range, int_range
from .console import console, err_console, wide_when_piped
from .outputs import check_output_dir, write_or_rescue
from .progress import search_progress
from .model_flags import model_option_flags, options_from_flags
from .space import imperfect_option, load_space_inputs
from .sparse_options import command_sparsity, sparsity_options


PREPARE_NOTE_S = 1.0  # a strategy's preparation worth a line (compiling, not loading)


def render(result: SearchResult) -> None:
    wide_when_piped()
    s = result.stats
    table = Table(title=f"Pareto front of {result.workload} on {result.arch} "
                        f"({s.strategy}, {s.evaluated:,} legal mappings in {s.seconds:.1f} s)")
    table.add_column("#", justify="right")
    columns = [_column(o, [p.objectives[o] for p in result.front]) for o in result.objectives]
    metrics = [p.evaluation for p in result.front]
    for col, key in (("energy_pj", "energy_pj"), ("cycles", "cycles"), ("edp", "edp_j_cycles")):
        if col not in result.objectives:
            columns.append(_column(col, [m[key] for m in metrics]))
    if "utilization" not in result.objectives:
        columns.append(("utilization", [f"{100 * m['utilization']:.1f}%" for m in metrics]))
    columns.append(("gap_cycles", [f"x{m['gap']['cycles_ratio']:.2f}" if "gap" in m else "-"
                                   for m in metrics]))
    for header, _ in columns:
        table.add_column(header, justify="right")
    table.add_column("mapspace id", justify="right", overflow="fold")
    for k, p in enumerate(result.front):
        table.add_row(str(k), *[cells[k] for _, cells in columns],
                      "-" if p.mapspace_id is None else str(p.mapspace_id))
    console.print(table)
    work = f"; bounding work {s.work:,} evaluation-equivalents" if s.work else ""
    console.print(f"stopped by {s.stopped_by}; {s.rejected:,} illegal proposals dropped"
                  f"{work}; "
                  f"seed {s.seed}, {s.jobs} job(s); semantics {result.options.semantics}, "
                  f"link transfers {'on' if result.options.link_transfers else 'off'}")
    if s.prepare_seconds >= PREPARE_NOTE_S:
        console.print(f"prepared in {s.prepare_seconds:.1f} s before the clock started "
                      f"(optimal's kernels compiled: only the first run after installing)",
                      highlight=False)
    if s.optimal is not None:
        console.print(describe(s.optimal, s.gap, s.certificate), highlight=False)


def _column(objective: str, values: list[float]) -> tuple[str, list[str]]:
    """A header naming the unit and the cells of one objective's column."""
    quantity = {"energy_pj": ENERGY, "cycles": CYCLES, "edp": EDP}.get(objective)
    if quantity is None and objective.startswith("energy:"):
        header, cells = column(ENERGY, values)
        return f"{objective} ({header.split('(')[1]}", cells
    if quantity is not None:
        return column(quantity, values)
    if objective == "utilization":
        return objective, [f"{100 * v:.1f}%" for v in values]
    return objective, [f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}" for v in values]


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH WORKLOAD")
@click.option("--strategy", default="auto", show_default=True,
              help="Search strategy (docs/strategies.md): auto runs local, then optimal "
                   "warm-started from it, and prints what it proved.")
@click.option("--objectives", default="energy_pj,cycles", show_default=True,
              help="Comma-separated objectives: energy_pj, cycles, edp, utilization, "
                   "dram_words, accesses:LEVEL, energy:LEVEL.")
@click.option("--budget", type=int_range(1), default=None,
              help="Legal mappings to evaluate.")
@click.option("--time", "seconds", type=float_range(0, 1e7, min_open=True),
              default=None, help="Wall-time limit in seconds.")
@click.option("--patience", type=int_range(1), default=None,
              help="Stop a stream after this many evaluations without a change of its front.")
@click.option("--jobs", type=int_range(1, STREAMS), default=1, show_default=True,
              help=f"Worker processes that run the {STREAMS} search streams; the result does "
                   f"not depend on it.")
@click.option("--seed", type=int_range(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of every random choice; with --budget, the same seed gives the same "
                   "front for any --jobs.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write DIR/front.json and one mapping YAML per front point.")
@click.option("--constraints", "constraints_file",
              help="Constraints YAML file or preset (e.g. eyeriss_like_constraints).")
@click.option("--from-timeloop", "from_timeloop", is_flag=True,
              help="Read architecture, problem and constraints from Timeloop YAML files.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True,
              help="No live progress display (it is off anyway when stdout is not a terminal).")
@imperfect_option
@model_option_flags
@sparsity_options
def search(inputs, strategy, objectives, budget, seconds, patience, jobs, seed, out_dir,
           constraints_file, from_timeloop, as_json, quiet, imperfect, semantics,
           link_transfers, sparsity_file, densities) -> None:
    """Search the mapspace; show and save the Pareto-optimal mappings.

    ARCH and WORKLOAD are preset names or YAML files.
    """
    if strategy not in strategy_names():
        raise SpecError(f"unknown strategy {strategy!r}", key="--strategy",
                        fix=f"use one of {', '.join(strategy_names())}")
    if budget is None and seconds is None:
        raise SpecError("give --budget N (legal mappings) or --time SECONDS", key="--budget")
    if out_dir:
        check_output_dir(out_dir)
    workload, arch, constraints = load_space_inputs(inputs, from_timeloop, constraints_file,
                                                    imperfect)
    sparsity = command_sparsity(inputs, from_timeloop, sparsity_file, densities, workload, arch)
    options = options_from_flags(semantics, link_transfers)
    with search_progress(quiet or as_json) as progress:
        result = run_search(workload, arch, constraints, strategy=strategy,
                            objectives=objectives, evaluations=budget, seconds=seconds,
                            patience=patience, jobs=jobs, seed=seed, progress=progress,
                            options=options, sparsity=sparsity)
    if out_dir:
        out_dir = write_or_rescue(
            lambda d: write_result_dir(result, d, workload, arch, constraints), Path(out_dir),
            "search", lambda msg: err_console.print(f"[yellow]warning:[/] {msg}"))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render(result)
        if out_dir:
            console.print(f"wrote {out_dir}/front.json and {len(result.front)} mapping file(s)")
