"""``loopscape eyexam --sparsity/--density``: the dense seven-step Eyexam of the mapping
(when its tiles fit uncompressed) followed by what sparsity changes: the computes that
remain, the cycles and energy under Sparseloop semantics, and the effective MACs per
cycle (algorithmic MACs over sparse cycles)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.mapper.units import ENERGY, column
from loopscape.spaces.errors import MappingError

from .console import console, wide_when_piped
from .eyexam_view import render
from .quick_search import searched_mapping


def sparse_summary(workload, arch, mapping, sparsity) -> dict:
    from loopscape.costmodels import evaluate
    from loopscape.costmodels.sparse_eval import evaluate_sparse
    sp = evaluate_sparse(workload, arch, mapping, sparsity)
    try:
        dense = evaluate(workload, arch, mapping)
    except MappingError:
        dense = None  # the tiles fit only compressed
    out = {"algorithmic_computes": sp.macs, "actual_computes": sp.actual_computes,
           "gated_computes": sp.gated_computes, "skipped_computes": sp.skipped_computes,
           "cycles": sp.cycles, "energy_pj": sp.energy_pj,
           "effective_macs_per_cycle": sp.macs / sp.cycles,
           "peak_macs_per_cycle": arch.compute.instances,
           "dense_cycles": None if dense is None else dense.cycles,
           "dense_energy_pj": None if dense is None else dense.energy_pj}
    return out


def run_sparse_eyexam(workload, arch, mapping, constraints, sparsity, as_json: bool,
                      seed: int, budget: int) -> None:
    from loopscape.costmodels.eyexam import eyexam as run_eyexam
    note = None
    if mapping is None:
        mapping, note = searched_mapping(workload, arch, constraints, budget, seed,
                                         sparsity=sparsity)
    try:
        report = run_eyexam(workload, arch, mapping, constraints)
    except MappingError:
        report = None
    sparse = sparse_summary(workload, arch, mapping, sparsity)
    if as_json:
        click.echo(json.dumps({"dense": None if report is None else report.to_dict(),
                               "sparse": sparse}, indent=2))
        return
    if report is not None:
        render(report)
    else:
        console.print("dense Eyexam skipped: the mapping's tiles fit only compressed")
    wide_when_piped()
    t = Table(title="with sparsity (Sparseloop semantics)")
    s = sparse
    energies = [s["energy_pj"]] + ([] if s["dense_energy_pj"] is None else [s["dense_energy_pj"]])
    energy_header, energy_cells = column(ENERGY, energies)
    unit = energy_header[energy_header.index("("):]  # one unit for both energy columns
    for col in ("algorithmic MACs", "actual", "gated", "skipped", "cycles", "dense cycles",
                "MACs/cycle (effective)", f"energy {unit}", f"dense energy {unit}"):
        t.add_column(col, justify="right")
    t.add_row(f"{s['algorithmic_computes']:,}", f"{s['actual_computes']:,}",
              f"{s['gated_computes']:,}", f"{s['skipped_computes']:,}", f"{s['cycles']:,}",
              "-" if s["dense_cycles"] is None else f"{s['dense_cycles']:,}",
              f"{s['effective_macs_per_cycle']:,.1f} of {s['peak_macs_per_cycle']:,}",
              energy_cells[0], "-" if s["dense_energy_pj"] is None else energy_cells[1])
    console.print(t)
    if note:
        console.print(note, markup=False)
