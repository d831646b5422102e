"""The ``local`` strategy on imperfect mapspaces: it finds the brute-force optimum of a
small space, its proposals are legal points of that space with the residuals the space
determines, and a seed fixes its result."""

from __future__ import annotations

import numpy as np
import pytest

from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import evaluate_batch
from loopscape.mapper import search
from loopscape.mapper.strategy import SearchContext, make_strategy
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.encoding import decode, encode
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset
from loopscape.spaces.residuals import coverage_problems
from loopscape.spaces.workload import gemm

ARCH = "eyexam_conv1d_array"  # a 4x4 mesh: M=5 fits it only with a residual


@pytest.fixture(scope="module")
def small():
    w, a = gemm(M=5, N=1, K=1, name="g5"), load_arch_preset(ARCH)
    best = {}
    for imperfect in (False, True):  # brute force: every legal point of each space
        maps = [m for _, m in Mapspace(w, a, imperfect=imperfect).enumerate()]
        r = evaluate_batch(w, a, encode(w, a, maps))
        best[imperfect] = float((r.energy_pj * 1e-12 * r.cycles).min())
    return w, a, best


def test_local_finds_the_brute_force_optimum_of_an_imperfect_space(small):
    w, a, best = small
    assert best[True] < best[False]  # residual loops pay off in this space
    for seed in range(3):  # a third of the 2,368 legal points per run
        r = search(w, a, Constraints(imperfect=True), strategy="local", objectives="edp",
                   evaluations=800, seed=seed, strategy_options={"init": 64})
        p = min(r.front, key=lambda p: p.evaluation["edp_j_cycles"])
        assert p.evaluation["edp_j_cycles"] == pytest.approx(best[True], rel=1e-12)
        assert p.mapping.imperfect
        assert evaluate(w, a, p.mapping).edp == pytest.approx(best[True], rel=1e-12)


def test_local_proposes_legal_points_of_the_imperfect_space(small):
    w, a, _ = small
    ms = Mapspace(w, a, imperfect=True)
    s = make_strategy("local", init=16, generation=64)
    s.setup(SearchContext(ms, ("edp",), (), seed=3))
    imperfect_rows = 0
    for _ in range(4):
        prop = s.ask(64)
        for k in range(len(prop)):
            m = decode(w, a, prop.batch, k)
            assert ms.is_legal(m) and not coverage_problems(m, w.dims, w.shape)
            assert ms.mapping(prop.ids[k]) is not None and ms.id(m) == prop.ids[k]
            imperfect_rows += m.imperfect
        r = evaluate_batch(w, a, prop.batch)
        s.tell(prop, (r.energy_pj * 1e-12 * r.cycles)[:, None])
    assert imperfect_rows > 0


def test_local_on_an_imperfect_space_is_deterministic_per_seed(small):
    w, a, _ = small
    runs = [search(w, a, Constraints(imperfect=True), strategy="local", objectives="edp",
                   evaluations=200, seed=s, strategy_options={"init": 32}) for s in (7, 7, 8)]
    fronts = [[(p.mapping, p.evaluation["edp_j_cycles"]) for p in r.front] for r in runs]
    assert fronts[0] == fronts[1]
    assert runs[0].stats.evaluated == runs[1].stats.evaluated == 200
