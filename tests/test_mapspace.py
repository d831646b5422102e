"""The mapspace: sizes against Timeloop's counts, id bijection, pruning, enumeration,
legality of everything emitted, and uniform sampling."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.mapping import check_mapping
from loopscape.spaces.mapspace import Mapspace

from strategies import architectures, layers

FIX = Path(__file__).resolve().parent / "fixtures" / "timeloop"


def _spec(case):
    d = FIX / case
    return load_timeloop([d / "parsed-processed-input.yaml", *sorted(d.glob("*.ERT.yaml"))])


def test_ex05_sizes_match_timeloop():
    spec = _spec("ex05_mapper_conv1d_oc_3level_null")
    ms = Mapspace(spec.workload, spec.arch)
    s = ms.sizes()
    # Timeloop: 945 index factorizations (K=2^5 over 3 levels: C(7,2)=21; R=3: 3;
    # P=2^4: C(6,2)=15; 21*3*15) and 64 bypass choices (3 tensors x 2 inner levels).
    assert s["index_factorization"] == 945
    assert s["bypass"] == 64
    # Loop orders: 3! at MainMemory and at GlobalBuffer; the innermost order is fixed.
    assert s["loop_permutation"] == 36
    assert s["total"] == 945 * 36 * 64 == 2_177_280


def _eyeriss_constraints(dims):
    """The design_eyeriss_like architecture constraints, written by hand from its
    parsed-processed-input.yaml (independently of the Timeloop constraints importer)."""
    one = FactorRule(exact=1)
    rules = lambda names: tuple((d, one) for d in names)  # noqa: E731
    return Constraints((
        LevelConstraints("DRAM", inner=("N",)),
        LevelConstraints("shared_glb", inner=("N",), keep=("Inputs", "Outputs"),
                         bypass=("Weights",)),
        LevelConstraints("inter_PE_column_spatial", temporal=rules(dims),
                         spatial=rules("NCPRS"), spatial_x=tuple("NCPRSQM"), spatial_y=()),
        LevelConstraints("inter_PE_spatial", temporal=rules(dims), spatial=rules("NPQR"),
                         spatial_x=(), spatial_y=tuple("NPQRSCM")),
        LevelConstraints("ifmap_spad", temporal=rules(dims), keep=("Inputs",),
                         bypass=("Weights", "Outputs")),
        LevelConstraints("weights_spad", temporal=rules("NMPQS"), keep=("Weights",),
                         bypass=("Inputs", "Outputs")),
        LevelConstraints("psum_spad", temporal=rules("NCRSPQ"), keep=("Outputs",),
                         bypass=("Weights", "Inputs")),
    ))


def test_eyeriss_index_factorization_matches_timeloop():
    spec = _spec("design_eyeriss_like")
    ms = Mapspace(spec.workload, spec.arch, _eyeriss_constraints(spec.workload.dims))
    # Timeloop's count for this design, problem and constraints. By hand: free slots
    # C: DRAM, glb, PE-row spatial, weights_spad (3 over 4 slots: 4); M=2^5 over DRAM,
    # glb, column, row, psum (C(9,4)=126); R: DRAM, glb, weights (3); S: DRAM, glb, row
    # (3); P=2^4*7 over DRAM, glb (5*2=10); Q over DRAM, glb, column (15*3=45).
    assert ms.sizes()["index_factorization"] == 4 * 126 * 3 * 3 * 10 * 45 == 2_041_200


def test_pruned_count_equals_brute_force_on_ex05():
    spec = _spec("ex05_mapper_conv1d_oc_3level_null")
    # A smaller problem of the same shape keeps the brute force fast.
    from loopscape.spaces.workload import einsum
    w = einsum("Outputs[k,p] += Weights[k,r] * Inputs[r+p]", {"k": 4, "r": 3, "p": 2},
               name="small")
    ms = Mapspace(w, spec.arch)
    canonical = [mid for mid in range(ms.size) if ms.is_canonical(mid)]
    assert len(canonical) == ms.pruned_size
    enumerated = [mid for mid, _ in ms.enumerate(legal=False)]
    assert enumerated == canonical


@st.composite
def small_spaces(draw):
    w = draw(layers(max_macs=200))
    a = draw(architectures(max_levels=3, max_fanout=3, max_pes=6))
    return Mapspace(w, a)


@settings(max_examples=60)
@given(small_spaces(), st.data())
def test_ids_round_trip_and_mappings_are_well_formed(ms, data):
    for _ in range(5):
        mid = data.draw(st.integers(0, ms.size - 1))
        m = ms.mapping(mid)
        assert ms.id(m) == mid
        check_mapping(ms.workload, ms.arch, m, check_capacity=False) if ms.is_legal(m) else None
        c = ms.canonical_id(mid)
        assert ms.is_canonical(c)
        # Pruning folds only unit-loop positions: same factors and keeps.
        a, b = ms.mapping(c), m
        for la, lb in zip(a.levels, b.levels):
            assert {l.dim: l.factor for l in la.temporal} == {l.dim: l.factor for l in lb.temporal}
            assert [l for l in la.temporal if l.factor > 1] == [l for l in lb.temporal if l.factor > 1] \
                or la is a.levels[-1]
            assert la.keep == lb.keep and la.spatial_x == lb.spatial_x


@settings(max_examples=40)
@given(small_spaces())
def test_enumeration_is_distinct_legal_and_counts_match(ms):
    if ms.size > 20000:
        return
    canonical = [mid for mid in range(ms.size) if ms.is_canonical(mid)]
    assert len(canonical) == ms.pruned_size
    legal = list(ms.enumerate())
    ids = [mid for mid, _ in legal]
    assert ids == sorted(set(ids))
    assert set(ids) == {mid for mid in canonical if ms.is_legal(ms.mapping(mid))}
    for mid, m in legal:
        check_mapping(ms.workload, ms.arch, m)


def test_sampling_is_uniform_and_seeded():
    from loopscape.spaces import Architecture, ComputeLevel, StorageLevel, gemm
    arch = Architecture("two", (StorageLevel("DRAM"), StorageLevel("RF")), ComputeLevel())
    w = gemm(M=2, N=2, K=1)
    ms = Mapspace(w, arch)
    # 2 x 2 factor splits, 2! DRAM orders of M and N (K=1 never loops), 2^3 keep choices.
    assert ms.size == 4 * 2 * 8
    assert ms.sample(5, seed=3) == ms.sample(5, seed=3)
    assert ms.sample(5, seed=3) != ms.sample(5, seed=4)
    n = ms.size
    draws = 50 * n
    counts = [0] * n
    for mid, _ in ms.sample(draws, seed=11):
        counts[mid] += 1
    expected = draws / n
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    df = n - 1
    # Normal approximation of the chi-square tail: 5 standard deviations.
    assert chi2 < df + 5 * math.sqrt(2 * df), (chi2, df)


def test_impossible_factor_rules_are_an_error():
    from loopscape.spaces import SpecError, gemm
    spec = _spec("ex05_mapper_conv1d_oc_3level_null")
    w = gemm(M=4, N=2, K=2)
    c = Constraints((LevelConstraints("MainMemory", temporal=(("M", FactorRule(exact=3)),)),))
    with pytest.raises(SpecError):
        Mapspace(w, spec.arch, c)


def test_sampling_is_uniform_over_legal_mappings_when_capacity_rejects_many():
    from loopscape.spaces import Architecture, ComputeLevel, StorageLevel, gemm
    # A 3-word RF: many splits overflow it, so the sampler's capacity-aware proposal and
    # its rejection step both matter. Legal ids found by brute force.
    arch = Architecture("tight", (StorageLevel("DRAM"), StorageLevel("RF", capacity_words=3)),
                        ComputeLevel())
    w = gemm(M=4, N=2, K=2)
    ms = Mapspace(w, arch)
    legal = [mid for mid in range(ms.size) if ms.is_legal(ms.mapping(mid))]
    assert 0 < len(legal) < ms.size // 2
    draws = 60 * len(legal)
    counts = dict.fromkeys(legal, 0)
    for mid, m in ms.sample(draws, seed=5):
        counts[mid] += 1  # KeyError if an illegal id were emitted
    expected = draws / len(legal)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    df = len(legal) - 1
    assert chi2 < df + 5 * math.sqrt(2 * df), (chi2, df)


def test_a_layer_that_fits_no_mapping_names_the_level_and_the_shortfall():
    from loopscape.spaces import Architecture, ComputeLevel, SpecError, StorageLevel, gemm
    # The constraints force the RF to keep all three tensors: at least 1 word each = 24
    # bits, but the RF holds 2 words of 8 bits = 16 bits: 8 bits short.
    arch = Architecture("tiny", (StorageLevel("DRAM"), StorageLevel("RF", capacity_words=2)),
                        ComputeLevel())
    c = Constraints((LevelConstraints("RF", keep=("Weights", "Inputs", "Outputs")),))
    with pytest.raises(SpecError) as e:
        Mapspace(gemm(M=2, N=2, K=2), arch, c)
    text = str(e.value)
    assert "RF" in text and "24" in text and "16" in text and "8 bits short" in text


def test_contradictory_constraints_name_both_sides():
    from loopscape.spaces import SpecError, gemm
    spec = _spec("ex05_mapper_conv1d_oc_3level_null")
    w = gemm(M=8, N=2, K=2)
    c = Constraints((LevelConstraints("MainMemory", temporal=(("M", FactorRule(exact=4)),)),
                     LevelConstraints("GlobalBuffer", temporal=(("M", FactorRule(exact=4)),))))
    with pytest.raises(SpecError) as e:
        Mapspace(w, spec.arch, c)
    text = str(e.value)
    assert "MainMemory" in text and "GlobalBuffer" in text and "M" in text


@settings(max_examples=100)
@given(small_spaces(), st.data())
def test_folds_change_no_cost(ms, data):
    """Pruning is sound: the canonical member of an id's class, and any order of the
    innermost level's loops, evaluate to exactly the same counts, energy and cycles."""
    from loopscape.costmodels import analyze
    from loopscape.spaces.mapping import LevelMapping, Mapping
    mid = data.draw(st.integers(0, ms.size - 1))
    m = ms.mapping(mid)
    twin = ms.mapping(ms.canonical_id(mid))
    inner = m.levels[-1]
    shuffled = data.draw(st.permutations(inner.temporal))
    reordered = Mapping(m.levels[:-1] + (LevelMapping(inner.target, tuple(shuffled),
                                                      inner.spatial_x, inner.spatial_y,
                                                      inner.keep),))
    for schedule in ("timeloop", "exact"):
        base = analyze(ms.workload, ms.arch, m, schedule).traffic
        assert analyze(ms.workload, ms.arch, twin, schedule).traffic == base
        assert analyze(ms.workload, ms.arch, reordered, schedule).traffic == base


def test_dummy_level_under_a_parent_without_fanout_folds_into_the_parent():
    from loopscape.costmodels import analyze
    from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                                  StorageLevel, conv2d)
    arch = Architecture("d", (StorageLevel("DRAM"), StorageLevel("net", dummy=True),
                              StorageLevel("RF", instances=2, mesh_x=2)),
                        ComputeLevel("MAC", 2, 2))
    w = conv2d(C=2, M=2, P=4, Q=1, R=3, S=1)
    t3 = w.tensor_names
    rf = LevelMapping("RF", (Loop("R", 3), Loop("P", 2)), keep=t3)
    at_dummy = Mapping((LevelMapping("DRAM", (Loop("C", 2),), keep=t3),
                        LevelMapping("net", (Loop("P", 2),), spatial_x=(Loop("M", 2),)), rf))
    at_parent = Mapping((LevelMapping("DRAM", (Loop("C", 2), Loop("P", 2)), keep=t3),
                         LevelMapping("net", spatial_x=(Loop("M", 2),)), rf))
    for schedule in ("timeloop", "exact"):
        assert analyze(w, arch, at_dummy, schedule).traffic == \
            analyze(w, arch, at_parent, schedule).traffic
    ms = Mapspace(w, arch)
    assert all(s.level != 1 or s.kind == "S" for s in ms.slots)  # no temporal slot at "net"
    decoded = ms.mapping(ms.id(at_parent))
    assert [l for l in decoded.levels[0].temporal if l.factor > 1] == [Loop("C", 2), Loop("P", 2)]
    assert decoded.levels[1].spatial_x == (Loop("M", 2),)
