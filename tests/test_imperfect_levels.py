"""Residuals at some levels only (constraints ``imperfect: {levels: [...]}``): the
dimension spaces count, rank and unrank exactly the end sequences of the unrestricted
space whose residual loops sit at allowed slots (checked against the brute force of
tests/test_mapspace_imperfect.py), the mapspace's ids and pruned size follow, and bad
input is a one-line error."""

from __future__ import annotations

import itertools

import pytest

from loopscape.spaces.constraints import Constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.imperfect_levels import LevelImperfectDimSpace
from loopscape.spaces.io.strict import Where
from loopscape.spaces.io.yaml_constraints import dump_constraints_body, load_constraints_body
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset
from loopscape.spaces.workload import gemm

from test_mapspace_imperfect import SLOTS4, _brute, _options

ARCH = "eyexam_conv1d_array"  # DRAM, GlobalBuffer (a 4x4 fanout), RegFile


@pytest.mark.parametrize("bound", [2, 6, 7])
@pytest.mark.parametrize("limits", [None, (None, 6, 4, 2)])
def test_count_rank_unrank_match_the_brute_force_filtered_by_slot(bound, limits):
    opts = _options(bound)
    brute = _brute(bound, opts, limits)
    for allowed in itertools.product((False, True), repeat=4):
        ds = LevelImperfectDimSpace(bound, SLOTS4, opts, None, allowed)
        want = {c for c, res in brute.items()
                if all(r is None or ok for r, ok in zip(res, allowed))}
        assert ds.count(limits) == len(want)
        got = [ds.unrank(r, limits) for r in range(ds.count(limits))]
        assert set(got) == want
        if limits is None:
            assert [ds.rank(c) for c in got] == list(range(len(got)))  # rank order kept
        for c in set(brute) - want:  # a residual at a slot that may not have one
            with pytest.raises(KeyError):
                ds.rank(c)


def test_mapspace_counts_the_mappings_with_residuals_at_the_listed_levels_only():
    w, a = gemm(M=7, N=1, K=2, name="g"), load_arch_preset(ARCH)
    full = Mapspace(w, a, imperfect=True)
    only = Mapspace(w, a, Constraints(imperfect=True, imperfect_levels=("GlobalBuffer",)))
    perfect = Mapspace(w, a)
    want = [m for _, m in full.enumerate(legal=False)
            if all(lm.target == "GlobalBuffer" for lm in m.levels
                   for l in lm.temporal + lm.spatial if l.imperfect)]
    assert only.pruned_size == len(want)
    assert perfect.pruned_size < len(want) < full.pruned_size
    got = [m for _, m in only.enumerate(legal=False)]
    assert sorted(map(repr, got)) == sorted(map(repr, want))
    for mid, m in only.sample(30, seed=2):
        assert only.id(m) == mid


def test_yaml_form_round_trips_and_names_are_checked():
    w, a = gemm(M=7, N=3, K=1, name="g"), load_arch_preset(ARCH)
    at = Where("c.yaml", "constraints")
    c = load_constraints_body({"imperfect": {"dims": ["M"], "levels": ["GlobalBuffer"]}},
                              at, w, a)
    assert (c.imperfect, c.imperfect_dims, c.imperfect_levels) == \
        (True, ("M",), ("GlobalBuffer",))
    assert load_constraints_body(dump_constraints_body(c), at, w, a) == c
    c2 = load_constraints_body({"imperfect": {"levels": ["RegFile"]}}, at, w, a)
    assert c2.imperfect_dims is None and dump_constraints_body(c2)["imperfect"] == \
        {"levels": ["RegFile"]}
    with pytest.raises(SpecError, match="unknown level 'GlobalBufer'"):
        load_constraints_body({"imperfect": {"levels": ["GlobalBufer"]}}, at, w, a)
    with pytest.raises(SpecError, match="level"):
        load_constraints_body({"imperfect": {"level": ["RegFile"]}}, at, w, a)
    with pytest.raises(SpecError, match="not a level of"):
        Mapspace(w, a, Constraints(imperfect=True, imperfect_levels=("Nowhere",)))
