"""``loopscape sweep``: search every layer of a network and total the network."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table

from loopscape.mapper.strategy import strategy_names
from loopscape.mapper.units import (CYCLES, ENERGY, column, format_cycles, format_edp,
                                    format_energy)
from loopscape.mapper.sweep import LayerFront, SweepResult, SweepSettings, network_layers, sweep
from loopscape.spaces.errors import SpecError

from .space import imperfect_option, with_imperfect
from .ranges import float_range, int_range
from .model_flags import model_option_flags, options_from_flags
from .sparse_options import sparsity_options
from .console import console, err_console, wide_when_piped
from .network_options import network_options, pop_network_options
from .outputs import check_output_dir


@contextlib.contextmanager
def _dask_client(scheduler: str | None, local_workers: int | None):
    """An active Dask client for joblib's Dask backend (None when neither option is set)."""
    if scheduler is None and local_workers is None:
        yield None
        return
    if scheduler is not None and local_workers is not None:
        raise SpecError("give --scheduler or --dask-local, not both", key="--scheduler")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SpecError("Dask is not installed", key="--scheduler",
                        fix="pip install 'loopscape[dask]'") from None
    if local_workers is not None:
        if local_workers < 1:
            raise SpecError(f"--dask-local needs at least 1 worker, got {local_workers}",
                            key="--dask-local")
        with LocalCluster(n_workers=local_workers, threads_per_worker=1,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as e:
        raise SpecError(f"cannot reach the Dask scheduler: {e}", key="--scheduler",
                        fix="check the address (e.g. tcp://host:8786) and that "
                            "`dask scheduler` runs there") from None
    with client:
        yield client


def _best_text(lf: LayerFront) -> str:
    p = min(lf.data["front"], key=lambda p: p["metrics"]["edp_j_cycles"])["metrics"]
    more = f" (+{len(lf.names) - 1} of this shape)" if len(lf.names) > 1 else ""
    how = "resumed" if lf.resumed else f"{lf.data['stats']['seconds']:.1f} s"
    proof = _proof_text(lf.data["stats"])
    how += {"-": "", "yes": ", optimal"}.get(proof, f", optimal: {proof}")
    return (f"{lf.names[0]}{more}: least EDP {format_edp(p['edp_j_cycles'])} = "
            f"{format_energy(p['energy_pj'])} x {format_cycles(p['cycles'])}, "
            f"{100 * p['utilization']:.0f}% of PEs [{how}]")


def _proof_text(search: dict) -> str:
    """What the layer's search proved: "yes" (certified optimal), its proven gap, "no"
    (nothing proven: e.g. a sparse layer under auto) or "-" (a heuristic strategy)."""
    if search.get("optimal") is None:
        return "-"
    if search["optimal"]:
        return "yes"
    return "no" if search.get("gap") is None else f"gap {_percent(search['gap'])}"


def _percent(share: float) -> str:
    return f"{100 * share:.3g}%" if share < 10 else f"{100 * share:,.0f}%"


def _exam_text(summary: dict | None) -> str:
    if summary is None or summary["step"] is None:
        return "-"
    return f"{summary['step']} {summary['name']} x{summary['loss_ratio']:.3g}"


def render_bottlenecks(s: dict) -> None:
    """Where the time goes: cycles per binding Eyexam step, energy per level."""
    b = s["bottlenecks"]
    parts = [f"step {g['step']} {g['name']} {100 * g['cycles_share']:.1f}% ({g['layers']} layers)"
             if g["step"] is not None else
             f"no loss {100 * g['cycles_share']:.1f}% ({g['layers']} layers)"
             for g in b["by_step"]]
    console.print(f"cycles by binding Eyexam step: {'; '.join(parts)}; bandwidth-bound "
                  f"(steps 6-7): {100 * b['bandwidth_cycles_share']:.1f}%", highlight=False)
    total = sum(s["energy_breakdown_pj"].values())
    levels = sorted(s["energy_breakdown_pj"].items(), key=lambda kv: -kv[1])
    console.print("energy by level: " + ", ".join(
        f"{name} {100 * v / total:.1f}%" for name, v in levels), highlight=False)


def render(result: SweepResult) -> None:
    wide_when_piped()
    s = result.summary
    run = s["run"]
    table = Table(title=f"{escape(s['network'])} on {s['arch']}: one mapping per layer by "
                        f"{s['select']} ({s['unique_shapes']} unique shapes, "
                        f"{run['searched']} searched, {run['resumed']} resumed, "
                        f"{run['seconds']:.1f} s)")
    seen: dict[str, int] = {}
    rows = []
    for e in s["layers"]:
        if e["shape_key"] in seen:
            rows[seen[e["shape_key"]]][2] += 1
            continue
        seen[e["shape_key"]] = len(rows)
        rows.append([e["index"], e["name"], 1, e])
    entries = [e for *_, e in rows] + [s]
    energy_h, energy = column(ENERGY, [e["energy_pj"] for e in entries])
    cycles_h, cycles = column(CYCLES, [e["cycles"] for e in entries])
    for col in ("#", "layer", "x", "MACs", energy_h, cycles_h, "utilization", "pJ/MAC",
                "optimal", "most lost (Eyexam)"):
        table.add_column(col, justify="left" if col in ("layer", "most lost (Eyexam)")
                         else "right")
    for k, (index, name, count, e) in enumerate(rows):
        table.add_row(str(index), name, str(count), f"{e['macs']:,}", energy[k], cycles[k],
                      f"{100 * e['utilization']:.1f}%", f"{e['energy_pj'] / e['macs']:.2f}",
                      _proof_text(s["searches"][e["shape_key"]]), _exam_text(e["eyexam"]))
    table.add_section()
    table.add_row("", "network (every layer)", str(len(s["layers"])), f"{s['macs']:,}",
                  energy[-1], cycles[-1], f"{100 * s['utilization']:.1f}%",
                  f"{s['energy_pj'] / s['macs']:.2f}", "", "")
    console.print(table)
    console.print(f"network: {format_energy(s['energy_pj'])}, {format_cycles(s['cycles'])}, "
                  f"EDP {format_edp(s['edp_j_cycles'])}, {s['macs'] / 1e9:.3f} G MACs")
    proofs = [v for v in s["searches"].values() if v.get("optimal") is not None]
    if proofs:
        gaps = [v["gap"] for v in proofs if not v["optimal"] and v.get("gap") is not None]
        console.print(f"certified optimal: {sum(bool(v['optimal']) for v in proofs)} of "
                      f"{len(s['searches'])} unique shapes"
                      + (f"; largest proven gap {_percent(max(gaps))}" if gaps else ""),
                      highlight=False)
    render_bottlenecks(s)


@click.command()
@click.argument("network")
@click.option("--arch", "arch_name", required=True, help="Architecture YAML file or preset.")
@click.option("--constraints", "constraints_file",
              help="Constraints YAML file or preset, applied to every layer.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output directory (resumable: a rerun skips finished layers).")
@click.option("--strategy", default="auto", show_default=True,
              help="Search strategy per layer (docs/strategies.md): auto runs local, then optimal "
                   "warm-started from it; the summary says which layers are certified.")
@click.option("--objectives", default="energy_pj,cycles", show_default=True,
              help="Objectives of each layer's Pareto front.")
@click.option("--budget", type=int_range(1), default=None,
              help="Legal mappings to evaluate per layer [default: 100000 unless --time].")
@click.option("--time", "seconds", type=float_range(0, 1e7, min_open=True),
              default=None, help="Wall-time limit per layer.")
@click.option("--patience", type=int_range(1), default=None,
              help="Stop a layer's search after this many evaluations without a front change.")
@click.option("--seed", type=int_range(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of every layer's search.")
@click.option("--select", default="edp", show_default=True,
              help="Mapping chosen per layer: edp, energy_pj, cycles, or 'latency<=CYCLES' "
                   "(least network energy within a network latency budget).")
@click.option("--jobs", type=int_range(1, 1024), default=1, show_default=True,
              help="Layers searched in parallel (local processes).")
@click.option("--scheduler", default=None, help="Run on the Dask cluster at this address.")
@click.option("--dask-local", "dask_local", type=int_range(1, 1024), default=None,
              help="Start a local Dask cluster with N workers and run on it.")
@click.option("--fresh", is_flag=True, help="Discard earlier results in --out and start over.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress display and no per-layer lines (only the final table).")
@imperfect_option
@model_option_flags
@sparsity_options
@network_options
def sweep_cmd(network, arch_name, constraints_file, out_dir, strategy, objectives, budget,
              seconds, patience, seed, select, jobs, scheduler, dask_local, fresh,
              as_json, quiet, imperfect, semantics, link_transfers, sparsity_file, densities,
              **kwargs) -> None:
    """Search every unique layer of NETWORK (a zoo name or an .onnx file) on an
    architecture and total the network; writes OUT/summary.json. Decoder LLMs take
    --phase, --seq, --context, --batch, --blocks, --expert-tokens (docs/zoo.md)."""
    options = pop_network_options(kwargs)
    if strategy not in strategy_names():
        raise SpecError(f"unknown strategy {strategy!r}", key="--strategy",
                        fix=f"use one of {', '.join(strategy_names())}")
    from loopscape.spaces.presets import resolve_arch, resolve_constraints
    check_output_dir(out_dir)
    arch = resolve_arch(arch_name)
    constraints = resolve_constraints(constraints_file, None, arch) if constraints_file else None
    constraints = with_imperfect(constraints, imperfect)
    name, layers, unsupported = network_layers(network, **options)
    if unsupported:
        err_console.print(f"[yellow]note:[/] {len(unsupported)} node(s) not imported: "
                          + ", ".join(f"{n} ({op})" for n, op in unsupported), highlight=False)
    from .sparse_options import network_sparsity
    sparsity = network_sparsity(sparsity_file, densities, layers, arch)
    if budget is None and seconds is None:
        budget = 100_000
    settings = SweepSettings(strategy=strategy, objectives=tuple(objectives.split(",")),
                             evaluations=budget, seconds=seconds, patience=patience, seed=seed,
                             model=options_from_flags(semantics, link_transfers))
    with _dask_client(scheduler, dask_local) as client:
        backend = "dask" if client is not None else None
        if as_json or quiet:
            result = sweep(layers, arch, constraints, network=name, settings=settings,
                           select=select, out=out_dir, jobs=jobs, backend=backend, fresh=fresh,
                           sparsity=sparsity)
        else:
            with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                          transient=True) as bar:
                task = bar.add_task("layers", total=None)

                def tick(done: int, total: int, lf: LayerFront) -> None:
                    bar.update(task, completed=done, total=total,
                               description=f"layers of {name}")
                    bar.console.print(_best_text(lf), highlight=False)
                result = sweep(layers, arch, constraints, network=name, settings=settings,
                               select=select, out=out_dir, jobs=jobs, backend=backend,
                               fresh=fresh, progress=tick, sparsity=sparsity)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
    else:
        render(result)
        console.print(f"wrote {Path(out_dir) / 'summary.json'} and "
                      f"{result.summary['unique_shapes']} layer result directories")


sweep_cmd.name = "sweep"
