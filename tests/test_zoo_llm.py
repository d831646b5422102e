"""Decoder LLMs in the zoo: MAC counts against the published parameter counts, layer
lists by hand, options and their errors."""

import math

import pytest

from loopscape.spaces.errors import SpecError
from loopscape.spaces.workloads.zoo import network, total_macs, unique_shapes
from loopscape.spaces.workloads.zoo.llm import moe_routing

# Published parameter counts (Hugging Face model pages / safetensors metadata) and the
# parameters that do no MACs per token: the embedding table (a look-up) and the norm
# weights (element-wise). Every other parameter is one MAC per token (bias terms: one
# add, counted as parameters but not MACs, so GPT-2's biases are subtracted too).
LLAMA_PARAMS = 8_030_261_248       # meta-llama/Meta-Llama-3-8B
GPT2_PARAMS = 124_439_808          # openai-community/gpt2 (LM head tied to wte)
MIXTRAL_PARAMS = 46_702_792_704    # mistralai/Mixtral-8x7B-v0.1


def _projection_macs(layers):
    return sum(x.macs for x in layers if not x.name.endswith((".scores", ".context")))


def _attention_macs(layers):
    return sum(x.macs for x in layers if x.name.endswith((".scores", ".context")))


def test_llama3_8b_projections_are_parameters_times_tokens():
    embedding, norms = 128256 * 4096, 32 * 2 * 4096 + 4096
    per_token = LLAMA_PARAMS - embedding - norms      # LM head is untied: it stays
    for phase, tokens in (("prefill", 2048), ("decode", 1)):
        layers = network("llama3_8b", phase=phase)
        assert _projection_macs(layers) == per_token * tokens
    # batch multiplies the tokens
    assert _projection_macs(network("llama3_8b", phase="decode", batch=3)) == 3 * per_token


def test_llama3_8b_flops_per_token_near_two_times_parameters():
    # The usual estimate: ~2 x params FLOPs (= ~params MACs) per token plus attention.
    layers = network("llama3_8b", phase="decode", context=1)
    assert total_macs(layers) == pytest.approx(LLAMA_PARAMS, rel=0.07)


def test_attention_macs_full_score_matrix():
    # per block: scores + context = 2 x heads x queries x keys x head_dim
    assert _attention_macs(network("llama3_8b", phase="prefill", seq=512)) == \
        32 * 2 * 32 * 512 * 512 * 128
    assert _attention_macs(network("llama3_8b", phase="decode", context=4096)) == \
        32 * 2 * 32 * 1 * 4096 * 128
    assert _attention_macs(network("gpt2", phase="prefill")) == 12 * 2 * 12 * 1024 ** 2 * 64


def test_gpt2_projections_are_parameters_times_tokens():
    wte, wpe = 50257 * 768, 1024 * 768
    norms = 12 * 2 * 2 * 768 + 2 * 768                 # ln_1, ln_2 (weight, bias), ln_f
    biases = 12 * (3 * 768 + 768 + 3072 + 768)          # c_attn, attn.c_proj, c_fc, c_proj
    lm_head = 50257 * 768                               # tied to wte: MACs, no parameters
    per_token = GPT2_PARAMS - wte - wpe - norms - biases + lm_head
    assert _projection_macs(network("gpt2", phase="decode")) == per_token
    assert _projection_macs(network("gpt2", phase="prefill", seq=100)) == 100 * per_token


def test_mixtral_active_projections():
    embedding, norms = 32000 * 4096, 32 * 2 * 4096 + 4096
    expert = 3 * 4096 * 14336
    every = MIXTRAL_PARAMS - embedding - norms          # all 8 experts
    active = every - 32 * 6 * expert                    # top-2 of 8 per token
    # published: "12.9B active parameters" per token (Jiang et al., section 1)
    assert active + embedding == pytest.approx(12.9e9, rel=0.005)
    for phase, tokens in (("prefill", 2048), ("decode", 1)):
        layers = network("mixtral_8x7b", phase=phase)
        assert _projection_macs(layers) == active * tokens


def test_mixtral_expert_layers_and_token_counts():
    decode = network("mixtral_8x7b", phase="decode", blocks=1, lm_head=False)
    experts = [x for x in decode if ".experts." in x.name]
    assert [x.name for x in experts] == [f"layers.0.block_sparse_moe.experts.{e}.{w}"
                                         for e in (0, 1) for w in ("w1", "w3", "w2")]
    assert {x.workload.bound("M") for x in experts} == {1}
    prefill = network("mixtral_8x7b", phase="prefill", seq=2048, blocks=1, lm_head=False)
    experts = [x for x in prefill if ".experts." in x.name]
    assert len(experts) == 24 and {x.workload.bound("M") for x in experts} == {512}
    given = network("mixtral_8x7b", phase="prefill", seq=2048, blocks=1, expert_tokens=1024)
    experts = [x for x in given if ".experts." in x.name]
    assert len(experts) == 12 and {x.workload.bound("M") for x in experts} == {1024}
    # routing by hand: 5 tokens x top-2 = 10 passes over 8 experts -> 2 tokens each
    assert moe_routing(5, 8, 2) == (8, 2)
    assert moe_routing(3, 8, 2, expert_tokens=3) == (2, 3)
    with pytest.raises(SpecError, match="at most 3"):
        moe_routing(3, 8, 2, expert_tokens=4)


def test_llama_block_layers_by_hand():
    layers = network("llama3_8b", phase="decode", context=4096, blocks=1, lm_head=False)
    shapes = [(x.name.split(".", 2)[2], x.workload.shape) for x in layers]
    gemm = lambda m, n, k: {"M": m, "N": n, "K": k}  # noqa: E731
    attn = {"B": 1, "G": 8, "H": 4, "M": 1, "N": 4096, "D": 128}
    assert shapes == [
        ("self_attn.q_proj", gemm(1, 4096, 4096)), ("self_attn.k_proj", gemm(1, 1024, 4096)),
        ("self_attn.v_proj", gemm(1, 1024, 4096)), ("self_attn.scores", attn),
        ("self_attn.context", attn), ("self_attn.o_proj", gemm(1, 4096, 4096)),
        ("mlp.gate_proj", gemm(1, 14336, 4096)), ("mlp.up_proj", gemm(1, 14336, 4096)),
        ("mlp.down_proj", gemm(1, 4096, 14336))]


def test_gqa_kv_tensors_do_not_depend_on_the_query_head():
    (scores, context) = [x.workload for x in network("llama3_8b", phase="prefill", seq=64,
                                                      blocks=1) if x.name.endswith(("scores", "context"))]
    for w in (scores, context):
        assert w.tensor("Weights").dims == {"B", "G", "N", "D"}        # K or V: no H
        assert "H" in w.tensor("Inputs").dims and "H" in w.tensor("Outputs").dims
        # the K/V cache: kv_heads x keys x head_dim words; Q: every query head
        assert w.tensor_words("Weights") == 8 * 64 * 128
    assert scores.tensor_words("Inputs") == 32 * 64 * 128
    # GPT-2 is multi-head attention: one query head per group
    gpt = [x.workload for x in network("gpt2", blocks=1) if x.name.endswith("scores")][0]
    assert gpt.bound("G") == 12 and gpt.bound("H") == 1


def test_identical_blocks_are_one_shape():
    layers = network("llama3_8b", phase="prefill")
    assert len(layers) == 32 * 9 + 1
    # q/o share a shape, k/v share one, gate/up share one: q, k, scores, context, gate,
    # down, lm_head
    assert len(unique_shapes(layers)) == 7


@pytest.mark.parametrize("options, match", [
    ({"phase": "train"}, "unknown phase"),
    ({"seq": 0}, "positive integer"),
    ({"phase": "decode", "context": 10_000}, "8192 positions"),
    ({"blocks": -1}, "positive integer"),
    ({"expert_tokens": 4}, "no mixture-of-experts"),
    ({"phase": "decode", "seq": 128}, "seq does not apply to the decode phase"),
    ({"context": 128}, "context does not apply to the prefill phase"),
])
def test_bad_options(options, match):
    with pytest.raises(SpecError, match=match):
        network("llama3_8b", **options)


def test_options_on_a_network_without_options():
    with pytest.raises(SpecError, match="takes no option 'phase'"):
        network("resnet50", phase="decode")


def test_gpt2_defaults_capped_at_its_positions():
    layers = network("gpt2")
    assert layers[0].workload.bound("M") == 1024
    assert math.prod(layers[3].workload.bounds) == 12 * 1024 * 1024 * 64


def test_cli_lists_the_llms_with_sources():
    import json

    from click.testing import CliRunner

    from loopscape.cli.main import cli
    r = CliRunner().invoke(cli, ["zoo", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    for name, repo in (("llama3_8b", "meta-llama/Meta-Llama-3-8B"),
                       ("gpt2", "openai-community/gpt2"),
                       ("mixtral_8x7b", "mistralai/Mixtral-8x7B-v0.1")):
        assert repo in rows[name]["source"] and "config.json" in rows[name]["source"]
    assert rows["gpt2"]["layers"] == 12 * 8 + 1
    r = CliRunner().invoke(cli, ["zoo", "--seq", "3"])
    assert r.exit_code != 0 and "--seq needs a NETWORK" in r.output
