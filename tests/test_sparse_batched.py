"""The batched sparse evaluator equals the scalar sparse model on random problems and
random sparse specs; the mapspace capacity check follows compressed occupancy."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.costmodels.sparse_batched import SparseBatchEvaluator
from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.spaces.encoding import decode, encode
from loopscape.spaces.errors import MappingError
from loopscape.spaces.sparsity import (RANK_FORMATS, ActionOptimization, Density,
                                       SparseLevelCosts, SparsitySpec, TensorFormat)

from test_batched import priced


@st.composite
def sparse_specs(draw, w, a):
    names = w.tensor_names
    dens = tuple((t, Density(draw(st.sampled_from(["fixed_structured", "hypergeometric"])),
                             draw(st.sampled_from([0.1, 0.25, 0.5, 0.8, 1.0]))))
                 for t in names if draw(st.booleans()))
    formats = []
    for lvl in a.levels:
        for t in names:
            if draw(st.integers(0, 2)) == 0:
                formats.append(TensorFormat(lvl.name, t, tuple(draw(st.lists(
                    st.sampled_from(RANK_FORMATS), min_size=1, max_size=3)))))
    actions = []
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(names))
        cond = tuple(draw(st.lists(st.sampled_from([t for t in names if t != target]),
                                   min_size=1, max_size=2, unique=True)))
        actions.append(ActionOptimization(draw(st.sampled_from(a.level_names)),
                                          draw(st.sampled_from(["gating", "skipping"])),
                                          target, cond))
    costs = tuple((lvl.name, SparseLevelCosts(
        metadata_read_pj=draw(st.floats(0, 2)), metadata_fill_pj=draw(st.floats(0, 2)),
        metadata_update_pj=draw(st.floats(0, 2)), gated_read_pj=draw(st.floats(0, 0.5)),
        metadata_word_bits=draw(st.sampled_from([None, 2, 4])),
        metadata_storage_width_bits=draw(st.sampled_from([0, 4, 8]))))
        for lvl in a.levels)
    return SparsitySpec(dens, tuple(formats), tuple(actions),
                        draw(st.sampled_from([None, "gating", "skipping"])), costs)


def _outcome(fn):
    try:
        return fn()
    except MappingError as e:
        return ("error", str(e))


@settings(max_examples=60)
@given(priced(max_macs=1500), st.data())
def test_batched_sparse_equals_scalar(problem, data):
    w, a, m = problem
    spec = data.draw(sparse_specs(w, a))
    batch = encode(w, a, [m])
    m = decode(w, a, batch, 0)
    scalar = _outcome(lambda: evaluate_sparse(w, a, m, spec, check=False))
    batched = _outcome(lambda: SparseBatchEvaluator(w, a, spec)(batch))
    if isinstance(scalar, tuple):
        assert batched.energy_pj[0] == float("inf")
        return
    s = scalar.to_dict()
    assert batched.cycles[0] == s["cycles"]
    assert batched.compute_cycles[0] == s["compute_cycles"]
    assert batched.energy_pj[0] == pytest.approx(s["energy_pj"], rel=1e-9)
    for i, lvl in enumerate(a.levels):
        lv = s["levels"][lvl.name]
        assert batched.level_energy_pj[0, i] == pytest.approx(lv["energy_pj"], rel=1e-9, abs=1e-9)
        for t, tn in enumerate(w.tensor_names):
            if tn in lv:
                assert (batched.reads[0, i, t], batched.fills[0, i, t],
                        batched.updates[0, i, t]) == (lv[tn]["reads"], lv[tn]["fills"],
                                                      lv[tn]["updates"])


def test_compression_changes_the_legal_mapspace():
    """A weight tile that does not fit dense fits when the weights are 25 % dense in CP:
    the mapspace with compressed capacity admits mappings the dense one rejects, and every
    one of them passes the sparse model's exact capacity check."""
    from loopscape.spaces.mapspace import Mapspace
    from loopscape.spaces.presets import resolve_arch, resolve_layer
    from loopscape.spaces.sparse_capacity import capacity_arch
    w = resolve_layer("resnet50_conv2_x_3x3")
    a = resolve_arch("eyeriss_like")
    glb = a.levels[1].name
    spec = SparsitySpec((("Weights", Density("fixed_structured", 0.25)),
                         ("Inputs", Density("fixed_structured", 0.5))),
                        (TensorFormat(glb, "Inputs", ("UOP", "RLE"), (w.dims, w.dims)),
                         TensorFormat(a.levels[0].name, "Inputs", ("UOP", "UOP", "RLE"),
                                      (w.dims,) * 3)))
    dense = Mapspace(w, a)
    sparse = Mapspace(w, capacity_arch(a, w, spec))
    ms = [m for _, m in sparse.sample(300, seed=3)]
    extra = [m for m in ms if not dense.is_legal(m)]
    assert extra, "compression should admit tiles the dense capacity rejects"
    checked = 0
    for m in extra[:20]:
        try:
            evaluate_sparse(w, a, m, spec)
            checked += 1
        except MappingError as e:
            assert "compression ranks" in str(e) or "pretiling" in str(e)
    assert checked
