"""The batched evaluator equals the scalar one on every field, row by row."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import evaluate_batch
from loopscape.costmodels.options import model_options
from loopscape.spaces.encoding import MappingBatch, decode, encode

from strategies import problems


@st.composite
def priced(draw, max_macs=3000):
    """A random problem whose architecture has energies, block sizes and bandwidths."""
    w, a, m = draw(problems(max_macs=max_macs))
    levels = []
    for lvl in a.levels:
        if lvl.dummy:
            levels.append(lvl)
            continue
        bw = draw(st.sampled_from([None, 0.5, 1.0, 3.0]))
        levels.append(dataclasses.replace(
            lvl, block_size=draw(st.sampled_from([1, 2, 4, 8])),
            read_energy_pj=draw(st.floats(0.1, 100)), fill_energy_pj=draw(st.floats(0.1, 100)),
            update_energy_pj=draw(st.floats(0.1, 100)), leak_energy_pj=draw(st.floats(0, 0.1)),
            read_bandwidth=bw, write_bandwidth=draw(st.sampled_from([None, 1.0, 2.0]))))
    compute = dataclasses.replace(a.compute, energy_pj=draw(st.floats(0.1, 2)))
    return w, dataclasses.replace(a, levels=tuple(levels), compute=compute), m


def assert_rows_match(w, a, mappings, options=None):
    batch = encode(w, a, mappings)
    r = evaluate_batch(w, a, batch, options)
    for i, m in enumerate(mappings):
        if model_options(options).link_transfers:
            m = decode(w, a, batch, i)  # links: the spatial order places PEs (the batch's)
        s = evaluate(w, a, m, options=options)
        assert r.cycles[i] == s.cycles
        assert r.compute_cycles[i] == s.compute_cycles
        assert r.utilized_pes[i] == s.utilized_pes
        assert r.utilization[i] == pytest.approx(s.utilization, rel=1e-12)
        assert r.energy_pj[i] == pytest.approx(s.energy_pj, rel=1e-9)
        for li, lvl in enumerate(s.levels):
            assert r.utilized_instances[i, li] == lvl.utilized_instances
            assert r.leak_energy_pj[i, li] == pytest.approx(lvl.leak_energy_pj, rel=1e-9)
            assert r.level_energy_pj[i, li] == pytest.approx(lvl.energy_pj, rel=1e-9, abs=1e-9)
            for ti, t in enumerate(w.tensor_names):
                st_ = lvl.tensors.get(t)
                assert bool(r.kept[i, li, ti]) == (st_ is not None)
                if st_ is None:
                    continue
                got = (r.tile_words[i, li, ti], r.partition_words[i, li, ti], r.reads[i, li, ti],
                       r.fills[i, li, ti], r.updates[i, li, ti])
                want = (st_.tile_words, st_.partition_words, st_.reads, st_.fills, st_.updates)
                assert got == want, (lvl.name, t, got, want)
                assert r.tensor_energy_pj[i, li, ti] == pytest.approx(st_.energy_pj, rel=1e-9)


@settings(max_examples=300)
@given(priced())
def test_batched_equals_scalar_on_random_mappings(problem):
    w, a, m = problem
    assert_rows_match(w, a, [m])
    b = encode(w, a, [m])
    assert decode(w, a, b, 0) == dataclasses.replace(m, levels=tuple(
        dataclasses.replace(lm, temporal=tuple(l for l in lm.temporal if l.factor > 1),
                            spatial_x=tuple(sorted(lm.spatial_x, key=lambda l: w.dims.index(l.dim))),
                            spatial_y=tuple(sorted(lm.spatial_y, key=lambda l: w.dims.index(l.dim))))
        for lm in m.levels))


@settings(max_examples=30)
@given(st.lists(priced(max_macs=500), min_size=1, max_size=1), st.data())
def test_batches_of_several_rows(probs, data):
    # Several mappings of one problem in one batch: rows must not leak into each other.
    w, a, m = probs[0]
    from strategies import mappings
    ms = [m] + [data.draw(mappings(w, a)) for _ in range(5)]
    assert_rows_match(w, a, ms)


def test_concat_and_row_roundtrip():
    from loopscape.spaces import gemm, Architecture, StorageLevel, ComputeLevel, Mapping, LevelMapping, Loop
    w = gemm(M=4, N=2, K=2)
    a = Architecture("a", (StorageLevel("D"), StorageLevel("R", capacity_words=64)), ComputeLevel())
    t3 = w.tensor_names
    m = Mapping((LevelMapping("D", (Loop("M", 4),), keep=t3),
                 LevelMapping("R", (Loop("K", 2), Loop("N", 2)), keep=t3)))
    b = encode(w, a, [m, m])
    both = MappingBatch.concat([b.row(0), b.row(1)])
    assert np.array_equal(both.temporal, b.temporal) and np.array_equal(both.rank, b.rank)
    assert decode(w, a, both, 1) == m
