"""``loopscape eyexam``: a mapping's performance as seven tightening bounds (Eyexam)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from loopscape.costmodels.eyexam import EyexamReport, eyexam as run_eyexam
from loopscape.mapper.plots import image_format, plot_waterfall, require_matplotlib
from loopscape.mapper.units import format_energy
from loopscape.spaces.errors import MappingError, SpecError
from loopscape.spaces.mapping import Mapping

from .outputs import check_output_file
from .ranges import int_range
from .model_flags import model_option_flags, options_from_flags
from .sparse_options import command_sparsity, sparsity_options
from .console import console, err_console, wide_when_piped

def load_eyexam_inputs(inputs: tuple[str, ...], from_timeloop: bool,
                       constraints_file: str | None):
    """(workload, arch, mapping or None, constraints or None, mapping source)."""
    if from_timeloop:
        from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints
        if not inputs:
            raise SpecError("--from-timeloop needs at least one Timeloop YAML file",
                            fix="pass the processed input, the ERT and optionally a mapping "
                                "file, e.g. parsed-processed-input.yaml timeloop-model.ERT.yaml")
        if constraints_file:
            raise SpecError("give constraints either in the Timeloop files or with "
                            "--constraints, not both", key="--constraints")
        spec = load_timeloop(list(inputs))
        source = ", ".join(inputs)
        constraints = timeloop_constraints(spec, spec.workload, spec.arch, source=source)
        return spec.workload, spec.arch, spec.mapping, constraints, source
    if len(inputs) not in (2, 3):
        raise SpecError(f"expected ARCH WORKLOAD [MAPPING], got {len(inputs)} argument(s)",
                        fix="e.g. loopscape eyexam eyeriss_like eyeriss_default "
                            "eyeriss_default_timeloop_best, or use --from-timeloop FILE...")
    from loopscape.spaces.presets import (resolve_arch, resolve_constraints, resolve_workload,
                                          resolve_mapping)
    arch = resolve_arch(inputs[0])
    workload = resolve_workload(inputs[1])
    constraints = resolve_constraints(constraints_file, workload, arch) \
        if constraints_file else None
    mapping = resolve_mapping(inputs[2], workload, arch) if len(inputs) == 3 else None
    return workload, arch, mapping, constraints, inputs[2] if len(inputs) == 3 else None


def searched_mapping(workload, arch, constraints, budget: int, seed: int, options=None
                     ) -> tuple[Mapping, str]:
    """The lowest-cycles mapping (ties: lowest energy) of a seeded local search, and a
    sentence saying so."""
    from loopscape.mapper import search
    result = search(workload, arch, constraints, strategy="local",
                    objectives="cycles,energy_pj", evaluations=budget, seed=seed,
                    options=options)
    best = min(result.front, key=lambda p: (p.objectives["cycles"], p.objectives["energy_pj"]))
    ev = best.evaluation
    note = (f"no mapping given: using the lowest-cycles mapping (ties: lowest energy) of a "
            f"local search ({result.stats.evaluated:,} legal mappings, seed {seed}): "
            f"{ev['cycles']:,} cycles, {format_energy(ev['energy_pj'])}, {ev['utilized_pes']:,} PEs"
            + (f", mapspace id {best.mapspace_id}" if best.mapspace_id is not None else ""))
    return best.mapping, note


def mapping_lines(mapping: Mapping) -> list[str]:
    """One line per level: temporal loops (outermost first), spatial X/Y, keeps."""
    out = []
    for lm in mapping.levels:
        parts = []
        for kind, loops in (("temporal", lm.temporal), ("spatial_x", lm.spatial_x),
                            ("spatial_y", lm.spatial_y)):
            big = [f"{l.dim}{l.factor}" + (f",{l.residual}" if l.imperfect else "")
                   for l in loops if l.factor > 1]
            if big:
                parts.append(f"{kind} {' '.join(big)}")
        parts.append(f"keep {', '.join(lm.keep) if lm.keep else '-'}")
        out.append(f"  {lm.target}: {'; '.join(parts)}")
    return out


def _bound(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.4g}"


def _ratio(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _pct(x: float) -> str:
    return f"{x:.1f}%" if x >= 0.1 else f"{x:.2g}%"


def render(report: EyexamReport) -> None:
    """The seven steps as a table, then the step that loses the most."""
    wide_when_piped(160)
    table = Table(title=f"Eyexam of {report.workload} on {report.arch} "
                        f"({report.macs:,} MACs, {report.pes:,} PEs)")
    table.add_column("step", justify="right")
    table.add_column("name")
    table.add_column("bound MACs/cycle", justify="right")
    table.add_column("% of step 1", justify="right")
    table.add_column("% of previous", justify="right")
    table.add_column("cause", overflow="fold")
    first = report.steps[0].bound_macs_per_cycle
    prev = first
    for s in report.steps:
        b = s.bound_macs_per_cycle
        table.add_row(str(s.step), s.name, _bound(b), _pct(100 * b / first),
                      _pct(100 * b / prev), s.cause)
        prev = b
    console.print(table)
    summ = report.summary()
    where = ("no step leaves PEs idle" if summ["step"] is None else
             f"the array loses most at step {summ['step']} ({summ['name']}, "
             f"x{_ratio(summ['loss_ratio'])})")
    console.print(f"final bound {_bound(summ['final_macs_per_cycle'])} MACs/cycle = "
                  f"{100 * summ['final_utilization']:.2f}% of the {report.pes:,} PEs; {where}")


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH WORKLOAD [MAPPING]")
@click.option("--constraints", "constraints_file",
              help="Constraints YAML file or preset (e.g. eyeriss_like_constraints).")
@click.option("--from-timeloop", "from_timeloop", is_flag=True,
              help="Read problem, architecture, constraints (and a mapping, if any) from "
                   "Timeloop YAML files.")
@click.option("--json", "as_json", is_flag=True, help="Print the seven steps as JSON.")
@click.option("--plot", "plot_file", default=None,
              type=click.Path(dir_okay=False, writable=True),
              help="Draw a waterfall of the seven bounds to FILE (.png or .svg; needs the "
                   "plot extra).")
@click.option("--seed", type=int_range(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of the search used when no mapping is given.")
@click.option("--budget", type=int_range(1), default=20000, show_default=True,
              help="Legal mappings that search scores.")
@model_option_flags
@sparsity_options
def eyexam(inputs: tuple[str, ...], constraints_file: str | None, from_timeloop: bool,
           as_json: bool, plot_file: str | None, seed: int, budget: int, semantics: str,
           link_transfers: bool, sparsity_file: str | None = None,
           densities: tuple[str, ...] = ()) -> None:
    """Explain a mapping's performance as seven tightening bounds on MACs per cycle.

    ARCH and WORKLOAD are preset names or YAML files; MAPPING is a YAML file or preset.
    Without MAPPING, a quick seeded search picks the lowest-cycles mapping.
    """
    plot_path = None
    if plot_file is not None:
        plot_path = Path(plot_file)
        image_format(plot_path, key="--plot")
        require_matplotlib(key="--plot")
        check_output_file(plot_path, "--plot")
    if budget < 1:
        raise SpecError(f"--budget must be positive, got {budget}", key="--budget")
    workload, arch, mapping, constraints, source = load_eyexam_inputs(
        inputs, from_timeloop, constraints_file)
    options = options_from_flags(semantics, link_transfers)
    sparsity = command_sparsity(inputs, from_timeloop, sparsity_file, densities, workload, arch)
    if sparsity is not None:
        from .sparse_eyexam import run_sparse_eyexam
        return run_sparse_eyexam(workload, arch, mapping, constraints, sparsity, as_json,
                                 seed, budget)
    note = None
    if mapping is None:
        mapping, note = searched_mapping(workload, arch, constraints, budget, seed, options)
    try:
        report = run_eyexam(workload, arch, mapping, constraints, options)
    except MappingError as e:
        raise SpecError(str(e), source=source,
                        key=f"mapping.{e.level}" if e.level else "mapping") from e
    if plot_path is not None:
        plot_waterfall(report, plot_path)
    if as_json:
        if note:
            err_console.print(note, highlight=False, markup=False)
        click.echo(json.dumps({**report.to_dict(), "model": options.to_dict()}, indent=2))
        return
    render(report)
    if note:
        console.print(note, markup=False)
        for line in mapping_lines(mapping):
            console.print(line, markup=False)
    else:
        console.print(f"mapping: {source}", markup=False)
    if plot_path is not None:
        console.print(f"wrote {plot_path}", markup=False)
