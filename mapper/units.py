"""Readable units for people: one place that picks an SI unit per magnitude for the
energy, cycle and EDP numbers of tables and plots (docs/cli.md#units).

The models and the JSON files keep their base units in their names (``energy_pj``,
``cycles``, ``edp_j_cycles``); this module only chooses how to show them. A table
column or a plot axis takes ONE unit, chosen from its largest value so that value lies
in [1, 1000) of the unit (``Quantity.unit_for``; cycles have no kcycles, so counts
below a million stay exact), and names it in its header:
``energy (uJ)``, ``EDP (J*cycle)``, ``Mcycles``. A single number in a sentence takes
its own unit (``format_energy(1.5e8)`` is ``"150 uJ"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["CYCLES", "EDP", "ENERGY", "Quantity", "Unit", "column", "format_cycles",
           "format_edp", "format_energy", "format_value"]


@dataclass(frozen=True)
class Unit:
    """A display unit: its ``name`` and ``size``, how many base units one of it holds
    (``uJ`` is 1e6 pJ)."""

    name: str
    size: float

    def scale(self, value: float) -> float:
        """``value`` (in base units) in this unit."""
        return value / self.size


@dataclass(frozen=True)
class Quantity:
    """A quantity with its base unit first and larger SI units after it."""

    label: str  # what a header calls it: "energy", "EDP", "cycles"
    units: tuple[Unit, ...]

    def unit_for(self, values: Iterable[float]) -> Unit:
        """The largest unit in which the largest magnitude of ``values`` is at least 1
        (so it shows as 1 to 999, or below a million cycles; a value that four significant digits round up to
        1000 takes the next unit); the smallest unit for all-zero or empty values."""
        top = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
        best = self.units[0]
        for u in self.units:
            if top >= u.size * (1 - 5e-5):
                best = u
        return best

    def header(self, unit: Unit) -> str:
        """A column or axis title naming the unit: ``energy (uJ)``; cycles are their own
        unit name (``cycles``, ``Mcycles``)."""
        return unit.name if self is CYCLES else f"{self.label} ({unit.name})"


_E = (("pJ", 1.0), ("nJ", 1e3), ("uJ", 1e6), ("mJ", 1e9), ("J", 1e12), ("kJ", 1e15))
#: Energy; base unit pJ (``energy_pj``).
ENERGY = Quantity("energy", tuple(Unit(n, s) for n, s in _E))
#: Cycles; base unit one cycle. No kcycles: counts below a million stay exact
#: (``680,448 cycles``), larger ones read as ``30.66 Mcycles``.
CYCLES = Quantity("cycles", tuple(Unit(n, s) for n, s in (
    ("cycles", 1.0), ("Mcycles", 1e6), ("Gcycles", 1e9), ("Tcycles", 1e12))))
#: Energy-delay product; base unit J*cycle (``edp_j_cycles``). Small products take a
#: smaller energy unit (uJ*cycle), large ones a larger cycle unit (J*Mcycle), never kJ;
#: like cycles, up to a million J*cycle stay in J*cycle.
EDP = Quantity("EDP", tuple(Unit(f"{n}*cycle", s * 1e-12) for n, s in _E[:5])
               + (Unit("J*Mcycle", 1e6), Unit("J*Gcycle", 1e9), Unit("J*Tcycle", 1e12)))


def format_value(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits, thousands separated, no exponent for
    numbers from 1e-4 up; integers below 10**digits exactly."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if float(x).is_integer() and abs(x) < 10 ** digits:
        return f"{int(x):,}"
    exp = math.floor(math.log10(abs(x)))
    if abs(round(x, digits - 1 - exp)) >= 10 ** (exp + 1):  # 9.9996 rounds to 10.00
        exp += 1
    if exp < -4:
        return f"{x:.{digits - 1}e}"
    decimals = max(digits - 1 - exp, 0)
    return f"{round(x, decimals):,.{decimals}f}"


def column(q: Quantity, values: Sequence[float], digits: int = 4
           ) -> tuple[str, list[str]]:
    """A table column of ``values`` (base units): its header naming the one unit
    chosen for all of them, and each value in that unit."""
    u = q.unit_for(values)
    return q.header(u), [format_value(u.scale(v), digits) for v in values]


def _format(q: Quantity, value: float, digits: int) -> str:
    u = q.unit_for([value])
    return f"{format_value(u.scale(value), digits)} {u.name}"


def format_energy(pj: float, digits: int = 4) -> str:
    """An energy given in pJ in its own unit: ``format_energy(1.5e8) == "150 uJ"``."""
    return _format(ENERGY, pj, digits)


def format_cycles(cycles: float, digits: int = 4) -> str:
    """A cycle count in its own unit: ``format_cycles(30_660_000) == "30.66 Mcycles"``."""
    return _format(CYCLES, cycles, digits)


def format_edp(j_cycles: float, digits: int = 4) -> str:
    """An energy-delay product given in J*cycle in its own unit."""
    return _format(EDP, j_cycles, digits)
