"""Readable units (mapper/units.py): values worked out by hand."""

from __future__ import annotations

import pytest

from loopscape.mapper.units import (CYCLES, EDP, ENERGY, column, format_cycles, format_edp,
                                    format_energy, format_value)


@pytest.mark.parametrize("pj, text", [
    (1.5e8, "150 uJ"),              # 1.5e8 pJ = 150e6 pJ = 150 uJ
    (59_280_115.9, "59.28 uJ"),     # the Eyeriss exercise layer (results/README.md)
    (10.9e9, "10.90 mJ"),           # 10.9e9 pJ = 10.9e-3 J
    (235.55, "235.6 pJ"),           # below 1 nJ stays pJ
    (1_000.0, "1 nJ"),
    (999.96e3, "1.000 uJ"),         # rounds to 1000 nJ: the next unit instead
    (2.5e12, "2.500 J"),
    (0.0, "0 pJ"),
])
def test_energy(pj, text):
    assert format_energy(pj) == text


@pytest.mark.parametrize("cycles, text", [
    (86_016, "86,016 cycles"),      # below a million: exact
    (999_000, "999,000 cycles"),
    (999_990, "1.000 Mcycles"),     # four digits of Mcycles round it up to 1
    (30_660_000, "30.66 Mcycles"),
    (4.089e9, "4.089 Gcycles"),
])
def test_cycles(cycles, text):
    assert format_cycles(cycles) == text


@pytest.mark.parametrize("j_cycles, text", [
    (166.6, "166.6 J*cycle"),
    (59.28e-6 * 86_016, "5.099 J*cycle"),   # 59.28 uJ x 86,016 cycles
    (3.2e-9, "3.200 nJ*cycle"),
    (0.0125, "12.50 mJ*cycle"),
    (527_263.0, "527,263 J*cycle"),
    (837.0e-3 * 629.9e6, "527.2 J*Mcycle"),  # 837 mJ x 629.9 Mcycles
])
def test_edp(j_cycles, text):
    assert format_edp(j_cycles) == text


def test_a_column_takes_one_unit_from_its_largest_value():
    # 240 uJ is the largest: every cell in uJ, the header names it.
    assert column(ENERGY, [2.4e8, 1.2e7, 5e5]) == ("energy (uJ)", ["240", "12", "0.5000"])
    assert column(CYCLES, [680_448, 4_817_000]) == ("Mcycles", ["0.6804", "4.817"])
    assert column(CYCLES, [680_448, 86_016]) == ("cycles", ["680,448", "86,016"])
    assert column(EDP, [334.2, 0.05]) == ("EDP (J*cycle)", ["334.2", "0.05000"])


def test_format_value():
    assert format_value(1234) == "1,234"
    assert format_value(123.456) == "123.5"
    assert format_value(9.9996) == "10.00"
    assert format_value(-1.5) == "-1.500"
    assert format_value(1_234_567.8) == "1,234,568"  # never fewer digits than the integer part
