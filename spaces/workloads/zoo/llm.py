"""Decoder-only language models: Llama 3 8B, GPT-2 small and Mixtral 8x7B, in two phases.

**prefill** runs ``seq`` tokens per sequence through the model at once; **decode** runs
one new token per sequence against a KV cache, its attention reading ``context`` keys
and values (the cache including the new token's own K/V). Defaults: phase prefill,
``seq`` 2048, ``context`` 4096 (each capped at the model's positions: GPT-2 has 1024),
``batch`` 1, ``blocks`` the model's; ``seq`` and ``context`` beyond the model's
positions are an error, and so is ``context`` in prefill or ``seq`` in decode. ``batch`` sequences run
together: projections see ``batch x tokens`` rows. Attention is the full score matrix
(prefill: ``seq x seq``): dense hardware computes the causally masked half too, so the
MACs are those of the unmasked product.

Layers per block, in execution order (names follow the Hugging Face modules):

- ``self_attn.q_proj``, ``k_proj``, ``v_proj``: GEMMs ``M = batch x tokens`` by the
  projection's weight (GPT-2's fused ``attn.c_attn`` is split into its three thirds,
  ``attn.c_attn.q``, ``.k``, ``.v``);
- ``self_attn.scores`` (Q K^T) and ``self_attn.context`` (softmax(scores) V): einsums
  with a KV-head dimension ``G`` and a query-heads-per-group dimension ``H``::

      Outputs[B,G,H,M,N] += Inputs[B,G,H,M,D] * Weights[B,G,N,D]   # scores, Weights = K
      Outputs[B,G,H,M,D] += Inputs[B,G,H,M,N] * Weights[B,G,N,D]   # context, Weights = V

  K and V do not depend on ``H``: every query head of a group reads the same K/V head,
  so the cost model sees that reuse (grouped-query attention). Multi-head attention
  (GPT-2) is the case ``H = 1``. ``M`` = query tokens, ``N`` = keys, ``D`` = head size;
- ``self_attn.o_proj``: the output projection;
- the MLP: ``mlp.gate_proj``, ``mlp.up_proj``, ``mlp.down_proj`` (Llama's SwiGLU),
  ``mlp.c_fc``, ``mlp.c_proj`` (GPT-2), or for Mixtral ``block_sparse_moe.gate`` (the
  router, hidden -> 8 logits) and ``block_sparse_moe.experts.<e>.w1``/``w3``/``w2``
  (gate, up, down) for each expert that receives tokens, each a GEMM over its tokens.

After the blocks, ``lm_head`` (hidden -> vocabulary, for every token of the phase, as a
model's forward pass computes logits) is a layer unless ``lm_head=False``. Embedding
look-ups, norms, rotary embeddings, softmax and activations have no (or negligible)
MACs and are left out.

Mixture of experts: with ``T = batch x tokens`` tokens and top-``k`` routing the layer
does ``T x k`` expert-token passes. ``expert_tokens`` is how many tokens each active
expert runs; its default assumes balanced routing: ``min(experts, T x k)`` experts are
active and each gets ``ceil(T x k / active)`` tokens (prefill 2048: 8 experts x 512
tokens; decode at batch 1: 2 experts x 1 token). A given ``expert_tokens`` (1 .. T)
keeps ``active = min(experts, ceil(T x k / expert_tokens))``.

Sources (every number): each model's Hugging Face ``config.json``, named per model below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loopscape.spaces.errors import SpecError
from loopscape.spaces.workload import Workload, einsum, gemm

from .layer import Builder, ZooLayer

PHASES = ("prefill", "decode")
DEFAULT_PHASE = "prefill"
DEFAULT_SEQ = 2048
DEFAULT_CONTEXT = 4096
DEFAULT_BATCH = 1
OPTIONS = ("phase", "seq", "context", "batch", "blocks", "expert_tokens", "lm_head")


@dataclass(frozen=True)
class DecoderConfig:
    """The shape-relevant numbers of a decoder-only model's config.json."""

    name: str
    hidden: int          # hidden_size / n_embd
    blocks: int          # num_hidden_layers / n_layer
    heads: int           # num_attention_heads / n_head
    kv_heads: int        # num_key_value_heads (= heads without GQA)
    head_dim: int        # hidden / heads
    ffn: int             # intermediate_size / n_inner (4 x n_embd for GPT-2)
    vocab: int           # vocab_size
    gated: bool          # SwiGLU (gate, up, down) or a plain 2-layer MLP (up, down)
    experts: int = 0     # num_local_experts (0: dense MLP)
    top_k: int = 0       # num_experts_per_tok
    max_context: int = 0  # max_position_embeddings / n_positions
    gpt2_names: bool = False  # Hugging Face GPT2Model module names (h.i.attn...)
    source: str = ""
    description: str = ""


LLAMA3_8B = DecoderConfig(
    "llama3_8b", hidden=4096, blocks=32, heads=32, kv_heads=8, head_dim=128, ffn=14336,
    vocab=128256, gated=True, max_context=8192,
    source=("Meta Llama 3 8B, Hugging Face meta-llama/Meta-Llama-3-8B config.json: "
            "hidden_size 4096, num_hidden_layers 32, num_attention_heads 32, "
            "num_key_value_heads 8 (head 128), intermediate_size 14336 (SwiGLU), "
            "vocab_size 128256; 8,030,261,248 parameters"),
    description="Llama 3 8B decoder: 32 x (Q, K, V, GQA scores, context, O, gate, up, down) "
                "+ LM head")
GPT2 = DecoderConfig(
    "gpt2", hidden=768, blocks=12, heads=12, kv_heads=12, head_dim=64, ffn=3072,
    vocab=50257, gated=False, max_context=1024, gpt2_names=True,
    source=("GPT-2 small (Radford et al. 2019), Hugging Face openai-community/gpt2 "
            "config.json: n_embd 768, n_layer 12, n_head 12 (head 64), n_inner null = "
            "4 x 768 = 3072, vocab_size 50257, n_positions 1024; 124,439,808 parameters"),
    description="GPT-2 small decoder: 12 x (Q, K, V, MHA scores, context, proj, fc, proj) "
                "+ LM head")
MIXTRAL_8X7B = DecoderConfig(
    "mixtral_8x7b", hidden=4096, blocks=32, heads=32, kv_heads=8, head_dim=128, ffn=14336,
    vocab=32000, gated=True, experts=8, top_k=2, max_context=32768,
    source=("Mixtral 8x7B (Jiang et al., arXiv:2401.04088), Hugging Face "
            "mistralai/Mixtral-8x7B-v0.1 config.json: hidden_size 4096, num_hidden_layers "
            "32, num_attention_heads 32, num_key_value_heads 8 (head 128), "
            "intermediate_size 14336, num_local_experts 8, num_experts_per_tok 2, "
            "vocab_size 32000; 46,702,792,704 parameters"),
    description="Mixtral 8x7B decoder: 32 x (Q, K, V, GQA scores, context, O, router, "
                "active experts' w1, w3, w2) + LM head")

CONFIGS = {c.name: c for c in (LLAMA3_8B, GPT2, MIXTRAL_8X7B)}


def _positive(key: str, value, network: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{key} must be a positive integer, got {value!r}", source=network,
                        key=key, fix=f"give --{key.replace('_', '-')} a whole number >= 1")
    return value


def moe_routing(tokens: int, experts: int, top_k: int,
                expert_tokens: int | None = None) -> tuple[int, int]:
    """(active experts, tokens per active expert) for ``tokens`` routed top-``top_k`` to
    ``experts``; balanced routing unless ``expert_tokens`` is given (module docstring)."""
    passes = tokens * top_k
    if expert_tokens is None:
        active = min(experts, passes)
        return active, math.ceil(passes / active)
    if expert_tokens > tokens:
        raise SpecError(f"expert_tokens {expert_tokens} exceeds the {tokens} tokens of the "
                        f"phase (an expert sees each token at most once)", key="expert_tokens",
                        fix=f"give at most {tokens}, or leave it out for balanced routing")
    return min(experts, math.ceil(passes / expert_tokens)), expert_tokens


def attention_scores(*, batch: int, kv_heads: int, group: int, queries: int, keys: int,
                     head_dim: int, name: str = "scores") -> Workload:
    """Q K^T with grouped-query heads: K (``Weights``) is shared by the ``group`` query
    heads of each of the ``kv_heads`` groups."""
    return einsum("Outputs[B,G,H,M,N] += Inputs[B,G,H,M,D] * Weights[B,G,N,D]",
                  {"B": batch, "G": kv_heads, "H": group, "M": queries, "N": keys,
                   "D": head_dim}, name=name)


def attention_context(*, batch: int, kv_heads: int, group: int, queries: int, keys: int,
                      head_dim: int, name: str = "context") -> Workload:
    """softmax(scores) V with grouped-query heads: V (``Weights``) shared within a group."""
    return einsum("Outputs[B,G,H,M,D] += Inputs[B,G,H,M,N] * Weights[B,G,N,D]",
                  {"B": batch, "G": kv_heads, "H": group, "M": queries, "N": keys,
                   "D": head_dim}, name=name)


def default_seq(cfg: DecoderConfig) -> int:
    """Prefill length when none is given: 2048, or the model's positions if fewer."""
    return min(DEFAULT_SEQ, cfg.max_context)


def default_context(cfg: DecoderConfig) -> int:
    """Decode KV-cache length when none is given: 4096, or the model's positions if fewer."""
    return min(DEFAULT_CONTEXT, cfg.max_context)


def decoder_layers(cfg: DecoderConfig, *, phase: str = DEFAULT_PHASE, seq: int | None = None,
                   context: int | None = None, batch: int = DEFAULT_BATCH,
                   blocks: int | None = None, expert_tokens: int | None = None,
                   lm_head: bool = True) -> list[ZooLayer]:
    """Every layer instance of ``cfg`` in one phase (module docstring for the options)."""
    if phase not in PHASES:
        raise SpecError(f"unknown phase {phase!r}", source=cfg.name, key="phase",
                        fix=f"use one of {', '.join(PHASES)}")
    unused = ("context", context) if phase == "prefill" else ("seq", seq)
    if unused[1] is not None:
        other = "seq" if unused[0] == "context" else "context"
        raise SpecError(f"{unused[0]} does not apply to the {phase} phase", source=cfg.name,
                        key=unused[0], fix=f"leave --{unused[0]} out; {phase} uses --{other}")
    seq = default_seq(cfg) if seq is None else seq
    context = default_context(cfg) if context is None else context
    seq, context, batch = (_positive(k, v, cfg.name) for k, v in
                           (("seq", seq), ("context", context), ("batch", batch)))
    for key, value in (("seq", seq), ("context", context)):
        if value > cfg.max_context:
            raise SpecError(f"{key} {value} exceeds {cfg.name}'s {cfg.max_context} positions",
                            source=cfg.name, key=key,
                            fix=f"give --{key} at most {cfg.max_context}")
    blocks = cfg.blocks if blocks is None else _positive("blocks", blocks, cfg.name)
    if expert_tokens is not None:
        _positive("expert_tokens", expert_tokens, cfg.name)
        if not cfg.experts:
            raise SpecError(f"{cfg.name} has no mixture-of-experts layers", source=cfg.name,
                            key="expert_tokens", fix="leave --expert-tokens out")
    tokens, keys = (seq, seq) if phase == "prefill" else (1, context)
    rows = batch * tokens
    h, kv, d = cfg.hidden, cfg.kv_heads, cfg.head_dim
    source = f"{cfg.source}; {phase}, " + (f"seq {seq}" if phase == "prefill"
                                            else f"context {context}") + f", batch {batch}"
    b = Builder(cfg.name, source)

    def proj(layer: str, rows_: int, n: int, k: int) -> None:
        b.add(layer, gemm(M=rows_, N=n, K=k, name=f"{cfg.name}.{layer}"))

    group = cfg.heads // kv
    for i in range(blocks):
        gpt = cfg.gpt2_names
        p = f"h.{i}" if gpt else f"layers.{i}"
        a = f"{p}.attn" if gpt else f"{p}.self_attn"
        for what, n in (("q", cfg.heads * d), ("k", kv * d), ("v", kv * d)):
            proj(f"{a}.c_attn.{what}" if gpt else f"{a}.{what}_proj", rows, n, h)
        shape = dict(batch=batch, kv_heads=kv, group=group, queries=tokens, keys=keys,
                     head_dim=d)
        b.add(f"{a}.scores", attention_scores(**shape, name=f"{cfg.name}.{a}.scores"))
        b.add(f"{a}.context", attention_context(**shape, name=f"{cfg.name}.{a}.context"))
        proj(f"{a}.c_proj" if gpt else f"{a}.o_proj", rows, h, cfg.heads * d)
        if cfg.experts:
            m = f"{p}.block_sparse_moe"
            proj(f"{m}.gate", rows, cfg.experts, h)
            active, per = moe_routing(rows, cfg.experts, cfg.top_k, expert_tokens)
            for e in range(active):
                proj(f"{m}.experts.{e}.w1", per, cfg.ffn, h)
                proj(f"{m}.experts.{e}.w3", per, cfg.ffn, h)
                proj(f"{m}.experts.{e}.w2", per, h, cfg.ffn)
        elif cfg.gated:
            proj(f"{p}.mlp.gate_proj", rows, cfg.ffn, h)
            proj(f"{p}.mlp.up_proj", rows, cfg.ffn, h)
            proj(f"{p}.mlp.down_proj", rows, h, cfg.ffn)
        else:
            proj(f"{p}.mlp.c_fc", rows, cfg.ffn, h)
            proj(f"{p}.mlp.c_proj", rows, h, cfg.ffn)
    if lm_head:
        proj("lm_head", rows, cfg.vocab, h)
    return b.layers


def llama3_8b(**options) -> list[ZooLayer]:
    """Llama 3 8B (``LLAMA3_8B``); options as ``decoder_layers``."""
    return decoder_layers(LLAMA3_8B, **options)


def gpt2(**options) -> list[ZooLayer]:
    """GPT-2 small (``GPT2``); options as ``decoder_layers``."""
    return decoder_layers(GPT2, **options)


def mixtral_8x7b(**options) -> list[ZooLayer]:
    """Mixtral 8x7B (``MIXTRAL_8X7B``); options as ``decoder_layers``."""
    return decoder_layers(MIXTRAL_8X7B, **options)
