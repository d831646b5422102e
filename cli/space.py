"""``loopscape space``: how big the mapspace of a workload on an architecture is."""

from __future__ import annotations

import dataclasses
import json
import time

import click
from rich.table import Table

from loopscape.spaces.constraints import NO_CONSTRAINTS, Constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace

from .ranges import int_range
from .console import console, wide_when_piped


imperfect_option = click.option(
    "--imperfect", is_flag=True,
    help="Allow imperfect factors: loop ends up to the bound, residuals determined "
         "(docs/mapspace.md#imperfect-factors).")


def with_imperfect(constraints: Constraints | None, imperfect: bool) -> Constraints | None:
    """``constraints`` with factorizations that may use residual loops, when asked."""
    if not imperfect:
        return constraints
    return dataclasses.replace(constraints or NO_CONSTRAINTS, imperfect=True)


def load_space_inputs(inputs: tuple[str, ...], from_timeloop: bool, constraints_file: str | None,
                      imperfect: bool = False):
    """(workload, arch, constraints) from ARCH WORKLOAD [--constraints] or Timeloop files."""
    w, a, c = _load_space_inputs(inputs, from_timeloop, constraints_file)
    return w, a, with_imperfect(c, imperfect)


def _load_space_inputs(inputs: tuple[str, ...], from_timeloop: bool,
                       constraints_file: str | None):
    if from_timeloop:
        from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints
        if not inputs:
            raise SpecError("--from-timeloop needs at least one Timeloop YAML file",
                            fix="pass the processed input (and ERT) of the case")
        spec = load_timeloop(list(inputs))
        constraints = timeloop_constraints(spec, spec.workload, spec.arch,
                                           source=", ".join(inputs))
        if constraints_file:
            raise SpecError("give constraints either in the Timeloop files or with "
                            "--constraints, not both", key="--constraints")
        return spec.workload, spec.arch, constraints
    if len(inputs) != 2:
        raise SpecError(f"expected ARCH WORKLOAD, got {len(inputs)} argument(s)",
                        fix="e.g. loopscape space eyeriss_like resnet50_conv2_x_3x3")
    from loopscape.spaces.presets import resolve_arch, resolve_workload
    arch = resolve_arch(inputs[0])
    workload = resolve_workload(inputs[1])
    constraints = None
    if constraints_file:
        from loopscape.spaces.presets import resolve_constraints
        constraints = resolve_constraints(constraints_file, workload, arch)
    return workload, arch, constraints


@click.command()
@click.argument("inputs", nargs=-1, metavar="ARCH WORKLOAD")
@click.option("--constraints", "constraints_file",
              help="Constraints YAML file or preset (docs/formats.md#constraints).")
@click.option("--from-timeloop", "from_timeloop", is_flag=True,
              help="Read architecture, problem and constraints from Timeloop YAML files.")
@click.option("--samples", type=int_range(0, 10**8), default=2000,
              show_default=True,
              help="Uniform draws used to estimate the legal fraction (0: skip the estimate).")
@click.option("--seed", type=int_range(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of those draws.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@imperfect_option
def space(inputs: tuple[str, ...], constraints_file: str | None, from_timeloop: bool,
          samples: int, seed: int, as_json: bool, imperfect: bool) -> None:
    """Size of the mapspace: sub-spaces, total, pruned total, legal fraction of ids.

    ARCH and WORKLOAD are preset names or YAML files.
    """
    workload, arch, constraints = load_space_inputs(inputs, from_timeloop, constraints_file,
                                                    imperfect)
    ms = Mapspace(workload, arch, constraints)
    t0 = time.perf_counter()
    sizes = ms.sizes()
    fraction = ms.legal_fraction(samples, seed) if samples > 0 else None
    elapsed = time.perf_counter() - t0
    out = {"workload": workload.name, "arch": arch.name, "imperfect": ms.imperfect,
           "sizes": sizes,
           "legal_fraction_estimate": fraction, "legal_fraction_samples": samples,
           "legal_fraction_seed": seed, "seconds": round(elapsed, 3)}
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    wide_when_piped()
    table = Table(title=f"mapspace of {workload.name} on {arch.name}"
                  + (" (imperfect factors)" if ms.imperfect else ""))
    table.add_column("sub-space")
    table.add_column("size", justify="right")
    table.add_column("what it counts")
    rows = [
        ("index factorization", sizes["index_factorization"],
         "ordered factor splits per dimension (Timeloop's count)"),
        ("  with spatial axes", sizes["factorization_with_axes"],
         "splits within each fanout, with the X/Y axis of each spatial factor"),
        ("loop permutation", sizes["loop_permutation"], "temporal loop orders per level"),
        ("bypass", sizes["bypass"], "keep/bypass choices per level and tensor"),
        ("total", sizes["total"], "ids: the product of the three above"),
        ("pruned", sizes["pruned"], "after folding the positions of unit-factor loops"),
    ]
    for name, value, what in rows:
        table.add_row(name, f"{value:,} ({value:.3g})" if value >= 1e6 else f"{value:,}", what)
    console.print(table)
    if fraction is not None:
        console.print(f"legal fraction (fanout and capacity): {100 * fraction:.2f}% of "
                      f"{samples:,} ids drawn uniformly (seed {seed})")
