"""Choosing one point per layer front: per-layer rules by hand, the network latency
budget against brute force over every combination."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopscape.mapper.selection import parse_select, select_points
from loopscape.spaces.errors import SpecError


def _front(*pairs):
    return [{"energy_pj": float(e), "cycles": int(c)} for e, c in pairs]


def test_per_layer_rules():
    f = _front((10, 100), (20, 40), (60, 10))  # EDPs 1000, 800, 600
    assert select_points([f], parse_select("edp")) == [2]
    assert select_points([f], parse_select("energy")) == [0]
    assert select_points([f], parse_select("energy_pj")) == [0]
    assert select_points([f], parse_select("cycles")) == [2]
    # EDP tie (1000 = 10 x 100 = 20 x 50): the lower energy wins
    assert select_points([_front((20, 50), (10, 100))], parse_select("edp")) == [1]


def test_latency_budget_by_hand():
    a = _front((10, 100), (30, 50))
    b = _front((5, 80), (9, 40))
    # Layer a twice, b once. Budget 260: (a0 x2, b0) = 280 cycles too slow;
    # (a0 x2, b1) = 240 cycles, 29 pJ; (a1 x2, b0) = 180 cycles, 65 pJ -> a0, b1.
    rule = parse_select("latency<=260")
    assert select_points([a, b], rule, counts=[2, 1]) == [0, 1]
    assert select_points([a, b], parse_select("latency<=140"), counts=[2, 1]) == [1, 1]
    with pytest.raises(SpecError, match="at least 140 cycles"):
        select_points([a, b], parse_select("latency<=139"), counts=[2, 1])


@pytest.mark.parametrize("text", ["fast", "latency<=0", "latency<=x", "latency>=5"])
def test_bad_rules(text):
    with pytest.raises(SpecError):
        parse_select(text)


fronts = st.lists(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 50)),
                           min_size=1, max_size=4), min_size=1, max_size=4)


@given(fronts, st.lists(st.integers(1, 3), min_size=4, max_size=4), st.integers(1, 400))
def test_latency_budget_matches_brute_force(raw, counts, budget):
    fs = [_front(*f) for f in raw]
    counts = counts[:len(fs)]
    best = None
    for combo in itertools.product(*(range(len(f)) for f in fs)):
        c = sum(n * f[k]["cycles"] for f, k, n in zip(fs, combo, counts))
        e = sum(n * f[k]["energy_pj"] for f, k, n in zip(fs, combo, counts))
        if c <= budget and (best is None or e < best):
            best = e
    rule = parse_select(f"latency<={budget}")
    if best is None:
        with pytest.raises(SpecError):
            select_points(fs, rule, counts)
        return
    chosen = select_points(fs, rule, counts)
    assert sum(n * f[k]["cycles"] for f, k, n in zip(fs, chosen, counts)) <= budget
    assert sum(n * f[k]["energy_pj"] for f, k, n in zip(fs, chosen, counts)) == best
