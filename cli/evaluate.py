"""``loopscape evaluate``: score one mapping and show where the energy and time go."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.costmodels import SCHEDULES, Evaluation, evaluate as evaluate_mapping
from loopscape.spaces.errors import MappingError, SpecError

from loopscape.mapper.units import ENERGY, format_edp, format_energy, format_value

from .console import console, wide_when_piped
from .model_flags import model_option_flags, options_from_flags


def load_inputs(inputs: tuple[str, ...], from_timeloop: bool):
    """(workload, arch, mapping) from ARCH WORKLOAD MAPPING or from Timeloop files."""
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
        raise SpecError(f"expected ARCH WORKLOAD MAPPING, got {len(inputs)} argument(s)",
                        fix="e.g. loopscape evaluate eyeriss_like eyeriss_default mapping.yaml, "
                            "or use --from-timeloop FILE...")
    from loopscape.spaces.presets import resolve_arch, resolve_workload, resolve_mapping
    arch = resolve_arch(inputs[0])
    workload = resolve_workload(inputs[1])
    mapping = resolve_mapping(inputs[2], workload, arch)
    return workload, arch, mapping, None


def render(result: Evaluation) -> None:
    """Print a per-level table and the totals."""
    wide_when_piped()
    total = result.energy_pj
    unit = ENERGY.unit_for([total])

    def _pj(x: float) -> str:
        return format_value(unit.scale(x))

    table = Table(title=f"{result.workload} on {result.arch}", show_lines=False)
    for col, just in (("level", "left"), ("inst", "right"), ("tensor", "left"),
                      ("tile_words", "right"), ("reads", "right"), ("fills", "right"),
                      ("updates", "right"), (ENERGY.header(unit), "right"), ("share", "right")):
        table.add_column(col, justify=just, overflow="fold")
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
        if lvl.link_energy_pj:
            table.add_row("", "", "(links)", "", "", "", "", _pj(lvl.link_energy_pj),
                          f"{100 * lvl.link_energy_pj / total:.1f}%")
        table.add_section()
    table.add_row("compute", str(result.utilized_pes), "MACs", "", f"{result.macs:,}", "", "",
                  _pj(result.compute_energy_pj),
                  f"{100 * result.compute_energy_pj / total:.1f}%")
    console.print(table)
    b = result.bounds
    console.print(
        f"energy [bold]{format_energy(total)}[/] (energy_pj {total:,.2f}, "
        f"{result.energy_per_mac_fj:,.2f} fJ/MAC)   cycles [bold]{result.cycles:,}[/]   "
        f"utilization [bold]{100 * result.utilization:.2f}%[/]   EDP {format_edp(result.edp)}")
    console.print(
        f"lower bounds: cycles {b.cycles:,} (x{result.cycles / b.cycles:.2f} above), "
        f"outermost words {b.outermost_words:,} "
        f"(x{result.outermost_words / b.outermost_words:.2f} above), energy "
        f"{format_energy(b.energy_pj)} (x{result.energy_pj / b.energy_pj:.2f} above)")
    for lvl in result.levels:
        for name, s in lvl.tensors.items():
            if s.link_transfers:
                console.print(f"{lvl.name} {name}: {s.link_transfers:,} words over inter-PE "
                              f"links per parent instance, {format_energy(s.link_energy_pj)} "
                              f"in all (the fanout parent's link energy; 0 when none given)")
    print(f"semantics {result.options.semantics}, link transfers "
          f"{'on' if result.options.link_transfers else 'off'}; "
          "per-instance access counts; energies are totals over utilized instances")


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH WORKLOAD MAPPING")
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
@model_option_flags
def evaluate(inputs: tuple[str, ...], from_timeloop: bool, as_json: bool, schedule: str,
             no_check: bool, sparsity_file: str | None, densities: tuple[str, ...],
             semantics: str, link_transfers: bool) -> None:
    """Evaluate one mapping: per-level tiles, accesses, energy; totals and lower bounds.

    ARCH and WORKLOAD are preset names or YAML files; MAPPING is a YAML file or preset.
    """
    workload, arch, mapping, sparsity = load_inputs(inputs, from_timeloop)
    from .sparse_options import resolve_sparsity
    sparsity = resolve_sparsity(sparsity, sparsity_file, densities, workload, arch)
    source = ", ".join(inputs) if from_timeloop else inputs[2]
    try:
        if no_check:
            from loopscape.spaces.mapping import check_mapping
            check_mapping(workload, arch, mapping, check_capacity=False)
        options = options_from_flags(semantics, link_transfers)
        if sparsity is not None:
            from loopscape.costmodels.sparse_eval import evaluate_sparse
            result = evaluate_sparse(workload, arch, mapping, sparsity, check=not no_check,
                                     schedule=schedule, options=options)
        else:
            result = evaluate_mapping(workload, arch, mapping, check=not no_check,
                                      schedule=schedule, options=options)
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
