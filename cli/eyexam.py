"""``loopscape eyexam``: a mapping's performance as seven tightening bounds (Eyexam)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from loopscape.costmodels.eyexam import eyexam as run_eyexam
from loopscape.mapper.plots import image_format, plot_waterfall, require_matplotlib
from loopscape.spaces.errors import MappingError, SpecError

from .outputs import check_output_file
from .ranges import int_range
from .model_flags import model_option_flags, options_from_flags
from .sparse_options import command_sparsity, sparsity_options
from .console import console, err_console
from .quick_search import searched_mapping
from .sparse_eyexam import run_sparse_eyexam
from .eyexam_view import mapping_lines, render

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
