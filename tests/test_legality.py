"""The vectorized legality check (``Mapspace.batch_legality``) against the scalar rules
(``Mapspace.problems``), row by row: on every preset architecture with every preset layer
(and each constraints preset on its architecture), on the Timeloop reference designs, on
hypothesis-generated small spaces with bounded capacities, and at magnitudes where int64
arithmetic would overflow."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.spaces import Architecture, ComputeLevel, SpecError, StorageLevel, gemm
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.encoding import encode
from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import (list_presets, load_arch_preset, load_layer_preset,
                                      resolve_constraints)

from strategies import architectures, layers

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "timeloop"


def _raw_rows(ms: Mapspace, n: int, seed: int):
    """``n`` mappings at uniform ids (legal and illegal), plus legal samples."""
    rng = random.Random(seed)
    maps = [ms.mapping(rng.randrange(ms.size)) for _ in range(n)]
    try:
        maps += [m for _, m in ms.sample(max(1, n // 8), seed=seed, max_draws=20 * n)]
    except SpecError:
        pass  # too few legal ones: the raw rows alone
    return maps


def _agree(ms: Mapspace, maps) -> tuple[int, int]:
    batch = encode(ms.workload, ms.arch, maps)
    got = ms.batch_legality.check_batch(batch)
    want = np.array([not ms.problems(m) for m in maps])
    bad = np.flatnonzero(got != want)
    assert not len(bad), (f"row {int(bad[0])}: vectorized {bool(got[bad[0]])}, scalar "
                          f"{ms.problems(maps[bad[0]])}")
    return int(want.sum()), len(maps)


def _preset_spaces():
    archs = [p.name for p in list_presets("architecture")]
    layer_names = [p.name for p in list_presets("layer")]
    out = [(a, l, None) for a in archs for l in layer_names]
    out += [(p.architecture, l, p.name) for p in list_presets("constraints")
            for l in layer_names]
    return out


@pytest.mark.parametrize("arch_name,layer_name,constraints", _preset_spaces())
def test_vectorized_equals_scalar_on_presets(arch_name, layer_name, constraints):
    arch = load_arch_preset(arch_name)
    layer = load_layer_preset(layer_name)
    try:
        c = resolve_constraints(constraints, layer, arch) if constraints else None
        ms = Mapspace(layer, arch, c)
    except SpecError:
        pytest.skip("this layer fits no mapping of this design")
    legal, total = _agree(ms, _raw_rows(ms, 300, seed=len(layer_name)))
    assert total >= 300


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()
                                        if (p / "expected.json").is_file()))
def test_vectorized_equals_scalar_on_reference_designs(case):
    d = FIXTURES / case
    spec = load_timeloop([d / "parsed-processed-input.yaml"])
    c = timeloop_constraints(spec, spec.workload, spec.arch, source=str(d))
    for cons in (c, None):
        try:
            ms = Mapspace(spec.workload, spec.arch, cons)
        except SpecError:
            continue
        _agree(ms, _raw_rows(ms, 200, seed=1))


@st.composite
def bounded_spaces(draw):
    """A small layer on an architecture with drawn capacities, word sizes, minimum
    utilizations and a minimum PE utilization."""
    w = draw(layers(max_macs=800))
    a = draw(architectures(max_levels=3, max_fanout=3, max_pes=6))
    levels = [a.levels[0]]
    for lvl in a.levels[1:]:
        levels.append(dataclasses.replace(
            lvl, capacity_words=draw(st.sampled_from([1, 7, 64, 400, 2 ** 48 - 1, 2 ** 48])),
            # Word sizes up to the documented limit (docs/limits.md): with the largest
            # capacities, tile and capacity bits reach 2**58 and their sums 2**60.
            word_bits=draw(st.sampled_from([1, 8, 16, 1023, 1024])),
            multiple_buffering=draw(st.sampled_from([1.0, 2.0])),
            min_utilization=draw(st.sampled_from([0.0, 0.0, 0.1, 0.5]))))
    arch = dataclasses.replace(a, levels=tuple(levels))
    c = Constraints(min_pe_utilization=draw(st.sampled_from([0.0, 0.0, 0.5, 1.0])))
    return w, arch, c


@settings(max_examples=40, deadline=None)
@given(bounded_spaces(), st.integers(0, 10 ** 6))
def test_vectorized_equals_scalar_on_generated_spaces(space, seed):
    w, arch, c = space
    try:
        ms = Mapspace(w, arch, c)
    except SpecError:
        return  # contradictory draw: nothing to compare
    _agree(ms, _raw_rows(ms, 60, seed))


def _huge_arch(word_bits: int, capacity_words: int, min_util: float = 0.0) -> Architecture:
    return Architecture("huge", (
        StorageLevel("DRAM", capacity_words=None, word_bits=word_bits),
        StorageLevel("Buf", capacity_words=capacity_words, word_bits=word_bits,
                     min_utilization=min_util),
        StorageLevel("Reg", instances=4, capacity_words=4, word_bits=8,
                     tensor_bits=(("Weights", 1024),),
                     mesh_x=4),
    ), ComputeLevel("MAC", instances=4, mesh_x=4))


@pytest.mark.parametrize("word_bits,capacity_words,min_util", [
    (1024, 64, 0.0),           # the largest words: most tiles overflow a small buffer
    (1024, 2 ** 48, 0.0),      # the largest capacity: 2**58 bits, everything fits
    (1023, 96, 0.5),           # a minimum utilization with odd word sizes
    (8, 2 ** 48, 0.0),         # the largest capacity with small words
    (3, 2 ** 48 - 1, 0.9),     # a high minimum on the largest odd capacity
])
def test_vectorized_is_exact_near_the_int64_limit(word_bits, capacity_words, min_util):
    ms = Mapspace(gemm(M=16, N=12, K=8), _huge_arch(word_bits, capacity_words, min_util))
    legal, total = _agree(ms, _raw_rows(ms, 400, seed=3))
    assert 0 <= legal <= total


def test_word_bits_2_62_is_refused_before_any_legality_check():
    """The case the two checks used to disagree on (a tile of 2 words of 2**62 bits is
    2**63 bits, past int64) can no longer reach them: the architecture is refused."""
    with pytest.raises(SpecError, match="word_bits.*limit 1024"):
        _huge_arch(2 ** 62, 64)


def test_word_bits_at_the_limit_scalar_and_vectorized_reject_the_same_tiles():
    """1024-bit words in a 64-word buffer: both kinds of rows present."""
    ms = Mapspace(gemm(M=16, N=12, K=8), _huge_arch(1024, 64))
    maps = _raw_rows(ms, 400, seed=5)
    legal, total = _agree(ms, maps)
    assert 0 < legal < total  # both kinds present: the comparison means something
