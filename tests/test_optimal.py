"""The optimal strategy against brute force: every id of the unpruned mapspace scored by
the scalar model; and each bound rule checked for admissibility (docs/optimal.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import SEMANTICS, ModelOptions
from loopscape.mapper import search
from loopscape.mapper.objectives import objective_values_scalar
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.sparsity import Density, SparsitySpec

from optimal_checks import assert_admissible
from strategies import architectures, layers

EX05 = Path(__file__).parent / "fixtures" / "timeloop"
# 'optimal' refuses link transfers (on by default): every search here turns them off.
NOLINKS = ModelOptions(link_transfers=False)


def _model(semantics: str) -> ModelOptions:
    return ModelOptions(semantics=semantics, link_transfers=False)


def brute_front(ms: Mapspace, objectives, model: ModelOptions = NOLINKS
                ) -> dict[int, tuple[float, ...]]:
    """Every id scored by the scalar model (under ``model``); the non-dominated values,
    each with the lowest canonical id reaching it (all objectives minimized)."""
    pts = []
    for mid in range(ms.size):
        m = ms.mapping(mid)
        if ms.is_legal(m) and ms.is_canonical(mid):
            ev = evaluate(ms.workload, ms.arch, m, options=model)
            pts.append((mid, objective_values_scalar(objectives, ev)))
    x = np.array([v for _, v in pts])
    front = {}
    for mid, v in pts:
        v_ = np.array(v)
        if ((x <= v_).all(axis=1) & (x < v_).any(axis=1)).any():
            continue
        if v not in front.values():
            front[mid] = v  # ids ascend: the first id of equal values is the lowest
    return front


def check_exact(ms: Mapspace, constraints, objectives=("energy_pj", "cycles"),
                model: ModelOptions = NOLINKS, **options):
    res = search(ms.workload, ms.arch, constraints, strategy="optimal", objectives=objectives,
                 strategy_options=options, seconds=600, options=model)
    got = {p.mapspace_id: tuple(p.objectives[o] for o in res.objectives) for p in res.front}
    want = brute_front(ms, res.objectives, model)
    assert got == want
    s = res.stats
    assert s.optimal is True and s.gap == 0.0
    cert = s.certificate
    # Every canonical mapping is accounted for: evaluated, illegal or removed by a rule.
    assert cert["evaluated"] + sum(cert["pruned"].values()) + sum(cert["illegal"].values()) \
        == ms.pruned_size
    return res
    return res


def _ex05(case: str):
    path = EX05 / case / "parsed-processed-input.yaml"
    spec = load_timeloop([path, EX05 / case / "timeloop-mapper.ERT.yaml"])
    c = timeloop_constraints(spec, spec.workload, spec.arch, source=str(path))
    return spec.workload, spec.arch, c


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("case", ["ex05_mapper_conv1d_oc_3level_freebypass",
                                  "ex05_mapper_conv1d_oc_3level_baked"])
def test_ex05_with_constraints_equals_brute_force(case, semantics):
    w, a, c = _ex05(case)
    ms = Mapspace(w, a, c)
    model = _model(semantics)
    check_exact(ms, c, model=model)
    check_exact(ms, c, model=model, warm_start=0)  # without the incumbent seed, same front


def test_ex05_without_constraints_on_a_smaller_problem():
    # ex05's architecture with no constraints, on K2 R3 P1 (every id enumerable in a test).
    w, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    small = dataclasses.replace(w, bounds=tuple({"K": 2, "R": 3, "P": 1}[d] for d in w.dims))
    ms = Mapspace(small, a)
    assert ms.size < 20000
    check_exact(ms, None, block=16)  # small blocks: subtrees are bounded before blocks


def _ex05_small(bounds: dict, pes: int = 1):
    """ex05's architecture, unconstrained, on a reduced layer; ``pes`` register files
    side by side (a fanout of the global buffer along X)."""
    w, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    if pes > 1:
        lv = list(a.levels)
        lv[2] = dataclasses.replace(lv[2], instances=pes, mesh_x=pes)
        a = dataclasses.replace(a, levels=tuple(lv),
                                compute=dataclasses.replace(a.compute, instances=pes, mesh_x=pes))
    return dataclasses.replace(w, bounds=tuple(bounds[d] for d in w.dims)), a


@pytest.mark.parametrize("bounds, pes, objectives, rules, block", [
    # cycles are bounded exactly by B1: whole subtrees go (small blocks), or whole tilings
    # (blocks holding every completion of the first dimension)
    ({"K": 4, "R": 3, "P": 1}, 4, ("cycles",), ("subtree_bound",), 4),
    ({"K": 4, "R": 3, "P": 1}, 4, ("cycles",), ("tiling_bound",), 64),
    # B3-B7 per keep choice
    ({"K": 4, "R": 3, "P": 1}, 4, ("edp",), ("keep_bound",), 4),
    # the exact outermost-level traffic of one order per (outermost order, keep choice)
    ({"K": 4, "R": 1, "P": 4}, 1, ("energy_pj",), ("order_bound",), 4),
])
def test_each_rule_removes_mappings_and_the_front_stays_exact(bounds, pes, objectives, rules,
                                                              block):
    w, a = _ex05_small(bounds, pes)
    ms = Mapspace(w, a)
    res = check_exact(ms, None, objectives, block=block, warm_start=64)
    for rule in rules:
        assert res.stats.certificate["pruned"][rule] > 0, rule


def _energetic(draw, arch):
    """Give a random architecture energies, vector widths, small capacities and (below
    the outermost level) clustered instances."""
    levels = []
    for i, lvl in enumerate(arch.levels):
        e = draw(st.sampled_from([0.5, 1.0, 4.0, 50.0]))
        cap = None if i == 0 else draw(st.sampled_from([None, 8, 32, 128]))
        clusters = [k for k in range(1, lvl.instances + 1) if lvl.instances % k == 0]
        cluster = 1 if i == 0 else draw(st.sampled_from([1] + clusters))
        levels.append(dataclasses.replace(
            lvl, read_energy_pj=e, fill_energy_pj=e * draw(st.sampled_from([0.5, 1.0])),
            update_energy_pj=e * 1.5, leak_energy_pj=draw(st.sampled_from([0.0, 0.01])),
            capacity_words=cap, block_size=draw(st.sampled_from([1, 1, 2])) if i == 0 else 1,
            read_bandwidth=draw(st.sampled_from([None, None, 2.0])), cluster_size=cluster))
    return dataclasses.replace(arch, levels=tuple(levels),
                               compute=dataclasses.replace(arch.compute, energy_pj=1.0))


def _constraints(draw, w, a):
    """Random level constraints: pinned outer/inner loops, forced keeps and bypasses, a
    factor cap, a minimum PE utilization."""
    levels = []
    for i, lvl in enumerate(a.levels):
        if not draw(st.booleans()):
            continue
        dims = list(w.dims)
        outer = tuple(draw(st.lists(st.sampled_from(dims), max_size=1, unique=True)))
        inner = tuple(d for d in draw(st.lists(st.sampled_from(dims), max_size=1, unique=True))
                      if d not in outer)
        keep = bypass = ()
        if i > 0 and not lvl.dummy:
            choice = draw(st.lists(st.sampled_from(w.tensor_names), max_size=2, unique=True))
            keep, bypass = tuple(choice[:1]), tuple(choice[1:])
        cap = draw(st.sampled_from([None, 2]))
        temporal = ((dims[0], FactorRule(max=cap)),) if cap else ()
        levels.append(LevelConstraints(lvl.name, temporal=temporal, outer=outer, inner=inner,
                                       keep=keep, bypass=bypass))
    return Constraints(tuple(levels), min_pe_utilization=draw(st.sampled_from([0.0, 0.5])))


@st.composite
def small_spaces(draw, constrained: bool = False):
    w = draw(layers(max_macs=96))
    a = _energetic(draw, draw(architectures(max_fanout=2, max_pes=4)))
    c = _constraints(draw, w, a) if constrained else None
    try:
        ms = Mapspace(w, a, c)
    except Exception:  # a layer that fits no mapping, or contradictory constraints
        assume(False)
    assume(ms.size <= 3000)
    return ms


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.sampled_from([("energy_pj", "cycles"), ("edp",), ("energy_pj",),
                                        ("cycles", "dram_words")]), st.sampled_from(SEMANTICS))
def test_random_small_spaces_equal_brute_force(ms, objectives, semantics):
    check_exact(ms, None, objectives, _model(semantics), block=8,
                warm_start=32)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(constrained=True), st.sampled_from([("energy_pj", "cycles"), ("edp",)]),
       st.sampled_from(SEMANTICS))
def test_random_constrained_spaces_equal_brute_force(ms, objectives, semantics):
    check_exact(ms, ms.constraints, objectives, _model(semantics), block=8,
                warm_start=32)


@pytest.mark.parametrize("semantics", SEMANTICS)
def test_clustered_level_equals_brute_force(semantics):
    """ex05's register files, 4 side by side, sharing one array per pair (cluster_size 2):
    the model charges their accesses per utilized pair."""
    w, a = _ex05_small({"K": 4, "R": 3, "P": 1}, 4)
    lv = list(a.levels)
    lv[2] = dataclasses.replace(lv[2], cluster_size=2)
    a = dataclasses.replace(a, levels=tuple(lv))
    ms = Mapspace(w, a)
    check_exact(ms, None, ("energy_pj", "cycles"), _model(semantics),
                block=4, warm_start=64)


def test_sparsity_is_refused():
    w, a, c = _ex05("ex05_mapper_conv1d_oc_3level_freebypass")
    with pytest.raises(SpecError, match="sparsity: .*optimal.*fix: search the dense layer"):
        search(w, a, c, strategy="optimal", evaluations=100, options=NOLINKS,
               sparsity=SparsitySpec(((w.tensor_names[0], Density(density=0.5)),)))


LINKS = [ModelOptions(semantics=s, link_transfers=True) for s in SEMANTICS]


def test_link_transfers_equal_brute_force():
    """Row-stationary conv1d (docs/semantics.md, link transfers): R spread over 3
    registers, P temporal above them. Links lower the buffer's Inputs reads of some
    mappings of this space (checked), the bounds leave out what links can lower, and the
    optimal front under links equals brute force under links."""
    model = LINKS[0]  # the default semantics (both: the hypothesis test below)
    w, a = _ex05_small({"K": 1, "R": 3, "P": 4}, 3)
    ms = Mapspace(w, a)
    plain = dataclasses.replace(model, link_transfers=False)
    legal = (ms.mapping(mid) for mid in range(0, ms.size, 7))
    assert any(evaluate(w, a, m, options=model).energy_pj <
               evaluate(w, a, m, options=plain).energy_pj for m in legal if ms.is_legal(m))
    check_exact(ms, None, ("energy_pj", "cycles"), model, block=4, warm_start=16)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.sampled_from([("energy_pj", "cycles"), ("edp",), ("energy_pj",)]),
       st.sampled_from(LINKS))
def test_random_small_spaces_with_links_equal_brute_force(ms, objectives, model):
    check_exact(ms, None, objectives, model, block=8, warm_start=32)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from(SEMANTICS), st.booleans())
def test_bounds_are_admissible(ms, seed, semantics, links):
    """Rules B1-B7 (with link transfers: the link rule): the tiling bound is below the
    energy and cycles of every mapping of the tiling, and the subtree bound below every
    tiling's bound."""
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, links=links)
    rng = np.random.default_rng(seed)
    for mid in rng.integers(0, ms.size, 30):
        m = ms.mapping(int(mid))
        if not ms.is_legal(m):
            continue
        ev = evaluate(ms.workload, ms.arch, m,
                      options=ModelOptions(semantics=semantics, link_transfers=links))
        assert_admissible(ms, bd, st_, int(mid), ev)


def test_b7_counts_a_sliding_windows_runs_by_hand():
    """Rule B7 on conv1d Inputs[c, r + p] (C2 M2 P4 R3): MainMemory loops m2 c2 p2 over a
    Buffer holding r3 p2. Hand count: whatever the order, the input channel changes at
    least twice (2 runs, C is the only solo dimension); within a run the window slides
    over p = 0..3, so the Buffer receives at least the union 4 + 3 - 1 = 6 words: 12.
    B6 counts one tile (2 + 3 - 1 = 4) per C step: 8. The model's fills over the six
    MainMemory orders: none below 12, and 12 at (c, p, m), which puts the loop Inputs
    ignores innermost."""
    from itertools import permutations
    from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                                  StorageLevel, einsum)
    w = einsum("Outputs[m,p] += Weights[m,c,r] * Inputs[c,r+p]",
               {"m": 2, "c": 2, "r": 3, "p": 4}, name="conv1d")
    arch = Architecture("two", (StorageLevel("MainMemory"), StorageLevel("Buffer")),
                        ComputeLevel("MAC", 1, 1, 1))
    bd = Bounder(w, arch, structure(Mapspace(w, arch)))
    want = {"m": (2, 1), "c": (2, 1), "r": (1, 3), "p": (2, 2)}  # (MainMemory, Buffer)
    rows = [next(i for i, t in enumerate(bd.dims[di].temporal) if tuple(t) == want[d])
            for di, d in enumerate(w.dims)]
    tem = np.stack([bd.dims[di].temporal[r] for di, r in enumerate(rows)], axis=1)[None]
    ext = np.stack([bd.dims[di].ext[r] for di, r in enumerate(rows)], axis=1)[None]
    pos = np.prod([bd.dims[di].pos[r] for di, r in enumerate(rows)], axis=0)
    ti = w.tensor_names.index("Inputs")
    col = bd.col_ce[(ti, 1)]
    words = bd.solo_words[ti] * pos[bd.col_r[(ti, 1)]]
    assert words * bd.compound_extents(ext)[0, col] == 8  # B6
    assert words * bd.tiling_extents(tem, ext)[0, col] == 12  # B7
    fills = {}
    for order in permutations("mcp"):
        m = Mapping((LevelMapping("MainMemory", tuple(Loop(d, 2) for d in order),
                                  keep=w.tensor_names),
                     LevelMapping("Buffer", (Loop("p", 2), Loop("r", 3)), keep=w.tensor_names)))
        fills["".join(order)] = evaluate(w, arch, m).level("Buffer").tensors["Inputs"].fills
    assert min(fills.values()) == 12 and fills["cpm"] == 12


def test_stopped_early_reports_a_proven_gap():
    w, a, _ = _ex05("ex05_mapper_conv1d_oc_3level_null")
    res = search(w, a, strategy="optimal", evaluations=2000, strategy_options={"warm_start": 0},
                 options=NOLINKS)
    s = res.stats
    assert s.optimal is False and s.gap is not None and s.gap > 0
    cert = s.certificate
    assert cert["gap_objective"] == "edp"
    best = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in res.front)
    assert cert["best"] == pytest.approx(best)
    assert cert["lower_bound"] <= best
    assert s.gap == pytest.approx(best / cert["lower_bound"] - 1)


def test_two_jobs_same_front_as_one():
    w, a, c = _ex05("ex05_mapper_conv1d_oc_3level_freebypass")
    one = search(w, a, c, strategy="optimal", seconds=600, options=NOLINKS)
    two = search(w, a, c, strategy="optimal", seconds=600, jobs=2, options=NOLINKS)
    assert [(p.mapspace_id, p.objectives) for p in one.front] == \
        [(p.mapspace_id, p.objectives) for p in two.front]
    assert two.stats.optimal is True


def test_sweep_summary_states_optimal_and_gap():
    from loopscape.mapper.sweep import SweepSettings, sweep
    from loopscape.spaces.presets import resolve_arch
    from loopscape.spaces.workload import fully_connected
    from loopscape.spaces.workloads.zoo import ZooLayer
    arch = resolve_arch("simple_weight_stationary")
    net = [ZooLayer("l0", fully_connected(C=2, M=2, name="net.l0"), "test"),
           ZooLayer("l1", fully_connected(C=2, M=1, name="net.l1"), "test")]
    done = sweep(net, arch, None, network="net",
                 settings=SweepSettings(strategy="optimal", evaluations=10**7, model=NOLINKS))
    assert [(v["optimal"], v["gap"]) for v in done.summary["searches"].values()] == \
        [(True, 0.0)] * 2
    cut = sweep(net[:1], arch, None, network="net",
                settings=SweepSettings(strategy="optimal", evaluations=50, model=NOLINKS))
    (only,) = cut.summary["searches"].values()
    assert only["optimal"] is False


def _probe_terms_agree(ms: Mapspace, model: ModelOptions, seed: int) -> int:
    """Rule order_bound under links scores its probes without links: the terms it reads
    off them (each tensor's outermost-level energy and level 1's fills, for outputs, and
    for read-only tensors when the outermost level has no fanout) are equal in both
    models, on mappings drawn from the space."""
    from loopscape.costmodels.batched import BatchEvaluator
    _, batch = ms.sample_batch(64, seed=seed, max_draws=5000)
    if not len(batch):
        return 0
    on = BatchEvaluator(ms.workload, ms.arch, options=model)(batch)
    off = BatchEvaluator(ms.workload, ms.arch,
                         options=dataclasses.replace(model, link_transfers=False))(batch)
    linkless0 = ms.arch.fanout(0) == (1, 1)
    for ti, t in enumerate(ms.workload.tensors):
        if not (t.read_write or linkless0):
            continue
        np.testing.assert_allclose(on.tensor_energy_pj[:, 0, ti], off.tensor_energy_pj[:, 0, ti])
        kept1 = batch.keep[:, 1, ti]
        np.testing.assert_array_equal(on.fills[kept1, 1, ti], off.fills[kept1, 1, ti])
    return int((on.energy_pj != off.energy_pj).sum())  # rows whose links change the energy


def test_probe_terms_do_not_depend_on_links_row_stationary():
    """The row-stationary case where links change the scored energy (checked above)."""
    w, a = _ex05_small({"K": 1, "R": 3, "P": 4}, 3)
    assert _probe_terms_agree(Mapspace(w, a), LINKS[0], 0) > 0


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from(LINKS))
def test_probe_terms_do_not_depend_on_links(ms, seed, model):
    _probe_terms_agree(ms, model, seed)
