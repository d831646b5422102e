"""Batched evaluation and Eyexam of mappings with residual loops.

Rows with a residual loop are scored by the scalar model inside the batched evaluator
(costmodels/batched_fallback.py): every output of such a row equals ``evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.costmodels.batched import evaluate_batch
from loopscape.costmodels.eyexam import eyexam
from loopscape.spaces.encoding import MappingBatch, decode, encode
from loopscape.spaces.io import load_timeloop

A = Path(__file__).resolve().parent / "fixtures" / "timeloop_features" / "A_imperfect"
CASES = ["eyeriss_like__gemm__h0", "simple_weight_stationary__p56__r0", "tpu_like__p7__r1"]
PRE297 = ModelOptions(semantics="timeloop-pre297")


def _load(case: str):
    d = A / case
    return load_timeloop([d / f for f in ("arch.yaml", "problem.yaml", "ERT.yaml", "map.yaml")])


@pytest.mark.parametrize("case", CASES)
def test_batched_rows_with_residuals_equal_the_scalar_model(case):
    spec = _load(case)
    w, a, m = spec.workload, spec.arch, spec.mapping
    assert m.imperfect
    batch = encode(w, a, [m, m])
    assert decode(w, a, batch, 1) == m  # residuals survive encoding
    assert list(batch.imperfect_rows) == [0, 1]
    res = evaluate_batch(w, a, batch, options=PRE297)
    ev = evaluate(w, a, m, options=PRE297)
    for r in range(2):
        assert res.energy_pj[r] == ev.energy_pj
        assert (res.cycles[r], res.compute_cycles[r], res.utilized_pes[r]) == \
            (ev.cycles, ev.compute_cycles, ev.utilized_pes)
        for li, lvl in enumerate(ev.levels):
            assert res.utilized_instances[r, li] == lvl.utilized_instances
            for ti, t in enumerate(w.tensor_names):
                st = lvl.tensors.get(t)
                assert bool(res.kept[r, li, ti]) == (st is not None)
                if st is not None:
                    assert (res.reads[r, li, ti], res.fills[r, li, ti],
                            res.updates[r, li, ti], res.tile_words[r, li, ti]) == \
                        (st.reads, st.fills, st.updates, st.tile_words)


def test_concat_keeps_residuals_next_to_perfect_rows():
    spec = _load(CASES[0])
    w, a, m = spec.workload, spec.arch, spec.mapping
    imperfect = encode(w, a, [m])
    perfect = MappingBatch(*(getattr(imperfect, f) for f in
                             ("temporal", "spatial_x", "spatial_y", "rank", "keep")))
    both = MappingBatch.concat([perfect, imperfect])
    assert both.residual is not None and list(both.imperfect_rows) == [1]
    assert both.take(np.array([1])).residual.shape[0] == 1
    assert decode(w, a, both, 1) == m


def test_eyexam_runs_on_a_mapping_with_residuals():
    spec = _load(CASES[0])
    rep = eyexam(spec.workload, spec.arch, spec.mapping, options=PRE297)
    text = " ".join(s.cause for s in rep.steps)
    assert "residual loops" in text
    assert all(s.bound_macs_per_cycle > 0 for s in rep.steps)
