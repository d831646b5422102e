"""``--sparsity FILE`` and ``--density T=V`` for evaluate (and the sparse table)."""

from __future__ import annotations

from loopscape.spaces.sparsity import (SparsitySpec, parse_density_overrides,
                                       validate_sparsity)

from .console import console


def resolve_sparsity(base, sparsity_file, densities, workload, arch):
    """The spec to evaluate with: a file replaces the Timeloop one; --density overrides."""
    spec = base
    if sparsity_file:
        from loopscape.spaces.io.yaml_sparsity import load_sparsity
        spec = load_sparsity(sparsity_file)
    if densities:
        spec = (spec or SparsitySpec()).with_densities(parse_density_overrides(densities))
    if spec is not None:
        validate_sparsity(spec, workload, arch)
    return spec


def render_sparse(result) -> None:
    from rich.table import Table

    from .console import wide_when_piped
    wide_when_piped()
    table = Table(title=f"{result.workload} on {result.arch} (sparse)")
    for col in ("level", "tensor", "algorithmic_reads", "actual_reads", "gated_reads",
                "skipped_reads", "actual_fills", "actual_updates", "metadata_reads", "energy_pj"):
        table.add_column(col, justify="left" if col in ("level", "tensor") else "right")
    for lname, lvl in result.levels.items():
        for t, s in lvl.items():
            if isinstance(s, dict):
                table.add_row(lname, t, *(f"{s[k]:,}" for k in (
                    "algorithmic_reads", "actual_reads", "gated_reads", "skipped_reads",
                    "actual_fills", "actual_updates", "metadata_reads")), f"{s['energy_pj']:,.2f}")
    console.print(table)
    console.print(f"energy_pj [bold]{result.energy_pj:,.2f}[/]   cycles [bold]{result.cycles:,}[/]"
                  f"   computes: algorithmic {result.macs:,}, actual {result.actual_computes:,}, "
                  f"gated {result.gated_computes:,}, skipped {result.skipped_computes:,}")


def sparsity_options(fn):
    """Add --sparsity FILE|PRESET and --density TENSOR=VALUE to a command."""
    import click
    fn = click.option("--density", "densities", multiple=True, metavar="TENSOR=VALUE",
                      help="Override a tensor's density, e.g. --density Weights=0.3 "
                           "(repeatable).")(fn)
    fn = click.option("--sparsity", "sparsity_file", default=None, metavar="FILE",
                      help="Sparsity YAML file or preset (densities, formats, "
                           "gating/skipping); docs/sparsity.md.")(fn)
    return fn


def command_sparsity(inputs, from_timeloop, sparsity_file, densities, workload, arch):
    """The spec a command runs with: the Timeloop files' own (when read from Timeloop),
    replaced by --sparsity, with --density overrides; None when dense."""
    base = None
    if from_timeloop:
        from loopscape.spaces.io.timeloop import load_timeloop
        base = load_timeloop(list(inputs)).sparsity
    return resolve_sparsity(base, sparsity_file, densities, workload, arch)


def network_sparsity(sparsity_file, densities, layers, arch):
    """The sweep's spec (None when dense), checked against every layer; per-layer
    densities must name layers of the network."""
    from loopscape.spaces.errors import SpecError
    spec = None
    if sparsity_file:
        from loopscape.spaces.io.yaml_sparsity import load_sparsity
        spec = load_sparsity(sparsity_file)
    if densities:
        spec = (spec or SparsitySpec()).with_densities(parse_density_overrides(densities))
    if spec is None:
        return None
    names = {layer.name for layer in layers}
    for name, _ in spec.layer_densities:
        if name not in names:
            raise SpecError(f"per-layer densities for {name!r}, which is not a layer of the "
                            f"network", source=spec.source or None, key=f"sparsity.layers.{name}",
                            fix="use the layer names `loopscape zoo NETWORK` lists")
    for layer in layers:
        validate_sparsity(spec.for_layer(layer.name), layer.workload, arch)
    return spec
