"""``loopscape evaluate``: score one mapping and show where the energy and time go."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.costmodels import SCHEDULES, Evaluation, evaluate as evaluate_mapping
from loopscape.spaces.errors import MappingError, SpecError

from .console import console, wide_when_piped


def load_inputs(inputs: tuple[str, ...], from_timeloop: bool):
    """(workload, arch, mapping) from ARCH LAYER MAPPING or from Timeloop files."""
    if from_timeloop:
        from loopscape.spaces.io.timeloop import load_timeloop
        if not inputs:
            raise SpecError("--from-timeloop needs at least one Timeloop YAML file",
                            fix="pass the processed input and the ERT, e.g. "
                                "parsed-processed-input.yaml timeloop-model.ERT.yaml")
        spec = load_timeloop(list(inputs))
        if spec.mapping is None:
            raise SpecError("the Timeloop files hold no mapping", source=", ".join(inputs),
                            key="mapping", fix="add the mapping file (e.g. timeloop-mapper.map.yaml)")
        return spec.workload, spec.arch, spec.mapping, spec.sparsity
    if len(inputs) != 3:
        raise SpecError(f"expected ARCH LAYER MAPPING, got {len(inputs)} argument(s)",
                        fix="e.g. loopscape evaluate eyeriss_like eyeriss_default mapping.yaml, "
                            "or use --from-timeloop FILE...")
    from loopscape.spaces.presets import resolve_arch, resolve_layer, resolve_mapping
    arch = resolve_arch(inputs[0])
    workload = resolve_layer(inputs[1])
    mapping = resolve_mapping(inputs[2], workload, arch)
    return workload, arch, mapping, None


def _pj(x: float) -> str:
    return f"{x:,.1f}" if abs(x) < 1000 else f"{x:,.0f}"


def render(result: Evaluation) -> None:
    """Print a per-level table and the totals."""
    wide_when_piped()
    table = Table(title=f"{result.workload} on {result.arch}", show_lines=False)
    for col, just in (("level", "left"), ("inst", "right"), ("tensor", "left"),
                      ("tile_words", "right"), ("reads", "right"), ("fills", "right"),
                      ("updates", "right"), ("energy_pj", "right"), ("share", "right")):
        table.add_column(col, justify=just, overflow="fold")
    total = result.energy_pj
    for lvl in result.levels:
        first = True
        if not lvl.tensors:
            table.add_row(lvl.name, str(lvl.utilized_instances), "-", "", "", "", "",
                          _pj(lvl.energy_pj), f"{100 * lvl.energy_pj / total:.1f}%")
            continue
        for name, s in lvl.tensors.items():
            table.add_row(lvl.name if first else "", str(lvl.utilized_instances) if first else "",
                          name, f"{s.tile_words:,}", f"{s.reads:,}", f"{s.fills:,}",
                          f"{s.updates:,}", _pj(s.energy_pj),
                          f"{100 * s.energy_pj / total:.1f}%")
            first = False
        if lvl.leak_energy_pj:
            table.add_row("", "", "(leak)", "", "", "", "", _pj(lvl.leak_energy_pj),
                          f"{100 * lvl.leak_energy_pj / total:.1f}%")
        table.add_section()
    table.add_row("compute", str(result.utilized_pes), "MACs", "", f"{result.macs:,}", "", "",
                  _pj(result.compute_energy_pj),
                  f"{100 * result.compute_energy_pj / total:.1f}%")
    console.print(table)
    b = result.bounds
    console.print(
        f"energy_pj [bold]{result.energy_pj:,.2f}[/]  ({result.energy_per_mac_fj:,.2f} fJ/MAC)   "
        f"cycles [bold]{result.cycles:,}[/]   utilization [bold]{100 * result.utilization:.2f}%"
        f"[/]   EDP {result.edp:.4g} J*cycle")
    console.print(
        f"lower bounds: cycles {b.cycles:,} (x{result.cycles / b.cycles:.2f} above), "
        f"outermost words {b.outermost_words:,} "
        f"(x{result.outermost_words / b.outermost_words:.2f} above), energy_pj "
        f"{b.energy_pj:,.1f} (x{result.energy_pj / b.energy_pj:.2f} above)")
    print("per-instance access counts; energies are totals over utilized instances")


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH LAYER MAPPING")
@click.option("--from-timeloop", "from_timeloop", is_flag=True,
              help="Read Timeloop YAML files (processed input, ERT, optional mapping) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="timeloop", show_default=True,
              help="Visit schedule of the refetch analysis (docs/semantics.md).")
@click.option("--no-check", is_flag=True,
              help="Evaluate even if tiles overflow a buffer (other legality checks stay).")
@click.option("--sparsity", "sparsity_file", default=None, metavar="FILE",
              help="Sparsity YAML (densities, formats, gating/skipping); docs/sparsity.md.")
@click.option("--density", "densities", multiple=True, metavar="TENSOR=VALUE",
              help="Override a tensor's density, e.g. --density Weights=0.3 (repeatable).")
def evaluate(inputs: tuple[str, ...], from_timeloop: bool, as_json: bool, schedule: str,
             no_check: bool, sparsity_file: str | None, densities: tuple[str, ...]) -> None:
    """Evaluate one mapping: per-level tiles, accesses, energy; totals and lower bounds.

    ARCH and LAYER are preset names or YAML files; MAPPING is a YAML file or preset.
    """
    workload, arch, mapping, sparsity = load_inputs(inputs, from_timeloop)
    from .sparse_options import resolve_sparsity
    sparsity = resolve_sparsity(sparsity, sparsity_file, densities, workload, arch)
    source = ", ".join(inputs) if from_timeloop else inputs[2]
    try:
        if no_check:
            from loopscape.spaces.mapping import check_mapping
            check_mapping(workload, arch, mapping, check_capacity=False)
        if sparsity is not None:
            from loopscape.costmodels.sparse_eval import evaluate_sparse
            result = evaluate_sparse(workload, arch, mapping, sparsity, check=not no_check,
                                     schedule=schedule)
        else:
            result = evaluate_mapping(workload, arch, mapping, check=not no_check,
                                      schedule=schedule)
    except MappingError as e:
        raise SpecError(str(e), source=source,
                        key=f"mapping.{e.level}" if e.level else "mapping",
                        fix="or pass --no-check to evaluate an overflowing mapping anyway"
                        if "bits" in str(e) else None) from e
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif sparsity is not None and not hasattr(result, "bounds"):
        from .sparse_options import render_sparse
        render_sparse(result)
    else:
        render(result)
