"""Exports of search results: mapping files for other tools, summaries, loop nests, plots.

The source is a result directory (``loopscape search --out DIR``: one layer's front) or
a sweep directory (``loopscape sweep --out DIR``: ``summary.json`` and one result
directory per unique layer shape under ``layers/``). From a result directory one front
point is exported (``point=K``, or the best by ``select``, least EDP by default); from a
sweep, the point the sweep chose for each layer (or the best by ``select``).

Formats (docs/export.md): ``yaml`` (loopscape's mapping YAML), ``timeloop`` (Timeloop's
map.yaml; ``full`` adds architecture, problem and ERT files), ``json`` and ``csv``
(per front point, or per network layer), ``maptxt`` (the loop nest as text) and
``plot`` (PNG/SVG). Every file is written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import dump_timeloop_mapping

from ..plots import plot_breakdown, plot_front
from ..units import format_energy
from ..selection import parse_select
from .files import (ExportOutput, guard, mapping_yaml, out_dir, point_note, text_out,
                    timeloop_files, timeloop_yaml, write_files)
from .maptxt import render_maptxt
from .rows import result_rows, rows_to_csv, shape_bars, sweep_rows, sweep_totals
from ..result_dir import ResultDir
from .sources import SweepDir, choose_point, open_source, sweep_choices

__all__ = ["EXPORT_FORMATS", "export"]

EXPORT_FORMATS = ("yaml", "timeloop", "json", "csv", "maptxt", "plot")


def _export_result(rd: ResultDir, fmt: str, point: int | None, select: str | None,
                   full: bool, out: str | os.PathLike | None) -> ExportOutput:
    k, how = choose_point(rd, point=point, select=select)
    mapping = rd.mappings[k]
    note = point_note(rd, k, how)
    if fmt == "yaml":
        return text_out(mapping_yaml(mapping, note), out)
    if fmt == "timeloop":
        if not full:
            doc = dump_timeloop_mapping(mapping, rd.workload, rd.arch)
            return text_out(timeloop_yaml(doc, note), out)
        d = out_dir(out, "--full")
        return ExportOutput(None, write_files(timeloop_files(rd.workload, rd.arch, mapping, note, d)))
    if fmt == "maptxt":
        return text_out(render_maptxt(rd.workload, rd.arch, mapping, note), out)
    rows = result_rows(rd, k)
    if fmt == "csv":
        return text_out(rows_to_csv(rows), out)
    if fmt == "json":
        doc = {"source": "result", "path": str(rd.path), "workload": rd.workload.name,
               "arch": rd.arch.name, "objectives": list(rd.objectives), "chosen_point": k,
               "chosen_by": how, "points": rows}
        return text_out(json.dumps(doc, indent=2) + "\n", out)
    # plot
    if out is None:
        raise SpecError("a plot needs a file", key="--out", fix="give --out FILE.png or .svg")
    points = [(e["metrics"]["energy_pj"], e["metrics"]["cycles"]) for e in rd.data["front"]]
    guard(Path(out))
    plot_front(points, k, out, f"Pareto front of {rd.workload.name} on {rd.arch.name}\n"
                               f"chosen: point {k}, {how}")
    return ExportOutput(None, (Path(out),))


def _export_sweep(sd: SweepDir, fmt: str, point: int | None, select: str | None,
                  full: bool, out: str | os.PathLike | None) -> ExportOutput:
    if point is not None:
        raise SpecError("--point picks a point of one front; a sweep has one front per layer",
                        key="--point", fix="use --select (edp, energy_pj, cycles, "
                                           "latency<=N), or export one layer's directory "
                                           f"({sd.path}/layers/KEY)")
    choices = sweep_choices(sd, select)
    how = f"best by {parse_select(select).text}" if select else \
        f"the sweep's choice by {sd.summary.get('select', 'edp')}"
    network = sd.summary.get("network", sd.path.name)
    if fmt in ("json", "csv"):
        rows = sweep_rows(sd, choices if select else None)
        if fmt == "csv":
            return text_out(rows_to_csv(rows), out)
        doc = {"source": "sweep", "path": str(sd.path), "network": network,
               "arch": sd.summary.get("arch", sd.arch.name), "chosen_by": how}
        doc.update(sweep_totals(sd, rows, select is not None))
        doc["layers"] = rows
        return text_out(json.dumps(doc, indent=2) + "\n", out)
    if fmt == "plot":
        if out is None:
            raise SpecError("a plot needs a file", key="--out", fix="give --out FILE.png or .svg")
        rows = sweep_rows(sd, choices if select else None)
        guard(Path(out))
        bars = shape_bars(rows)
        total = sum(r["energy_pj"] for r in rows)
        plot_breakdown(bars, out, f"energy per layer shape of {network} on {sd.arch.name}\n{how}",
                       f"one bar per unique layer shape ({len(bars)} shapes, {len(rows)} layers), "
                       f"in network order: the energy of every layer of that shape; the bars add "
                       f"up to the network's {format_energy(total)}")
        return ExportOutput(None, (Path(out),))
    d = out_dir(out, f"--format {fmt} of a sweep (one file per layer shape)")
    files: dict[Path, str] = {}
    for key, k in choices.items():
        rd = sd.layers[key]
        names = [e["name"] for e in sd.summary["layers"] if e["result_dir"] == key]
        note = f"{point_note(rd, k, how)}; network layers: {', '.join(names)}"
        stem = Path(key).name
        if fmt == "yaml":
            files[d / f"{stem}.yaml"] = mapping_yaml(rd.mappings[k], note)
        elif fmt == "maptxt":
            files[d / f"{stem}.map.txt"] = render_maptxt(rd.workload, rd.arch, rd.mappings[k],
                                                         note)
        elif full:
            files.update(timeloop_files(rd.workload, rd.arch, rd.mappings[k], note, d,
                                         prefix=f"{stem}.", shared=not files))
        else:
            files[d / f"{stem}.map.yaml"] = timeloop_yaml(
                dump_timeloop_mapping(rd.mappings[k], rd.workload, rd.arch), note)
    return ExportOutput(None, write_files(files))


def export(source: str | os.PathLike, fmt: str, *, point: int | None = None,
           select: str | None = None, full: bool = False,
           out: str | os.PathLike | None = None) -> ExportOutput:
    """Export a result directory or a sweep directory (told apart by ``summary.json``)
    in format ``fmt`` (one of EXPORT_FORMATS). Text formats return their text when
    ``out`` is None; otherwise, and for plots and multi-file exports, the files are
    written (atomically) and returned. See docs/export.md."""
    if fmt not in EXPORT_FORMATS:
        raise SpecError(f"unknown export format {fmt!r}", key="--format",
                        fix=f"use one of {', '.join(EXPORT_FORMATS)}")
    if full and fmt != "timeloop":
        raise SpecError("--full applies to --format timeloop only", key="--full",
                        fix="drop --full, or use --format timeloop")
    src = open_source(source)
    if isinstance(src, SweepDir):
        return _export_sweep(src, fmt, point, select, full, out)
    return _export_result(src, fmt, point, select, full, out)
