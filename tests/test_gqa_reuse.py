"""Grouped-query attention: each K/V element is read from DRAM once per group (not once
per query head) under a mapping that exploits the sharing. Counts by hand, checked with
the brute-force simulator and the analytical model."""

from __future__ import annotations

import pytest

from loopscape.costmodels import evaluate
from loopscape.costmodels.nest import analyze
from loopscape.costmodels.simulator import simulate
from loopscape.spaces import Architecture, ComputeLevel, LevelMapping, Loop, Mapping, StorageLevel
from loopscape.spaces.workloads.zoo.llm import attention_context, attention_scores

T3 = ("Weights", "Inputs", "Outputs")
# 2 KV heads, 3 query heads per group, 2 queries, 4 keys, head size 2
SHAPE = dict(batch=1, kv_heads=2, group=3, queries=2, keys=4, head_dim=2)
KV_WORDS = 2 * 4 * 2  # G x N x D: the whole K (or V) cache


def _loops(text: str) -> tuple[Loop, ...]:
    return tuple(Loop(tok[0], int(tok[1:])) for tok in text.split())


def _arch(buffers: int) -> Architecture:
    levels = (StorageLevel("DRAM", instances=1, mesh_x=1),
              StorageLevel("Buffer", instances=buffers, mesh_x=buffers))
    return Architecture("gqa", levels, ComputeLevel("MAC", buffers, buffers, 1))


def _mapping(dram: str, buffer: str, spatial: str = "") -> Mapping:
    return Mapping((LevelMapping("DRAM", _loops(dram), _loops(spatial), (), T3),
                    LevelMapping("Buffer", _loops(buffer), (), (), T3)))


# (workload builder, mapping, buffers, DRAM reads of K/V by hand)
CASES = {
    # the buffer holds one group's K (N4 x D2 = 8 words) while all 3 query heads use it:
    # DRAM sends each of the 16 K words once
    "scores_group_outside": (attention_scores, "G2", "H3 M2 N4 D2", 1, KV_WORDS),
    # H at DRAM, inside G: consecutive query heads of a group reuse the buffered K
    "scores_head_inside_group": (attention_scores, "G2 H3", "M2 N4 D2", 1, KV_WORDS),
    # H at DRAM, outside G: the buffer switches groups between query heads, so each
    # group's K is fetched again for every query head: 3 x 16
    "scores_head_outside": (attention_scores, "H3 G2", "M2 N4 D2", 1, 3 * KV_WORDS),
    # the 3 query heads of a group on 3 buffers at once: K is multicast, read once
    "scores_heads_spatial": (attention_scores, "G2", "M2 N4 D2", 3, KV_WORDS),
    "context_group_outside": (attention_context, "G2", "H3 M2 D2 N4", 1, KV_WORDS),
    "context_head_outside": (attention_context, "H3 G2", "M2 D2 N4", 1, 3 * KV_WORDS),
}


@pytest.mark.parametrize("case", CASES)
def test_kv_read_once_per_group_at_dram(case):
    build, dram, buffer, buffers, kv_reads = CASES[case]
    w = build(**SHAPE)
    spatial = "H3" if buffers == 3 else ""
    m = _mapping(dram, buffer, spatial)
    arch = _arch(buffers)
    sim = simulate(w, arch, m)
    assert sim[0]["Weights"].reads == kv_reads            # hand count
    # Q (scores' Inputs) or P (context's Inputs) has no reuse across groups: each word once
    q_words = w.tensor_words("Inputs")
    assert sim[0]["Inputs"].reads == q_words
    # the analytical model and the evaluator agree with the simulator
    assert analyze(w, arch, m, "exact").traffic[0]["Weights"].reads == kv_reads
    ev = evaluate(w, arch, m)
    assert ev.levels[0].tensors["Weights"].reads == kv_reads


def test_kv_cache_is_not_replicated_per_query_head():
    w = attention_scores(**SHAPE)
    assert w.tensor_words("Weights") == KV_WORDS                 # not 3 x 16
    assert w.macs == 2 * 3 * 2 * 4 * 2
