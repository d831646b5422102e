"""The faster certification of constrained spaces (docs/optimal.md, "Measured": faster
leaves and legality): the compiled keep-choice legality agrees with the mapspace's own
capacity and minimum-utilization checks, and the batched per-tiling energies equal the
per-record ones."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.orders import OrderTables
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.legality import mapping_problems
from loopscape.spaces.mapspace import Mapspace

from test_optimal import small_spaces
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
    P, B = st_.permutation_size, st_.bypass_size
    rng = np.random.default_rng(seed)
    for mid in rng.integers(0, ms.size, 60).tolist():
        m = ms.mapping(mid)
        if mapping_problems(ms.workload, a, m, check_capacity=False):
            continue
        rec, _, _ = _record(bd, orders, st_, mid)  # rec[4]: the legal keep choices
        fits = not mapping_problems(ms.workload, a, m)
        assert (mid % B in rec[4].tolist()) == fits, (mid, fits)
