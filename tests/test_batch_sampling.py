"""Batched sampling: every row is a legal mapping of the space and the row of its id,
rows are uniform over the legal ids (chi-square, on every code path), seeds reproduce."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import loopscape.spaces.batch_sampling as bs
from loopscape.spaces import Architecture, ComputeLevel, SpecError, StorageLevel, gemm
from loopscape.spaces.constraints import Constraints, LevelConstraints
from loopscape.spaces.encoding import MappingBatch, decode, encode
from loopscape.spaces.io import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

from strategies import architectures, layers

FIELDS = ("temporal", "spatial_x", "spatial_y", "rank", "keep")
EYERISS = Path(__file__).resolve().parent / "fixtures" / "timeloop" / "design_eyeriss_like"


def check_rows(ms: Mapspace, ids, batch: MappingBatch, rows) -> None:
    """Row i decodes to a legal mapping, equals encode([mapping(ids[i])]), and decode ->
    id gives the canonical member of ids[i]'s class."""
    w, a = ms.workload, ms.arch
    for i in rows:
        mid = int(ids[i])
        m = decode(w, a, batch, i)
        assert ms.is_legal(m), ms.problems(m)
        full = encode(w, a, [ms.mapping(mid)])
        for f in FIELDS:
            assert np.array_equal(getattr(full, f)[0], getattr(batch, f)[i]), (f, i)
        assert ms.id(m) == ms.canonical_id(mid)


def eyeriss_space() -> Mapspace:
    layer = load_layer_preset("resnet50_conv2_x_3x3")
    arch = load_arch_preset("eyeriss_like")
    spec = load_timeloop([EYERISS / "parsed-processed-input.yaml"])
    return Mapspace(layer, arch, timeloop_constraints(spec, layer, arch, source=str(EYERISS)))


@pytest.mark.parametrize("arch", ["eyeriss_like", "simba_like", "simple_output_stationary",
                                  "simple_weight_stationary", "tpu_like"])
def test_preset_rows_are_legal_and_are_their_ids(arch):
    ms = Mapspace(load_layer_preset("resnet50_conv2_x_3x3"), load_arch_preset(arch))
    ids, batch = ms.sample_batch(60, seed=1)
    assert len(batch) == 60 and len(ids) == 60
    check_rows(ms, ids, batch, range(0, 60, 3))


def test_constrained_eyeriss_rows_and_int64_ids():
    ms = eyeriss_space()
    ids, batch = ms.sample_batch(300, seed=2)
    assert ids.dtype == np.int64 and ms.size < 2 ** 63
    check_rows(ms, ids, batch, range(0, 300, 10))


def test_ids_are_python_ints_when_the_space_is_huge():
    ms = Mapspace(load_layer_preset("bert_base_ffn1"), load_arch_preset("simba_like"))
    assert ms.size >= 2 ** 63
    ids, batch = ms.sample_batch(20, seed=3)
    assert ids.dtype == object and all(isinstance(x, int) for x in ids)
    check_rows(ms, ids, batch, range(0, 20, 4))


def test_same_seed_same_batch_and_rng_kinds():
    ms = eyeriss_space()
    a_ids, a = ms.sample_batch(500, seed=7)
    b_ids, b = ms.sample_batch(500, seed=7)
    assert np.array_equal(a_ids, b_ids)
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f))
    c_ids, _ = ms.sample_batch(500, seed=8)
    assert not np.array_equal(a_ids, c_ids)
    r1, _ = ms.sample_batch(50, rng=random.Random(5))
    r2, _ = ms.sample_batch(50, rng=random.Random(5))
    g1, _ = ms.sample_batch(50, rng=np.random.default_rng(5))
    g2, _ = ms.sample_batch(50, rng=np.random.default_rng(5))
    assert np.array_equal(r1, r2) and np.array_equal(g1, g2)
    none_ids, batch = ms.sample_batch(500, seed=7, with_ids=False)
    assert none_ids is None and np.array_equal(batch.temporal, a.temporal)


def test_zero_rows_and_errors():
    ms = eyeriss_space()
    ids, batch = ms.sample_batch(0, seed=0)
    assert len(batch) == 0 and len(ids) == 0
    arch = Architecture("x", (StorageLevel("DRAM"),
                              StorageLevel("RF", instances=4, mesh_x=4, capacity_words=8)),
                        ComputeLevel("MAC", 4, 4))
    # Legal mappings exist but are rare: a draw budget too small to find 100 of them.
    tight = Mapspace(gemm(M=4, N=4, K=4), arch, Constraints((), min_pe_utilization=1.0))
    with pytest.raises(SpecError):
        tight.sample_batch(100, seed=0, max_draws=50)
    with pytest.raises(TypeError):
        ms.sample_batch(1, rng=3)


# -- uniformity ------------------------------------------------------------------------

def small_space() -> Mapspace:
    """256 ids, 116 legal: fanout per axis (2 x 2 mesh), a 2-word RF under 7 keep
    choices, and min_pe_utilization all reject some."""
    arch = Architecture("small", (StorageLevel("DRAM"),
                                  StorageLevel("RF", instances=4, mesh_x=2, mesh_y=2,
                                               capacity_words=2)),
                        ComputeLevel("MAC", 4, 2, 2))
    return Mapspace(gemm(M=2, N=2, K=1), arch, Constraints((), min_pe_utilization=0.5))


def tight_space() -> Mapspace:
    """The tight-buffer space of test_mapspace (a 3-word RF)."""
    arch = Architecture("tight", (StorageLevel("DRAM"), StorageLevel("RF", capacity_words=3)),
                        ComputeLevel())
    return Mapspace(gemm(M=4, N=2, K=2), arch)


def _chi2_uniform(ms: Mapspace, legal: list[int], per_id: int, seed: int) -> None:
    draws = per_id * len(legal)
    ids, batch = ms.sample_batch(draws, seed=seed)
    counts = dict.fromkeys(legal, 0)
    for mid in ids.tolist():
        counts[mid] += 1  # KeyError if an illegal id were emitted
    expected = draws / len(legal)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    df = len(legal) - 1
    # Normal approximation of the chi-square tail: 5 standard deviations.
    assert chi2 < df + 5 * math.sqrt(2 * df), (chi2, df)
    check_rows(ms, ids, batch, range(0, draws, max(1, draws // 25)))


PATHS = ["planned", "envelope", "unplanned", "unranked", "walked", "shuffled"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("space", [small_space, tight_space], ids=["small", "tight"])
def test_uniform_over_legal_ids_on_every_path(space, path, monkeypatch):
    """Every code path samples the distribution of ``Mapspace.sample``: keep choices
    weighted in int64 (planned) or by envelope rejection, uniform keep bits when there
    are too many keep choices to plan, factorization tables built, walked or unranked
    per row, loop orders from tables or per-row shuffles."""
    if path == "unranked":
        monkeypatch.setattr(bs, "MAX_TABLE_ROWS", 0)
    elif path == "walked":  # as if the full tables were too large: walk each capped one
        monkeypatch.setattr(bs, "full_table", lambda ds, L: None)
    elif path == "shuffled":
        monkeypatch.setattr(bs, "MAX_PERM_TABLE", 1)
    ms = space()
    if path == "unplanned":
        ms._MAX_PLANNED_BYPASS = 0
        assert ms._proposal is None
    sampler = ms._batch_sampler
    modes = {"unranked": None, "walked": False}
    if path in modes:
        assert all((f is not None and f["index"] is None) if modes[path] is False else f is None
                   for f in sampler.flat)
    if path == "envelope":
        sampler.cum = None
    legal = [mid for mid in range(ms.size) if ms.is_legal(ms.mapping(mid))]
    assert 0 < len(legal) < ms.size
    _chi2_uniform(ms, legal, 40 if path == "unranked" else 60, seed=11)


# -- random small spaces with capacities and utilization limits --------------------------

@st.composite
def capped_spaces(draw):
    w = draw(layers(max_macs=96))
    a = draw(architectures(max_levels=3, max_fanout=3, max_pes=6))
    levels = []
    for i, lvl in enumerate(a.levels):
        if i == 0 or lvl.dummy:
            levels.append(lvl)
            continue
        levels.append(dataclasses.replace(
            lvl, capacity_words=draw(st.sampled_from([None, 2, 3, 4, 6, 8, 16])),
            tensor_bits=draw(st.sampled_from([(), (("Outputs", 16),)])),
            multiple_buffering=draw(st.sampled_from([1, 1, 2])),
            min_utilization=draw(st.sampled_from([0, 0, 0.25]))))
    a = dataclasses.replace(a, levels=tuple(levels))
    mpu = draw(st.sampled_from([0.0, 0.0, 0.5]))
    bypass = draw(st.booleans())
    lc = (LevelConstraints(a.levels[-1].name, bypass=(w.tensor_names[0],)),) \
        if bypass and len(a.levels) > 1 and not a.levels[-1].dummy else ()
    try:
        return Mapspace(w, a, Constraints(lc, min_pe_utilization=mpu))
    except SpecError:
        assume(False)


@settings(max_examples=60)
@given(capped_spaces(), st.integers(0, 2 ** 32 - 1))
def test_random_capped_spaces_rows_are_legal(ms, seed):
    try:
        ids, batch = ms.sample_batch(8, seed=seed, max_draws=20000)
    except SpecError:
        # Too rare to find: then brute force finds (almost) nothing legal either.
        assume(ms.size <= 4000)
        legal = sum(ms.is_legal(ms.mapping(i)) for i in range(ms.size))
        assert legal < 8 or legal / ms.size < 1e-3
        return
    check_rows(ms, ids, batch, range(8))
