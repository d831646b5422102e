"""The batched evaluator equals the scalar one on every field, for random legal mappings of
every preset architecture with every preset layer, and of every Timeloop reference case
(its reference mapping, and random mappings of its mapspace).

Mapspaces and evaluators are built once per (architecture, layer) and cached; hypothesis
draws the seeds of the batched sampler, so each example is a few fresh legal mappings.
The sampler's own arrays (int32/int8, stored level-major) are scored too and must give
bit-identical results to the encoded mappings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopscape.costmodels.batched as batched
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.encoding import MappingBatch, decode, encode
from loopscape.spaces.io import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import list_presets, load_arch_preset, load_layer_preset

from test_batched import assert_rows_match, priced

ARCHS = ("eyeriss_like", "simba_like", "simple_output_stationary", "simple_weight_stationary",
         "tpu_like")
LAYERS = tuple(p.name for p in list_presets("layer"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "timeloop"
CASES = tuple(sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file()))
RESULT_FIELDS = ("energy_pj", "cycles", "compute_cycles", "utilization", "utilized_pes",
                 "tile_words", "partition_words", "reads", "fills", "updates", "kept",
                 "level_energy_pj", "tensor_energy_pj", "leak_energy_pj", "utilized_instances")
SEEDS = st.integers(0, 2 ** 32 - 1)


@lru_cache(maxsize=None)
def preset_space(arch: str, layer: str) -> tuple[Mapspace, BatchEvaluator]:
    w, a = load_layer_preset(layer), load_arch_preset(arch)
    return Mapspace(w, a), BatchEvaluator(w, a)


@lru_cache(maxsize=None)
def case_space(case: str):
    d = FIXTURES / case
    spec = load_timeloop([d / "parsed-processed-input.yaml", *sorted(d.glob("*.ERT.yaml")),
                          *sorted(d.glob("*.map.yaml"))])
    c = timeloop_constraints(spec, spec.workload, spec.arch, source=str(d)) \
        if spec.constraints else None
    return spec, Mapspace(spec.workload, spec.arch, c), BatchEvaluator(spec.workload, spec.arch)


def assert_same_results(r1, r2) -> None:
    """Two BatchResults of the same rows are identical (not merely close)."""
    for f in RESULT_FIELDS:
        a, b = getattr(r1, f), getattr(r2, f)
        assert a.shape == b.shape and np.array_equal(a, b), f


def check_sampled(ms: Mapspace, ev: BatchEvaluator, seed: int, n: int = 3) -> None:
    ids, batch = ms.sample_batch(n, seed=seed)
    full = [ms.mapping(int(i)) for i in ids]  # every loop listed, unit ones in id order
    short = [decode(ms.workload, ms.arch, batch, i) for i in range(n)]  # unit loops dropped
    assert_rows_match(ms.workload, ms.arch, full + short)
    assert_same_results(ev(batch), ev(encode(ms.workload, ms.arch, full)))


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("arch", ARCHS)
@settings(max_examples=12)
@given(seed=SEEDS)
def test_presets(arch, layer, seed):
    ms, ev = preset_space(arch, layer)
    check_sampled(ms, ev, seed)


@pytest.mark.parametrize("case", CASES)
def test_reference_mapping(case):
    spec, _, ev = case_space(case)
    assert_rows_match(spec.workload, spec.arch, [spec.mapping])
    b = encode(spec.workload, spec.arch, [spec.mapping])
    assert_same_results(ev(b), BatchEvaluator(spec.workload, spec.arch, chunk=1)(b))


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=10)
@given(seed=SEEDS)
def test_reference_case_spaces(case, seed):
    _, ms, ev = case_space(case)
    check_sampled(ms, ev, seed)


def test_chunks_do_not_leak_into_each_other():
    ms, ev = preset_space("eyeriss_like", "resnet50_conv2_x_3x3")
    ids, batch = ms.sample_batch(300, seed=4)
    small = BatchEvaluator(ms.workload, ms.arch, chunk=7)
    assert_same_results(ev(batch), small(batch))
    # Rows stored row-major (encode's layout) and as the sampler stores them agree.
    row_major = MappingBatch(*(np.ascontiguousarray(getattr(batch, f), dtype=np.int64)
                               if f != "keep" else np.ascontiguousarray(batch.keep)
                               for f in ("temporal", "spatial_x", "spatial_y", "rank", "keep")))
    assert_same_results(ev(batch), ev(row_major))
    empty = ev(MappingBatch(*(getattr(batch, f)[:0] for f in
                              ("temporal", "spatial_x", "spatial_y", "rank", "keep"))))
    assert empty.energy_pj.shape == (0,) and empty.reads.shape == (0, len(ms.arch.levels), 3)


@settings(max_examples=60)
@given(priced(), SEEDS)
def test_narrow_hashes_and_sorted_fallback(problem, seed):
    """Translations compared as several hashes (as for layers whose extents overflow one
    int64) and loop orders sorted without the permutation table give the same results."""
    w, a, m = problem
    import unittest.mock as mock
    with mock.patch.object(batched, "_HASH_LIMIT", 1 << 6), \
            mock.patch.object(batched, "_MAX_TABLE_LOOPS", 1):
        assert_rows_match(w, a, [m])


@pytest.mark.parametrize("arch", ["eyeriss_like", "simba_like"])
def test_narrow_hashes_on_presets(arch):
    import unittest.mock as mock
    ms, _ = preset_space(arch, "resnet50_conv2_x_3x3")
    with mock.patch.object(batched, "_HASH_LIMIT", 1 << 10), \
            mock.patch.object(batched, "_MAX_TABLE_LOOPS", 2):
        check_sampled(ms, BatchEvaluator(ms.workload, ms.arch), seed=9, n=8)
