"""Rule L of the optimal strategy (docs/optimal.md, "Link transfers (rule L)"): under link
transfers the bounds keep B3, every keeper's serve terms (B5-B7) and the fills' B7 outer
part. Checked for admissibility on row-stationary spaces where links change the energy
(both semantics, several fanouts between two keepers, clustered levels), against brute
force under links, and against a hand count."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimal_checks import assert_admissible, link_words
from test_optimal import _ex05_small, check_exact

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import SEMANTICS, ModelOptions
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.mapping import LevelMapping, Loop, Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import conv2d

LINKS = [ModelOptions(semantics=s, link_transfers=True) for s in SEMANTICS]


def mini_eyeriss(fx: int = 3, fy: int = 3, glb_fan: int = 1, cluster: int = 1) -> Architecture:
    """An Eyeriss-like design in small: DRAM, a global buffer keeping Inputs and Outputs,
    two dummy levels carrying the fanouts (``glb_fan`` columns, then ``fx`` along X and
    ``fy`` along Y below them), one scratchpad per tensor (the inputs' clustered by
    ``cluster``). Every read-only tensor crosses two or three fanouts between keepers."""
    n = glb_fan * fx * fy
    mx = glb_fan * fx

    def lvl(name, inst, x, y, **kw):
        return StorageLevel(name, instances=inst, mesh_x=x, mesh_y=y, **kw)
    levels = (
        lvl("DRAM", 1, 1, 1, read_energy_pj=200.0, fill_energy_pj=200.0, update_energy_pj=200.0),
        lvl("GLB", 1, 1, 1, read_energy_pj=6.0, fill_energy_pj=5.0, update_energy_pj=5.0,
            keeps=("Inputs", "Outputs"), block_size=2, leak_energy_pj=0.01),
        lvl("col", glb_fan, glb_fan, 1, dummy=True),
        lvl("row", mx, mx, 1, dummy=True),
        lvl("ispad", n, mx, fy, read_energy_pj=0.2, fill_energy_pj=0.2, keeps=("Inputs",),
            cluster_size=cluster),
        lvl("wspad", n, mx, fy, read_energy_pj=1.0, fill_energy_pj=1.0, keeps=("Weights",)),
        lvl("pspad", n, mx, fy, read_energy_pj=0.25, fill_energy_pj=0.2, update_energy_pj=0.2,
            keeps=("Outputs",)))
    return Architecture("mini_eyeriss", levels, ComputeLevel("MAC", n, mx, fy, energy_pj=0.2))


def row_stationary(w) -> Constraints:
    """Row-stationary constraints: the filter rows R spread whole along Y, Q, M across the
    columns, no temporal loop on the dummies and P, Q temporal above the scratchpads (so a
    P step moves every scratchpad's input row by one: a neighbour's previous row)."""
    one = FactorRule(exact=1)
    none = tuple((d, one) for d in w.dims)
    pq = tuple((d, one) for d in w.dims if d in ("P", "Q"))
    return Constraints((
        LevelConstraints("col", temporal=none, spatial=(("P", one),), spatial_x=("Q", "M"),
                         spatial_y=()),
        LevelConstraints("row", temporal=none, spatial=(("R", FactorRule(whole=True)),),
                         spatial_x=(), spatial_y=("R", "S", "C", "M")),
        LevelConstraints("ispad", temporal=pq),
        LevelConstraints("wspad", temporal=pq),
        LevelConstraints("pspad", temporal=pq)))


def _admissible_with_links(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> int:
    """Draw ``n`` legal mappings, check every bound of each under ``model`` (links on);
    return how many move words over links."""
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, links=True)
    linked = 0
    for mid, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, ms.arch, m, options=model)
        linked += link_words(ev) > 0
        assert_admissible(ms, bd, st_, mid, ev)
    return linked


ARCHS = {"one_fanout_pair": dict(), "three_fanouts_clustered": dict(fx=2, glb_fan=2, cluster=3)}


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("model", LINKS, ids=SEMANTICS)
def test_bounds_admissible_where_links_change_the_energy(arch, model):
    w = conv2d(C=2, M=2, P=6, Q=3, R=3, S=2)
    ms = Mapspace(w, mini_eyeriss(**ARCHS[arch]), row_stationary(w))
    # a good fraction of the drawn mappings move words over links (the rule is exercised)
    assert _admissible_with_links(ms, model, 40, seed=1) >= 6


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 2),
                              "P": st.integers(2, 6), "Q": st.integers(1, 3),
                              "R": st.integers(2, 3), "S": st.integers(1, 2)}),
       st.sampled_from(sorted(ARCHS)), st.sampled_from(LINKS), st.booleans(),
       st.integers(0, 2**31))
def test_bounds_admissible_under_links_random_layers(dims, arch, model, constrained, seed):
    """Random small convolutions on the mini Eyeriss designs, row-stationary or free."""
    w = conv2d(**dims)
    a = mini_eyeriss(**ARCHS[arch])
    try:
        ms = Mapspace(w, a, row_stationary(w) if constrained else None)
    except Exception:  # a layer the constraints leave no mapping for
        return
    _admissible_with_links(ms, model, 12, seed=seed)


def _tiny_eyeriss_space():
    """A mini Eyeriss space small enough for brute force: R 3 along Y over 3 scratchpads
    (two dummy fanout levels between the global buffer and them), P 4 temporal above."""
    w = conv2d(C=1, M=1, P=4, Q=1, R=3, S=1)
    a = mini_eyeriss(fx=1, fy=3)
    one = FactorRule(exact=1)
    c = Constraints((
        LevelConstraints("DRAM", temporal=(("P", FactorRule(max=2)),)),
        LevelConstraints("col", temporal=tuple((d, one) for d in w.dims)),
        LevelConstraints("row", temporal=tuple((d, one) for d in w.dims),
                         spatial=(("R", FactorRule(whole=True)),)),
        LevelConstraints("ispad", temporal=(("P", one),)),
        LevelConstraints("wspad", temporal=(("P", one),)),
        LevelConstraints("pspad", temporal=(("P", one),))))
    return Mapspace(w, a, c), c


@pytest.mark.parametrize("model", LINKS, ids=SEMANTICS)
def test_front_under_links_equals_brute_force(model):
    """The tiny mini Eyeriss space (and, under timeloop-pre297, the row-stationary conv1d
    of tests/test_optimal.py, which checks it under the default semantics): links lower
    some mappings' energy, and the optimal front under links equals the brute-force front
    under links."""
    if model.semantics != "timeloop":
        w, a = _ex05_small({"K": 1, "R": 3, "P": 4}, 3)
        check_exact(Mapspace(w, a), None, ("energy_pj", "cycles"), model, block=4,
                    warm_start=16)
    ms, c = _tiny_eyeriss_space()
    plain = dataclasses.replace(model, link_transfers=False)
    lower = [evaluate(ms.workload, ms.arch, m, options=model).energy_pj <
             evaluate(ms.workload, ms.arch, m, options=plain).energy_pj
             for _, m in ms.sample(20, seed=0)]
    assert any(lower)
    check_exact(ms, c, ("energy_pj", "cycles"), model, block=4, warm_start=0)


def conv1d_registers(costly: int, buffer_keeps: tuple[str, ...] | None):
    """Conv1d Inputs[r + p] (R 3, P 4) on ex05's architecture with 3 register files, every
    energy 0 but level ``costly``'s reads (1 pJ a word); the mapping spreads R over the
    registers, P 4 temporal at the global buffer, which keeps ``buffer_keeps`` (None:
    every tensor). Returns (workload, architecture, mapping)."""
    w, a = _ex05_small({"K": 1, "R": 3, "P": 4}, 3)
    lv = [dataclasses.replace(l, read_energy_pj=0.0, fill_energy_pj=0.0, update_energy_pj=0.0,
                              leak_energy_pj=0.0, block_size=1) for l in a.levels]
    lv[costly] = dataclasses.replace(lv[costly], read_energy_pj=1.0)
    a = dataclasses.replace(a, levels=tuple(lv), compute=dataclasses.replace(a.compute,
                                                                             energy_pj=0.0))
    keeps = w.tensor_names if buffer_keeps is None else buffer_keeps
    m = Mapping((LevelMapping("MainMemory", (), keep=w.tensor_names),
                 LevelMapping("GlobalBuffer", (Loop("P", 4),), spatial_x=(Loop("R", 3),),
                              keep=keeps),
                 LevelMapping("RegisterFile", (), keep=("Inputs",))))
    return w, a, m


def test_serve_term_kept_under_links_by_hand():
    """Conv1d Inputs[r + p] (R 3, P 4): R spread over 3 registers below a global buffer,
    P 4 temporal at the buffer, every energy 0 but the buffer's reads (1 pJ a word).
    Hand count: each register holds one word and steps through p = 0..3 with its r, so
    it receives the union of its run's tiles, 4 words (no solo dimension: the whole loop
    nest is one run); the three registers' words at the first visit are distinct, so the
    buffer serves at least 4 words with or without links. The model: 12 reads without
    links (4 words x 3 registers), 6 with them (3 at the first visit, then at each P
    step two registers take their neighbour's previous word). The bound under links is
    the no-link bound, 4 (before rule L kept this term it was 0)."""
    w, a, m = conv1d_registers(1, None)
    reads = {links: evaluate(w, a, m, options=ModelOptions(link_transfers=links))
             .level("GlobalBuffer").tensors["Inputs"].reads for links in (False, True)}
    assert reads == {False: 12, True: 6}
    ms = Mapspace(w, a)
    st_ = structure(ms)
    ti = w.tensor_names.index("Inputs")
    want = {"K": (1, 1, 1), "R": (1, 1, 1), "P": (1, 4, 1)}  # temporal per level
    rows = [next(i for i, (t, s) in enumerate(zip(f.temporal, f.sx))
                 if tuple(t) == want[d] and (s[1] == 3) == (d == "R"))
            for d, f in zip(st_.dims, Bounder(w, a, st_).dims)]
    terms = {}
    for links in (False, True):
        bd = Bounder(w, a, st_, links=links)
        pos = np.prod([bd.dims[di].pos[r] for di, r in enumerate(rows)], axis=0)[None]
        neg = np.prod([bd.dims[di].neg[r] for di, r in enumerate(rows)], axis=0)[None]
        ext = np.stack([bd.dims[di].ext[r] for di, r in enumerate(rows)], axis=1)[None]
        tem = np.stack([bd.dims[di].temporal[r] for di, r in enumerate(rows)], axis=1)[None]
        ce = bd.tiling_extents(tem, ext)
        terms[links] = float(bd.chain_energy(ti, (0, 1, 2), pos, neg, ce=ce)[0])
    assert terms == {False: pytest.approx(4.0), True: pytest.approx(4.0)}


def test_setup_without_options_bounds_the_default_model():
    """A strategy set up without model options is scored with the default model (link
    transfers on), so its bounder must assume links too: the kept fill terms of rule L
    would not be admissible for a linked model bounded as a link-free one."""
    from loopscape.costmodels.options import DEFAULT_OPTIONS
    from loopscape.mapper.strategies.base import SearchContext
    from loopscape.mapper.strategies.optimal.search import OptimalSearch

    arch = mini_eyeriss()
    space = Mapspace(conv2d(C=2, M=2, P=3, Q=1, R=3, S=1), arch, None)
    strat = OptimalSearch(warm_start=0)
    strat.setup(SearchContext(space, ("energy_pj", "cycles"), (), seed=0))
    assert DEFAULT_OPTIONS.link_transfers and strat.bd.links
    strat = OptimalSearch(warm_start=0)
    strat.setup(SearchContext(space, ("energy_pj", "cycles"), (), seed=0,
                              extra={"options": ModelOptions(link_transfers=False)}))
    assert not strat.bd.links
