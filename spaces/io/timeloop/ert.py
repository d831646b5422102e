"""Accelergy's energy reference table (ERT) -> energies per component and action."""

from __future__ import annotations

from typing import Any, Sequence

from ..strict import Where, expect_list, expect_map, expect_number
from .common import RANGE_RE

__all__ = ["compute_energy", "parse_ert", "storage_energy"]


def storage_energy(actions: dict[str, float]) -> tuple[float, float, float, float]:
    """(read, fill, update, leak) pJ per vector access from one ERT entry. The action
    names tried, in order, follow Timeloop's storage-operation table; a missing
    read/fill/update falls back to the entry's largest energy, a missing leak to 0."""
    top = max(actions.values(), default=0.0)

    def pick(names: Sequence[str], fallback: float) -> float:
        for n in names:
            if n in actions:
                return actions[n]
        return fallback

    read = pick(("random_read", "read"), top)
    fill = pick(("random_fill", "random_write", "fill", "write"), top)
    update = pick(("random_update", "random_write", "update", "write"), top)
    leak = pick(("leak",), 0.0)
    return read, fill, update, leak


def compute_energy(actions: dict[str, float]) -> float:
    """pJ per MAC: Timeloop's random_compute action names in order, else the largest."""
    for n in ("mac_random", "mult_random", "mac", "mult", "compute"):
        if n in actions:
            return actions[n]
    return max(actions.values(), default=0.0)


def parse_ert(raw: Any, at: Where) -> dict[str, dict[str, float]]:
    """Component name (range and path stripped) -> action -> pJ. An action listed with
    several argument sets costs the largest of their energies, as in Timeloop."""
    ert = expect_map(raw, at)
    t_at = at.at("tables")
    if "tables" not in ert:
        raise t_at.error("the ERT has no 'tables'")
    tables = ert["tables"]
    entries: list[tuple[str, Any, Where]] = []
    if isinstance(tables, dict):  # ERT v0.2: name -> action -> entry or list of entries
        for tname, actions in tables.items():
            a_at = t_at.at(str(tname))
            acts = []
            for aname, entry in expect_map(actions, a_at).items():
                for e in (entry if isinstance(entry, list) else [entry]):
                    acts.append((aname, e))
            entries.append((str(tname), acts, a_at))
    else:
        for i, table in enumerate(expect_list(tables, t_at)):
            i_at = t_at.at(i)
            table = expect_map(table, i_at)
            if not isinstance(table.get("name"), str):
                raise i_at.at("name").error("an ERT table needs a name")
            acts = []
            for j, a in enumerate(expect_list(table.get("actions") or [], i_at.at("actions"))):
                a = expect_map(a, i_at.at("actions").at(j))
                if not isinstance(a.get("name"), str):
                    raise i_at.at("actions").at(j).at("name").error("an ERT action needs a name")
                acts.append((a["name"], a))
            entries.append((table["name"], acts, i_at))
    out: dict[str, dict[str, float]] = {}
    for tname, acts, e_at in entries:
        base = tname
        m = RANGE_RE.match(base)
        if m:
            base = m.group("base")
        base = base.rsplit(".", 1)[-1]
        energies: dict[str, float] = {}
        for j, (aname, entry) in enumerate(acts):
            if isinstance(entry, dict):
                if "energy" not in entry:
                    continue
                e = expect_number(entry["energy"], e_at.at("actions").at(j).at("energy"),
                                  lenient=True)
            else:
                e = expect_number(entry, e_at.at(str(aname)), lenient=True)
            energies[aname] = max(e, energies.get(aname, 0.0))
        out[base] = energies  # a "wire" entry prices link transfers (network.py)
    return out
