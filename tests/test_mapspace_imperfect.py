"""The mapspace's imperfect option: the allowed end sequences, counted, ranked, unranked
and sampled, checked against an independent brute force that walks the loops."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from loopscape.costmodels import evaluate
from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.imperfect import ImperfectDimSpace
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset
from loopscape.spaces.slots import Slot
from loopscape.spaces.workload import gemm


def _visited(ends, resid):
    """Points a nest of loops (outermost first) visits, walked iteration by iteration:
    a loop runs its residual on the last pass of all loops around it."""
    strides = [math.prod(ends[k + 1:]) for k in range(len(ends))]
    out = []

    def walk(k, last, base):
        if k == len(ends):
            out.append(base)
            return
        n = resid[k] if last else ends[k]
        for i in range(n):
            walk(k + 1, last and i == n - 1, base + i * strides[k])

    walk(0, True, 0)
    return out


def _brute(bound, options, limits=None):
    """{ends-with-axes: residuals} of every option tuple whose loops, with some choice of
    residuals and a perfect outermost non-unit loop, visit 0..bound-1 once each, and
    whose extents (the bound at and outside the outermost loop, the product of the ends
    inside it) stay within ``limits``."""
    got = {}
    for choice in itertools.product(*options):
        ends = [f for f, _ in choice]
        outer = next((k for k, f in enumerate(ends) if f > 1), len(ends))
        sols = []
        for resid in itertools.product(*[range(1, f + 1) for f in ends]):
            if outer < len(ends) and resid[outer] != ends[outer]:
                continue
            if sorted(_visited(ends, resid)) == list(range(bound)):
                sols.append(tuple(None if r == f or f == 1 else r
                                  for r, f in zip(resid, ends)))
        assert len(sols) <= 1  # the residuals are determined
        if not sols:
            continue
        if limits is not None:
            ext = [bound if j <= outer else math.prod(ends[j:]) for j in range(len(ends))]
            if any(lim is not None and e > lim for e, lim in zip(ext, limits)):
                continue
        got[choice] = sols[0]
    return got


SLOTS4 = (Slot(0, "T"), Slot(1, "T"), Slot(1, "S"), Slot(2, "T"))


def _options(bound, cap=3, rule_slot=None):
    t = [(f, "") for f in range(1, bound + 1)]
    s = [(1, "")] + [(f, "X") for f in range(2, cap + 1)] + [(2, "Y")]
    opts = [t, t, s, t]
    if rule_slot is not None:
        opts[rule_slot] = [(f, a) for f, a in opts[rule_slot] if f <= 2]
    return opts


@pytest.mark.parametrize("bound", [1, 2, 5, 6, 7])
@pytest.mark.parametrize("rule_slot", [None, 1])
def test_count_rank_unrank_and_residuals_match_brute_force(bound, rule_slot):
    opts = _options(bound, rule_slot=rule_slot)
    ds = ImperfectDimSpace(bound, SLOTS4, opts)
    want = _brute(bound, opts)
    assert ds.size == len(want)
    seen = {}
    for r in range(ds.size):
        c = ds.unrank(r)
        assert ds.rank(c) == r
        seen[c] = ds.residuals(c)
    assert seen == want


@pytest.mark.parametrize("limits", [(None, 4, 3, 2), (None, None, 2, None), (6, 6, 6, 6),
                                    (None, 7, 3, 3)])
def test_limits_cap_the_extents_as_brute_force(limits):
    bound = 7
    opts = _options(bound)
    ds = ImperfectDimSpace(bound, SLOTS4, opts)
    want = _brute(bound, opts, limits)
    assert ds.count(limits) == len(want)
    got = [ds.unrank(r, limits) for r in range(ds.count(limits))]
    assert set(got) == set(want) and len(set(got)) == len(got)
    # Capped ranks follow the uncapped order.
    assert [ds.rank(c) for c in got] == sorted(ds.rank(c) for c in got)


def test_perfect_factorizations_are_a_subset_and_by_signature_sums_to_the_size():
    opts = _options(12, cap=4)
    ds = ImperfectDimSpace(12, SLOTS4, opts)
    choices = [ds.unrank(r) for r in range(ds.size)]
    perfect = [c for c in choices if math.prod(f for f, _ in c) == 12]
    assert all(all(r is None for r in ds.residuals(c)) for c in perfect)
    brute_perfect = [c for c in itertools.product(*opts) if math.prod(f for f, _ in c) == 12]
    assert sorted(perfect) == sorted(brute_perfect)
    sig = ds.by_signature([True, True, False])
    assert sum(sig.values()) == ds.size
    # Level 0's and 1's temporal ends > 1, by brute force.
    brute = {}
    for c in choices:
        key = (int(c[0][0] > 1), int(c[1][0] > 1))
        brute[key] = brute.get(key, 0) + 1
    assert sig == brute


# -- the mapspace ---------------------------------------------------------------------

ARCH = "eyexam_conv1d_array"


def _space(imperfect, **kw):
    return Mapspace(gemm(M=3, N=5, K=2, name="g"), load_arch_preset(ARCH), imperfect=imperfect,
                    **kw)


def test_off_keeps_the_perfect_space_and_its_ids():
    a, b = _space(False), Mapspace(gemm(M=3, N=5, K=2, name="g"), load_arch_preset(ARCH))
    assert a.sizes() == b.sizes()
    for mid in random.Random(0).sample(range(a.size), 50):
        assert a.mapping(mid) == b.mapping(mid)


def test_ids_are_a_bijection_and_every_mapping_covers_the_layer():
    ms = _space(True)
    off = _space(False)
    assert ms.size > off.size
    w = ms.workload
    for mid in random.Random(1).sample(range(ms.size), 300):
        m = ms.mapping(mid)
        assert ms.id(m) == mid
        for d in w.dims:  # independent coverage: walk this dimension's loops
            loops = [l for lm in m.levels for l in lm.temporal + lm.spatial_y + lm.spatial_x
                     if l.dim == d and l.factor > 1]
            pts = _visited([l.factor for l in loops], [l.last for l in loops])
            assert sorted(pts) == list(range(w.bound(d)))


def test_pruned_size_counts_the_legal_free_enumeration():
    ms = Mapspace(gemm(M=3, N=2, K=1, name="g"), load_arch_preset(ARCH), imperfect=True)
    got = list(ms.enumerate(legal=False))
    assert len(got) == ms.pruned_size
    assert len({mid for mid, _ in got}) == len(got)


def test_samples_are_legal_points_with_residuals_in_the_batch():
    ms = _space(True)
    ids, batch = ms.sample_batch(40, seed=3)
    assert len(batch) == 40 and batch.residual is not None
    for mid in ids:
        m = ms.mapping(int(mid))
        assert ms.is_legal(m)
        evaluate(ms.workload, ms.arch, m)  # the model accepts every drawn point
    ids2, _ = ms.sample_batch(40, seed=3)
    assert list(ids) == list(ids2)


def test_a_mapping_with_wrong_residuals_has_no_id():
    ms = _space(True)
    m = next(m for _, m in ms.sample(50, seed=0) if any(
        l.imperfect for lm in m.levels for l in lm.temporal))
    import dataclasses
    lv = [dataclasses.replace(lm, temporal=tuple(
        dataclasses.replace(l, residual=None) for l in lm.temporal)) for lm in m.levels]
    with pytest.raises(KeyError):
        ms.id(dataclasses.replace(m, levels=tuple(lv)))
    with pytest.raises(KeyError):
        _space(False).id(m)


def test_factor_rules_apply_to_the_ends():
    c = Constraints((LevelConstraints("DRAM", temporal=(("N", FactorRule(exact=1)),)),))
    ms = _space(True, constraints=c)
    for mid in random.Random(2).sample(range(ms.size), 100):
        lm = ms.mapping(mid).levels[0]
        assert lm.factor("N", "temporal") == 1


# -- search ---------------------------------------------------------------------------

def test_random_search_finds_imperfect_mappings_and_bayesian_optimal_refuse():
    from loopscape.mapper import search
    from loopscape.spaces.errors import SpecError
    from loopscape.spaces.residuals import coverage_problems
    w = gemm(M=3, N=5, K=2, name="g")
    a = load_arch_preset(ARCH)
    r = search(w, a, Constraints(imperfect=True), strategy="random", evaluations=40, seed=0)
    for p in r.front:  # every front point covers the layer and scores as evaluated alone
        assert not coverage_problems(p.mapping, w.dims, w.shape)
        assert p.evaluation["edp_j_cycles"] == pytest.approx(evaluate(w, a, p.mapping).edp)
    for name in ("bayesian", "optimal"):
        with pytest.raises(SpecError, match="imperfect"):
            search(w, a, Constraints(imperfect=True), strategy=name, evaluations=10, seed=0)


def test_exhaustive_imperfect_search_beats_or_ties_the_perfect_one():
    from loopscape.mapper import search
    w = gemm(M=3, N=1, K=1, name="g")
    a = load_arch_preset(ARCH)
    best = {}
    for imp in (False, True):
        r = search(w, a, Constraints(imperfect=imp), strategy="exhaustive",
                   evaluations=10 ** 6, seed=0, objectives="edp")
        best[imp] = min(p.evaluation["edp_j_cycles"] for p in r.front)
    # The imperfect space contains the perfect one; its best is no worse, and its best
    # equals the best over its own enumeration, scored one by one.
    ms = Mapspace(w, a, imperfect=True)
    brute = min(evaluate(w, a, m).edp for _, m in ms.enumerate())
    assert best[True] <= best[False] * (1 + 1e-12)
    assert best[True] == pytest.approx(brute)


def test_cli_and_yaml_switch_on_the_same_space(tmp_path):
    import json
    from click.testing import CliRunner
    from loopscape.cli.main import cli
    from loopscape.spaces.io.yaml_constraints import (dump_constraints_body,
                                                      load_constraints_body)
    from loopscape.spaces.io.strict import Where
    run = CliRunner().invoke
    on = json.loads(run(cli, ["space", ARCH, "eyexam_conv1d", "--imperfect", "--json",
                              "--samples", "0"]).output)
    off = json.loads(run(cli, ["space", ARCH, "eyexam_conv1d", "--json",
                               "--samples", "0"]).output)
    assert on["imperfect"] and not off["imperfect"]
    assert on["sizes"]["total"] > off["sizes"]["total"]
    c = load_constraints_body({"imperfect": True}, Where("c.yaml", "constraints"))
    assert c.imperfect and dump_constraints_body(c)["imperfect"] is True
    assert not load_constraints_body(dump_constraints_body(c) | {"imperfect": False},
                                     Where("c.yaml", "constraints")).imperfect
    from loopscape.spaces.presets import load_workload_preset
    w = load_workload_preset("eyexam_conv1d")
    assert Mapspace(w, load_arch_preset(ARCH), c).size == on["sizes"]["total"]


@pytest.mark.parametrize("imperfect", [False, True])
def test_climb_proposes_legal_unseen_points_and_is_deterministic(imperfect):
    from loopscape.mapper import search
    from loopscape.mapper.strategy import SearchContext, make_strategy
    w = gemm(M=6, N=5, K=2, name="g")
    a = load_arch_preset(ARCH)
    ms = Mapspace(w, a, imperfect=imperfect)
    s = make_strategy("climb", init=8)
    s.setup(SearchContext(ms, ("edp",), (), seed=1))
    seen = set()
    for _ in range(6):
        prop = s.ask(8)
        assert len(prop) > 0
        for k, mid in enumerate(prop.ids):
            m = ms.mapping(mid)
            assert mid not in seen and ms.is_legal(m)
            seen.add(mid)
            assert evaluate(w, a, m).edp > 0
        s.tell(prop, np.array([[evaluate(w, a, ms.mapping(mid)).edp] for mid in prop.ids]))
    runs = [search(w, a, Constraints(imperfect=imperfect), strategy="climb", objectives="edp",
                   evaluations=60, seed=4) for _ in range(2)]
    assert [p.evaluation["edp_j_cycles"] for p in runs[0].front] == \
        [p.evaluation["edp_j_cycles"] for p in runs[1].front]


def test_imperfect_dims_limit_residuals_to_the_listed_dimensions():
    from loopscape.spaces.errors import SpecError
    from loopscape.spaces.io.strict import Where
    from loopscape.spaces.io.yaml_constraints import (dump_constraints_body,
                                                      load_constraints_body)
    w, a = gemm(M=3, N=5, K=2, name="g"), load_arch_preset(ARCH)
    c = load_constraints_body({"imperfect": ["N"]}, Where("c.yaml", "constraints"), w)
    assert c.imperfect and c.imperfect_dims == ("N",)
    assert dump_constraints_body(c)["imperfect"] == ["N"]
    only_n, off, on = Mapspace(w, a, c), Mapspace(w, a), Mapspace(w, a, imperfect=True)
    per = {d: (ds_off.size, ds_on.size) for d, ds_off, ds_on in
           zip(w.dims, off.dim_spaces, on.dim_spaces)}
    # Factorization counts: N from the imperfect space, M and K from the perfect one.
    want = math.prod(per[d][1] if d == "N" else per[d][0] for d in w.dims)
    assert only_n.factorization_size == want
    for mid in random.Random(5).sample(range(only_n.size), 200):
        m = only_n.mapping(mid)
        assert only_n.id(m) == mid
        assert all(l.dim == "N" for lm in m.levels for l in lm.temporal + lm.spatial
                   if l.imperfect)
    with pytest.raises(SpecError, match="dimension"):
        load_constraints_body({"imperfect": ["Z"]}, Where("c.yaml", "constraints"), w)
    with pytest.raises(SpecError, match="not a dimension"):
        Mapspace(w, a, Constraints(imperfect=True, imperfect_dims=("Z",)))
