"""The public structural API of ``Mapspace`` (docs/mapspace.md): slot tables, fanouts,
loop-order tables, keep bits and the sampling proposal, against hand counts on small
spaces and against the mapspace's own ids."""

from __future__ import annotations

import math
import random

import numpy as np

from loopscape.spaces import (Architecture, ComputeLevel, Constraints, FactorRule,
                              LevelConstraints, StorageLevel, gemm)
from loopscape.spaces.factors import (lehmer_rank, permutation_table, prime_factors,
                                      rank_permutation, unrank_permutation)
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.slots import Slot


def _two_levels():
    arch = Architecture("two", (StorageLevel("DRAM"), StorageLevel("RF")), ComputeLevel())
    return Mapspace(gemm(M=2, N=2, K=1), arch)


def test_structure_of_a_two_level_space_by_hand():
    ms = _two_levels()
    # No fanout: one temporal slot per level; M=2 and N=2 split 2 ways each, K=1 one way.
    assert ms.slots == (Slot(0, "T"), Slot(1, "T"))
    assert [ds.size for ds in ms.dim_spaces] == [2, 2, 1]
    assert [ds.bound for ds in ms.dim_spaces] == [2, 2, 1]
    assert ms.fanouts == ((1, 1), (1, 1))
    # DRAM orders M and N (K never loops); RF is innermost: one order.
    dram, rf = ms.level_orders
    assert dram.free == ("M", "N") and dram.outer == dram.inner == ()
    assert dram.template == ("M", "N", "K") and dram.free_start == 0
    assert rf.free == () and rf.count == 1
    assert [ms.permutation_count(i) for i in range(2)] == [2, 1]
    # RF may keep or bypass each of the three tensors; DRAM keeps everything.
    assert ms.keep_free == ((1, "Weights"), (1, "Inputs"), (1, "Outputs"))
    assert ms.keep_fixed[0] == {"Weights": True, "Inputs": True, "Outputs": True}
    assert ms.keep_fixed[1] == {}
    assert ms.keep_sets(0b101) == [("Weights", "Inputs", "Outputs"), ("Weights", "Outputs")]
    # Unbounded levels: one proposal entry per keep choice, all 4 splits, no limits.
    assert [(e.bypass, e.weight) for e in ms.proposal] == [(b, 4) for b in range(8)]
    assert all(lim is None for e in ms.proposal for lim in e.limits)


def test_structure_agrees_with_ids_and_sizes():
    """Sizes are products of the structure's counts, and ``mapping(id)`` is built from
    it: the loop order of level i is ``level_orders[i].unrank`` of its permutation
    digit, and the keep sets are ``keep_sets`` of the bypass digit."""
    arch = Architecture("three", (
        StorageLevel("DRAM"),
        StorageLevel("GB", instances=1, capacity_words=64, mesh_x=1),
        StorageLevel("RF", instances=4, capacity_words=8, mesh_x=4)),
        ComputeLevel(instances=4, mesh_x=4))
    cons = Constraints(levels=(LevelConstraints("DRAM", outer=("K",)),))
    ms = Mapspace(gemm(M=4, N=6, K=2), arch, cons)
    assert ms.fanouts == ((1, 1), (4, 1), (1, 1))
    assert Slot(1, "S") in ms.slots
    assert ms.level_orders[0].outer == ("K",)
    assert math.prod(ds.size for ds in ms.dim_spaces) == ms.factorization_size
    assert math.prod(ms.permutation_count(i) for i in range(3)) == ms.permutation_size
    assert 2 ** len(ms.keep_free) == ms.bypass_size
    # Only factors the fanout allows sit in the spatial slot: at most 4 on X.
    for d, ds in enumerate(ms.dim_spaces):
        assert ds.max_factor(1, "SX") == max(f for f in (1, 2, 3, 4)
                                             if ds.bound % f == 0)
        assert ds.max_factor(1, "SY") == 1
    rng = random.Random(0)
    for _ in range(50):
        mid = rng.randrange(ms.size)
        m = ms.mapping(mid)
        by = mid % ms.bypass_size
        lp = (mid // ms.bypass_size) % ms.permutation_size
        assert [lm.keep for lm in m.levels] == ms.keep_sets(by)
        digits = []
        for i in reversed(range(3)):
            digits.append(lp % ms.permutation_count(i))
            lp //= ms.permutation_count(i)
        digits.reverse()
        for i, lm in enumerate(m.levels):
            assert tuple(l.dim for l in lm.temporal) == ms.level_orders[i].unrank(digits[i])
    # The proposal's weights count the splits within its limits.
    for e in ms.proposal:
        assert e.weight == math.prod(ds.count(lim) for ds, lim in zip(ms.dim_spaces,
                                                                       e.limits))


def test_factor_tables_list_unrank_in_rank_order():
    ms = Mapspace(gemm(M=12, N=2, K=3), Architecture("t", (
        StorageLevel("DRAM"), StorageLevel("RF", instances=2, capacity_words=16, mesh_y=2)),
        ComputeLevel(instances=2, mesh_y=2)), Constraints(levels=(
            LevelConstraints("RF", temporal=(("M", FactorRule(max=4)),)),)))
    ds = ms.dim_spaces[0]
    tab = ds.table(len(ms.arch.levels), 10_000)
    assert tab.size == ds.size
    for r in range(ds.size):
        choice = ds.unrank(r)
        assert tuple(int(f) for f in tab.fac[r]) == tuple(f for f, _ in choice)
        assert ds.rank(choice) == r
        assert int(tab.quot[0, r]) == 12
    assert ds.table(len(ms.arch.levels), ds.size - 1) is None


def test_permutation_ranks_by_hand():
    assert unrank_permutation("abc", 0) == ("a", "b", "c")
    assert unrank_permutation("abc", 5) == ("c", "b", "a")
    assert [rank_permutation("abc", p) for p in ("abc", "acb", "bac", "bca", "cab", "cba")] \
        == list(range(6))
    table = permutation_table(4)
    assert table.shape == (24, 4)
    assert all(lehmer_rank(list(row)) == r for r, row in enumerate(table))
    assert prime_factors(1) == [] and prime_factors(360) == [2, 2, 2, 3, 3, 5]
    assert np.array_equal(table[0], [0, 1, 2, 3])
