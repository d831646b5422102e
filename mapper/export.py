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

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import (dump_mapping, dump_timeloop_arch, dump_timeloop_ert,
                                 dump_timeloop_mapping, dump_timeloop_problem, to_yaml,
                                 write_atomic)
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.workload import Workload

from .export_plot import plot_breakdown, plot_front
from .maptxt import render_maptxt
from .result_dir import FRONT_FILE, ResultDir, read_result_dir
from .selection import parse_select, select_points
from .sweep import SUMMARY_FILE

__all__ = ["EXPORT_FORMATS", "ExportOutput", "SweepDir", "choose_point", "export",
           "read_sweep_dir", "result_rows", "rows_to_csv", "sweep_choices", "sweep_rows"]

EXPORT_FORMATS = ("yaml", "timeloop", "json", "csv", "maptxt", "plot")
# Files of a result or sweep directory that an export must never overwrite.
_PROTECTED = re.compile(r"^(front\.json|summary\.json|sweep\.json|layer\.yaml|arch\.yaml|"
                        r"constraints\.yaml|mapping_\d+\.yaml)$")


@dataclass(frozen=True)
class SweepDir:
    """A sweep directory read back: ``summary.json`` and each layer's result directory
    (keyed by the summary's ``result_dir``, e.g. ``layers/3f2a...``)."""

    path: Path
    summary: dict
    layers: dict[str, ResultDir]

    def result(self, entry: dict) -> ResultDir:
        """The result directory of one ``summary["layers"]`` entry."""
        return self.layers[entry["result_dir"]]

    @property
    def arch(self) -> Architecture:
        return next(iter(self.layers.values())).arch


@dataclass(frozen=True)
class ExportOutput:
    """What an export produced: ``text`` for standard output (when no ``out`` was given)
    or the ``files`` written."""

    text: str | None
    files: tuple[Path, ...]


# ----------------------------------------------------------------------------------
# Reading sources
# ----------------------------------------------------------------------------------

def read_sweep_dir(path: str | os.PathLike) -> SweepDir:
    """Load ``summary.json`` and every layer result directory it names."""
    p = Path(path)
    sfile = p / SUMMARY_FILE
    try:
        summary = json.loads(sfile.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError("not a sweep directory (no summary.json)", source=str(p),
                        fix="pass the --out DIR of `loopscape sweep`") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"broken JSON: {e}", source=str(sfile),
                        fix="rerun the sweep that wrote it") from None
    layers = summary.get("layers") if isinstance(summary, dict) else None
    if not isinstance(layers, list) or not layers:
        raise SpecError("summary.json lists no layers", source=str(sfile), key="layers",
                        fix="rerun the sweep that wrote it")
    dirs: dict[str, ResultDir] = {}
    for i, entry in enumerate(layers):
        missing = [k for k in ("index", "name", "result_dir", "front_index") if k not in entry]
        if missing:
            raise SpecError(f"layer entry without {', '.join(missing)}", source=str(sfile),
                            key=f"layers[{i}]", fix="rerun the sweep that wrote it")
        rd = entry["result_dir"]
        if rd not in dirs:
            dirs[rd] = read_result_dir(p / rd)
        if not 0 <= entry["front_index"] < len(dirs[rd].mappings):
            raise SpecError(f"front_index {entry['front_index']} is not a point of "
                            f"{rd}/front.json ({len(dirs[rd].mappings)} points)",
                            source=str(sfile), key=f"layers[{i}].front_index",
                            fix="rerun the sweep that wrote it")
    return SweepDir(p, summary, dirs)


def _open(path: str | os.PathLike) -> ResultDir | SweepDir:
    p = Path(path)
    if not p.exists():
        raise SpecError("no such directory", source=str(p),
                        fix="pass the --out DIR of `loopscape search` or `loopscape sweep`")
    if (p / SUMMARY_FILE).is_file():
        return read_sweep_dir(p)
    if (p / FRONT_FILE).is_file():
        return read_result_dir(p)
    raise SpecError("not a result directory (no front.json) nor a sweep directory (no "
                    "summary.json)", source=str(p),
                    fix="pass the --out DIR of `loopscape search` or `loopscape sweep`")


# ----------------------------------------------------------------------------------
# Choosing points
# ----------------------------------------------------------------------------------

def choose_point(rd: ResultDir, *, point: int | None = None,
                 select: str | None = None) -> tuple[int, str]:
    """(index, how it was chosen) of the front point to export: ``point`` itself, or the
    best by ``select`` (``edp`` default, ``energy_pj``, ``cycles``, ``latency<=N``: the
    least energy within N cycles)."""
    n = len(rd.data.get("front", []))
    if n == 0:
        raise SpecError("the front is empty", source=str(rd.path / FRONT_FILE),
                        fix="search again with a larger budget")
    if point is not None and select is not None:
        raise SpecError("give --point or --select, not both", key="--point")
    if point is not None:
        if not 0 <= point < n:
            raise SpecError(f"no point {point}: the front has {n} point(s), 0..{n - 1}",
                            key="--point", fix=f"use a number from 0 to {n - 1}")
        return point, "requested with --point"
    rule = parse_select(select or "edp")
    metrics = [e["metrics"] for e in rd.data["front"]]
    return select_points([metrics], rule)[0], f"best by {rule.text}"


def sweep_choices(sd: SweepDir, select: str | None = None) -> dict[str, int]:
    """The front index per layer result directory: the sweep's own choice
    (``front_index`` in summary.json), or re-chosen by ``select`` over the layers' fronts
    (a latency budget counts every network layer of a shape)."""
    layers = sd.summary["layers"]
    if select is None:
        return {e["result_dir"]: e["front_index"] for e in layers}
    rule = parse_select(select)
    keys = list(dict.fromkeys(e["result_dir"] for e in layers))
    counts = [sum(e["result_dir"] == k for e in layers) for k in keys]
    fronts = [[p["metrics"] for p in sd.layers[k].data["front"]] for k in keys]
    return dict(zip(keys, select_points(fronts, rule, counts)))


# ----------------------------------------------------------------------------------
# Summaries
# ----------------------------------------------------------------------------------

def _values(metrics: dict, arch: Architecture) -> dict:
    """The summary numbers of one evaluated mapping (``evaluate --json`` metrics)."""
    breakdown = {name: lvl["energy_pj"] for name, lvl in metrics["levels"].items()}
    breakdown[arch.compute.name] = metrics["compute_energy_pj"]
    return {"macs": metrics["macs"], "energy_pj": metrics["energy_pj"],
            "cycles": metrics["cycles"], "edp_j_cycles": metrics["edp_j_cycles"],
            "utilization": metrics["utilization"], "energy_breakdown_pj": breakdown}


def result_rows(rd: ResultDir, chosen: int | None = None) -> list[dict]:
    """One row per front point: its index, whether it is ``chosen``, mapspace id, mapping
    file, objective values, MACs, energy, cycles, EDP, utilization and energy per level
    (and the compute units), all read from front.json."""
    rows = []
    for k, e in enumerate(rd.data["front"]):
        row = {"point": k, "chosen": k == chosen, "mapspace_id": e.get("mapspace_id"),
               "mapping_file": e.get("mapping_file", f"mapping_{k:03d}.yaml"),
               "objectives": dict(e["objectives"])}
        row.update(_values(e["metrics"], rd.arch))
        rows.append(row)
    return rows


_SWEEP_KEYS = ("index", "name", "dims", "shape_key", "front_index", "macs", "energy_pj",
               "cycles", "edp_j_cycles", "utilization", "energy_breakdown_pj")


def sweep_rows(sd: SweepDir, choices: dict[str, int] | None = None) -> list[dict]:
    """One row per network layer, in network order: index, name, dims, shape key, the
    chosen front index, MACs, energy, cycles, EDP, utilization and energy per level.
    Without ``choices`` the rows are summary.json's; with them (from
    :func:`sweep_choices`) the numbers come from the chosen points in front.json."""
    rows = []
    for e in sd.summary["layers"]:
        if choices is None:
            rows.append({k: e[k] for k in _SWEEP_KEYS if k in e})
            continue
        k = choices[e["result_dir"]]
        row = {"index": e["index"], "name": e["name"], "dims": e.get("dims"),
               "shape_key": e.get("shape_key", Path(e["result_dir"]).name), "front_index": k}
        row.update(_values(sd.result(e).data["front"][k]["metrics"], sd.arch))
        rows.append(row)
    return rows


def _sweep_totals(sd: SweepDir, rows: list[dict], reselected: bool) -> dict:
    s = sd.summary
    if not reselected:
        return {k: s[k] for k in ("macs", "energy_pj", "cycles", "edp_j_cycles",
                                  "utilization", "energy_breakdown_pj") if k in s}
    energy = sum(r["energy_pj"] for r in rows)
    cycles = sum(r["cycles"] for r in rows)
    macs = sum(r["macs"] for r in rows)
    breakdown: dict[str, float] = {}
    for r in rows:
        for name, v in r["energy_breakdown_pj"].items():
            breakdown[name] = breakdown.get(name, 0.0) + v
    return {"macs": macs, "energy_pj": energy, "cycles": cycles,
            "edp_j_cycles": energy * 1e-12 * cycles,
            "utilization": macs / (sd.arch.compute.instances * cycles),
            "energy_breakdown_pj": breakdown}


def _flat(row: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "objectives":
            out.update({f"objective:{o}": v for o, v in value.items()})
        elif key == "energy_breakdown_pj":
            out.update({f"energy_pj:{n}": v for n, v in value.items()})
        elif key == "dims" and isinstance(value, dict):
            out["dims"] = " ".join(f"{d}={b}" for d, b in value.items())
        else:
            out[key] = value
    return out


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text of summary rows: nested values flattened into ``objective:NAME`` and
    ``energy_pj:LEVEL`` columns and ``dims`` as ``N=1 C=64 ...``; floats unrounded."""
    flat = [_flat(r) for r in rows]
    columns: list[str] = []
    for r in flat:
        columns += [c for c in r if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()


# ----------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------

def _guard(path: Path) -> None:
    """Refuse to overwrite the inputs of a result or sweep directory."""
    parent = path.parent
    if _PROTECTED.match(path.name) and ((parent / FRONT_FILE).is_file()
                                        or (parent / SUMMARY_FILE).is_file()):
        raise SpecError(f"would overwrite {path.name} of the result directory {parent}",
                        source=str(path), key="--out",
                        fix="write the export somewhere else (a new file or directory)")


def _write(files: dict[Path, str | bytes]) -> tuple[Path, ...]:
    for path in files:
        _guard(path)
    for path, data in files.items():
        write_atomic(data, path)
    return tuple(files)


def _out_dir(out: str | os.PathLike | None, what: str) -> Path:
    if out is None:
        raise SpecError(f"{what} writes several files", key="--out",
                        fix="give --out DIR (a directory; it is created if missing)")
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise SpecError("exists and is not a directory", source=str(d), key="--out",
                        fix="give a directory for this export")
    if (d / FRONT_FILE).is_file() or (d / SUMMARY_FILE).is_file():
        raise SpecError("is a result directory; the export would mix with its files",
                        source=str(d), key="--out", fix="give a new directory")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _text_out(text: str, out: str | os.PathLike | None) -> ExportOutput:
    if out is None:
        return ExportOutput(text, ())
    return ExportOutput(None, _write({Path(out): text}))


def _mapping_yaml(mapping: Mapping, note: str) -> str:
    return (f"# loopscape mapping (format: docs/formats.md)\n# {note}\n"
            + to_yaml(dump_mapping(mapping)))


def _timeloop_yaml(document: dict, note: str) -> str:
    return f"# Timeloop input written by loopscape (docs/export.md)\n# {note}\n" + \
        to_yaml(document)


def _note(rd: ResultDir, k: int, how: str) -> str:
    m = rd.data["front"][k]["metrics"]
    return (f"{rd.workload.name} on {rd.arch.name}: point {k} of {rd.path} ({how}), "
            f"energy_pj {m['energy_pj']:.6g}, cycles {m['cycles']}")


def _timeloop_files(workload: Workload, arch: Architecture, mapping: Mapping, note: str,
                    d: Path, prefix: str = "", shared: bool = True) -> dict[Path, str]:
    files = {}
    if shared:
        files[d / "arch.yaml"] = _timeloop_yaml(dump_timeloop_arch(arch, workload),
                                                f"architecture {arch.name}")
        files[d / "ERT.yaml"] = _timeloop_yaml(dump_timeloop_ert(arch),
                                               f"energy per action of {arch.name} (pJ)")
    files[d / f"{prefix}problem.yaml"] = _timeloop_yaml(dump_timeloop_problem(workload),
                                                        f"layer {workload.name}")
    files[d / f"{prefix}map.yaml"] = _timeloop_yaml(
        dump_timeloop_mapping(mapping, workload, arch), note)
    return files


def _export_result(rd: ResultDir, fmt: str, point: int | None, select: str | None,
                   full: bool, out: str | os.PathLike | None) -> ExportOutput:
    k, how = choose_point(rd, point=point, select=select)
    mapping = rd.mappings[k]
    note = _note(rd, k, how)
    if fmt == "yaml":
        return _text_out(_mapping_yaml(mapping, note), out)
    if fmt == "timeloop":
        if not full:
            doc = dump_timeloop_mapping(mapping, rd.workload, rd.arch)
            return _text_out(_timeloop_yaml(doc, note), out)
        d = _out_dir(out, "--full")
        return ExportOutput(None, _write(_timeloop_files(rd.workload, rd.arch, mapping, note, d)))
    if fmt == "maptxt":
        return _text_out(render_maptxt(rd.workload, rd.arch, mapping, note), out)
    rows = result_rows(rd, k)
    if fmt == "csv":
        return _text_out(rows_to_csv(rows), out)
    if fmt == "json":
        doc = {"source": "result", "path": str(rd.path), "workload": rd.workload.name,
               "arch": rd.arch.name, "objectives": list(rd.objectives), "chosen_point": k,
               "chosen_by": how, "points": rows}
        return _text_out(json.dumps(doc, indent=2) + "\n", out)
    # plot
    if out is None:
        raise SpecError("a plot needs a file", key="--out", fix="give --out FILE.png or .svg")
    points = [(e["metrics"]["energy_pj"], e["metrics"]["cycles"]) for e in rd.data["front"]]
    _guard(Path(out))
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
            return _text_out(rows_to_csv(rows), out)
        doc = {"source": "sweep", "path": str(sd.path), "network": network,
               "arch": sd.summary.get("arch", sd.arch.name), "chosen_by": how}
        doc.update(_sweep_totals(sd, rows, select is not None))
        doc["layers"] = rows
        return _text_out(json.dumps(doc, indent=2) + "\n", out)
    if fmt == "plot":
        if out is None:
            raise SpecError("a plot needs a file", key="--out", fix="give --out FILE.png or .svg")
        rows = sweep_rows(sd, choices if select else None)
        _guard(Path(out))
        plot_breakdown([f"{r['index']}: {r['name']}" for r in rows],
                       [r["energy_breakdown_pj"] for r in rows], out,
                       f"energy per layer of {network} on {sd.arch.name}\n{how}")
        return ExportOutput(None, (Path(out),))
    d = _out_dir(out, f"--format {fmt} of a sweep (one file per layer shape)")
    files: dict[Path, str] = {}
    for key, k in choices.items():
        rd = sd.layers[key]
        names = [e["name"] for e in sd.summary["layers"] if e["result_dir"] == key]
        note = f"{_note(rd, k, how)}; network layers: {', '.join(names)}"
        stem = Path(key).name
        if fmt == "yaml":
            files[d / f"{stem}.yaml"] = _mapping_yaml(rd.mappings[k], note)
        elif fmt == "maptxt":
            files[d / f"{stem}.map.txt"] = render_maptxt(rd.workload, rd.arch, rd.mappings[k],
                                                         note)
        elif full:
            files.update(_timeloop_files(rd.workload, rd.arch, rd.mappings[k], note, d,
                                         prefix=f"{stem}.", shared=not files))
        else:
            files[d / f"{stem}.map.yaml"] = _timeloop_yaml(
                dump_timeloop_mapping(rd.mappings[k], rd.workload, rd.arch), note)
    return ExportOutput(None, _write(files))


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
    src = _open(source)
    if isinstance(src, SweepDir):
        return _export_sweep(src, fmt, point, select, full, out)
    return _export_result(src, fmt, point, select, full, out)
