"""The sources of an export: a result directory (``loopscape search --out``) or a sweep
directory (``loopscape sweep --out``) read back, and the front point chosen from each."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError

from ..result_dir import FRONT_FILE, ResultDir, read_result_dir
from ..selection import parse_select, select_points
from ..sweep import SUMMARY_FILE

__all__ = ["SweepDir", "choose_point", "open_source", "read_sweep_dir", "sweep_choices"]


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


def open_source(path: str | os.PathLike) -> ResultDir | SweepDir:
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
