"""Search objectives: their names, and their values for a batch or for one evaluation.

Names (all minimized except ``utilization``):

- ``energy_pj`` (alias ``energy``): total energy in pJ;
- ``cycles`` (aliases ``latency``, ``delay``): cycles including bandwidth stalls;
- ``edp``: energy-delay product, energy in J times cycles;
- ``utilization``: MACs / (PEs x cycles), maximized;
- ``dram_words`` / ``outermost_words``: scalar words moved at the outermost level
  (reads + fills + updates of every tensor, per instance, times the utilized instances);
- ``accesses:<LEVEL>``: the same words at any named level;
- ``energy:<LEVEL>``: that level's energy in pJ (accesses and leakage).

``objective_values`` (batched) and ``objective_values_scalar`` compute the same numbers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from loopscape.costmodels.batched import BatchResult
from loopscape.costmodels.evaluate import Evaluation
from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError

from .pareto import ParetoArchive

__all__ = ["OBJECTIVES", "LEVEL_OBJECTIVES", "ALIASES", "MAXIMIZED", "parse_objectives",
           "maximized", "objective_values", "objective_values_scalar", "make_archive",
           "describe"]

OBJECTIVES: dict[str, str] = {
    "energy_pj": "total energy (pJ)",
    "cycles": "cycles, including bandwidth stalls",
    "edp": "energy-delay product (J x cycles)",
    "utilization": "MACs / (PEs x cycles), maximized",
    "dram_words": "words moved at the outermost level (reads + fills + updates)",
    "outermost_words": "words moved at the outermost level (reads + fills + updates)",
}
LEVEL_OBJECTIVES: dict[str, str] = {
    "accesses": "words moved at LEVEL (reads + fills + updates, all utilized instances)",
    "energy": "energy of LEVEL (pJ, accesses and leakage)",
}
ALIASES: dict[str, str] = {"energy": "energy_pj", "latency": "cycles", "delay": "cycles"}
MAXIMIZED: frozenset[str] = frozenset({"utilization"})


def _valid_list(levels: Sequence[str] | None) -> str:
    names = ", ".join(OBJECTIVES)
    where = ", ".join(levels) if levels else "a storage level's name"
    return (f"{names} (aliases: energy, latency, delay), accesses:<LEVEL> or "
            f"energy:<LEVEL> with LEVEL one of {where}")


def _resolve_level(level: str, levels: Sequence[str], name: str) -> str:
    if level in levels:
        return level
    folded = [l for l in levels if l.lower() == level.lower()]
    if len(folded) == 1:
        return folded[0]
    raise SpecError(f"objective '{name}' names an unknown level '{level}'", key="objectives",
                    fix=f"use one of {', '.join(levels)}")


def _canonical(name: str, levels: Sequence[str] | None) -> str:
    raw = name.strip()
    low = raw.lower()
    if ":" in raw:
        kind, level = raw.split(":", 1)
        kind, level = kind.strip().lower(), level.strip()
        if kind not in LEVEL_OBJECTIVES:
            raise SpecError(f"unknown objective '{raw}'", key="objectives",
                            fix=f"choose from {_valid_list(levels)}")
        if not level:
            raise SpecError(f"objective '{raw}' needs a level name after ':'",
                            key="objectives", fix=f"choose from {_valid_list(levels)}")
        if levels is not None:
            level = _resolve_level(level, levels, raw)
        return f"{kind}:{level}"
    low = ALIASES.get(low, low)
    if low not in OBJECTIVES:
        raise SpecError(f"unknown objective '{raw}'", key="objectives",
                        fix=f"choose from {_valid_list(levels)}")
    return low


def parse_objectives(spec: str | Sequence[str],
                     arch: Architecture | None = None) -> tuple[str, ...]:
    """Canonical objective names from ``"energy,cycles"`` or a list of names.

    Aliases resolve (``energy`` -> ``energy_pj``); with ``arch`` the level names of
    ``accesses:``/``energy:`` objectives are checked and spelled as in the architecture.
    Raises SpecError for an empty list, an unknown name or level, or a repeated objective.
    """
    return _parse(spec, arch.level_names if arch is not None else None)


def _parse(spec: str | Sequence[str], levels: Sequence[str] | None) -> tuple[str, ...]:
    parts = list(spec.split(",") if isinstance(spec, str) else spec)
    if not [p for p in parts if p.strip()]:
        raise SpecError("no objective given", key="objectives",
                        fix=f"choose from {_valid_list(levels)}")
    out: list[str] = []
    for p in parts:
        if not p.strip():
            raise SpecError(f"empty objective name in {spec!r}", key="objectives",
                            fix="separate names with single commas")
        name = _canonical(p, levels)
        if name in out:
            raise SpecError(f"objective '{name}' is listed twice", key="objectives",
                            fix="list each objective once")
        out.append(name)
    return tuple(out)


def maximized(names: Sequence[str]) -> tuple[str, ...]:
    """The names among ``names`` that are maximized."""
    return tuple(n for n in names if n in MAXIMIZED)


def make_archive(names: Sequence[str] | str) -> ParetoArchive:
    """An empty archive over the given objectives, oriented as they require."""
    objs = parse_objectives(names)
    return ParetoArchive(objs, maximize=maximized(objs))


def describe(name: str) -> str:
    """One-line description of a canonical objective name."""
    if ":" in name:
        kind, level = name.split(":", 1)
        return LEVEL_OBJECTIVES[kind].replace("LEVEL", level)
    return OBJECTIVES[name]


def objective_values(names: Sequence[str], result: BatchResult,
                     arch: Architecture) -> np.ndarray:
    """Objective values [N, k] (float64) of every row of ``result``, in ``names`` order."""
    objs = parse_objectives(names, arch)
    n = len(result.energy_pj)
    out = np.empty((n, len(objs)), dtype=np.float64)
    moved = None
    for j, name in enumerate(objs):
        if ":" in name:
            kind, level = name.split(":", 1)
            i = arch.index(level)
            if kind == "energy":
                out[:, j] = result.level_energy_pj[:, i]
                continue
        else:
            kind, i = name, 0
        if kind in ("accesses", "dram_words", "outermost_words"):
            if moved is None:
                words = (result.reads + result.fills + result.updates).sum(axis=2)  # [N, L]
                moved = words * result.utilized_instances
            out[:, j] = moved[:, i]
        elif kind == "energy_pj":
            out[:, j] = result.energy_pj
        elif kind == "cycles":
            out[:, j] = result.cycles
        elif kind == "edp":
            out[:, j] = result.energy_pj * 1e-12 * result.cycles
        elif kind == "utilization":
            out[:, j] = result.utilization
        else:  # pragma: no cover - parse_objectives admits nothing else
            raise AssertionError(name)
    return out


def objective_values_scalar(names: Sequence[str], evaluation: Evaluation) -> tuple[float, ...]:
    """Objective values of one evaluation, in ``names`` order (same numbers as the
    batched form)."""
    levels = tuple(l.name for l in evaluation.levels)
    out: list[float] = []
    for name in _parse(names, levels):
        if ":" in name:
            kind, level = name.split(":", 1)
            lvl = evaluation.level(level)
        else:
            kind, lvl = name, evaluation.levels[0]
        if kind == "energy":
            out.append(float(lvl.energy_pj))
        elif kind in ("accesses", "dram_words", "outermost_words"):
            words = sum(s.reads + s.fills + s.updates for s in lvl.tensors.values())
            out.append(float(words * lvl.utilized_instances))
        elif kind == "energy_pj":
            out.append(float(evaluation.energy_pj))
        elif kind == "cycles":
            out.append(float(evaluation.cycles))
        elif kind == "edp":
            out.append(float(evaluation.edp))
        elif kind == "utilization":
            out.append(float(evaluation.utilization))
        else:  # pragma: no cover
            raise AssertionError(name)
    return tuple(out)

