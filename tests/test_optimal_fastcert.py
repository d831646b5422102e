"""The faster certification of constrained spaces (docs/optimal.md, rule leaf_bound's
least over a tiling's leaves, and "Measured"): the compiled keep-choice legality agrees
with the mapspace's own capacity and minimum-utilization checks, and the classes of
orders the least skips as wide have every B7 factor at least a narrower class's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.leaves import LeafBound
from loopscape.mapper.strategies.optimal.orders import OrderTables
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces import einsum
from loopscape.spaces.legality import mapping_problems
from loopscape.spaces.mapspace import Mapspace

from test_optimal import _ex05, small_spaces
from test_optimal_leaves import _record


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from([0.0, 0.25, 0.5]),
       st.integers(1, 3))
def test_legal_keeps_agree_with_the_mapspace_capacity_checks(ms, seed, util, level):
    """On drawn mappings whose factors and fanouts are legal, the keep choice is legal
    for ``OrderTables.legal_keeps`` exactly when the mapspace finds no capacity or
    minimum-utilization problem (one level may also demand a minimum utilization)."""
    a = ms.arch
    if level < len(a.levels) and a.levels[level].capacity_words is not None:
        lv = list(a.levels)
        lv[level] = dataclasses.replace(lv[level], min_utilization=util)
        a = dataclasses.replace(a, levels=tuple(lv))
        ms = Mapspace(ms.workload, a)
    st_ = structure(ms)
    bd = Bounder(ms.workload, a, st_)
    orders = OrderTables(ms.workload, a, st_)
    B = st_.bypass_size
    rng = np.random.default_rng(seed)
    for mid in rng.integers(0, ms.size, 60).tolist():
        m = ms.mapping(mid)
        if mapping_problems(ms.workload, a, m, check_capacity=False):
            continue
        rec, _, _ = _record(bd, orders, st_, mid)  # rec[4]: the legal keep choices
        fits = not mapping_problems(ms.workload, a, m)
        assert (mid % B in rec[4].tolist()) == fits, (mid, fits)


@pytest.mark.parametrize("equation, sizes", [
    ("Outputs[m,p] += Weights[m,c,r] * Inputs[c,r+p]", {"m": 2, "c": 2, "r": 3, "p": 4}),
    ("Outputs[m,p] += Weights[m,c,r] * Inputs[c,2*p+r]", {"m": 2, "c": 2, "r": 3, "p": 4}),
    ("Outputs[m,p] += Weights[m,c,r] * Inputs[c,2*p+r]", {"m": 2, "c": 2, "r": 2, "p": 6}),
])
def test_a_wide_class_has_every_b7_factor_at_least_the_narrower_ones(equation, sizes):
    """The least over a tiling's leaves skips a *wide* class (its outer loops include
    another class's in every column): on every tiling of small sliding-window layers
    (stride 1 and 2) on ex05's architecture, B7's factor and its outer part, computed
    from the classes' own orders with the model of rule B7 (``RunBound.factor_pair``),
    are at least the narrower class's in every column; wide classes occur."""
    _, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    w = einsum(equation, sizes, name="small")
    ms = Mapspace(w, a)
    st_ = structure(ms)
    bd = Bounder(w, a, st_)
    orders = OrderTables(w, a, st_)
    leaf = LeafBound(bd, orders.keep_sets, len(w.tensors))
    P, B = st_.permutation_size, st_.bypass_size
    pairs = 0
    for fi in range(ms.size // (P * B)):
        rec, tables, _ = _record(bd, orders, st_, fi * P * B)
        cls, m, sigs, wide = leaf._classes(rec[1], tables)
        first = np.stack([tb[1][0] for tb in tables])
        for j in range(len(tables)):
            if m[j] < 2:
                continue
            rep = [int(np.nonzero(cls[j] == c)[0][0]) for c in range(m[j])]
            ranks = np.repeat(first[None], m[j], axis=0)
            ranks[:, j] = tables[j][1][rep]
            n = m[j]
            full, outer = bd.runs.factor_pair(np.repeat(rec[1][None], n, axis=0),
                                              np.repeat(rec[10][None], n, axis=0),
                                              ranks=ranks)
            s = sigs[j]
            for c in np.nonzero(wide[j])[0].tolist():
                for o in range(n):
                    if o != c and ((s[c] & s[o]) == s[o]).all():
                        assert (full[c] >= full[o]).all() and (outer[c] >= outer[o]).all()
                        pairs += 1
    assert pairs > 0
