"""Summary rows of an export: one per front point of a result directory or one per
network layer of a sweep, their totals and their CSV text (docs/export.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from loopscape.spaces.arch import Architecture

from ..result_dir import ResultDir
from .sources import SweepDir

__all__ = ["result_rows", "rows_to_csv", "shape_bars", "sweep_rows", "sweep_totals"]


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


def sweep_totals(sd: SweepDir, rows: list[dict], reselected: bool) -> dict:
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


def shape_bars(rows: list[dict]) -> list[tuple[str, dict[str, float]]]:
    """The sweep rows grouped by layer shape (``shape_key``), in order of first
    appearance: per shape a label (its first layer's index and name, and the number of
    network layers of that shape when more than one) and the energy per storage level
    and compute unit (pJ) summed over all its layers, so the bars add up to the network."""
    groups: dict[str, tuple[dict, int, dict[str, float]]] = {}
    for r in rows:
        first, n, total = groups.get(r["shape_key"], (r, 0, {}))
        for name, v in r["energy_breakdown_pj"].items():
            total[name] = total.get(name, 0.0) + v
        groups[r["shape_key"]] = (first, n + 1, total)
    return [(f"#{first['index']} {first['name']}" + (f" ({n} layers)" if n > 1 else ""), total)
            for first, n, total in groups.values()]
