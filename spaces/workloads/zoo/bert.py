"""BERT-base encoder at sequence length 512, Devlin et al., NAACL 2019.

L = 12 layers, hidden size H = 768, A = 12 heads of 64, feed-forward size 3072, batch 1,
512 tokens (BERT's maximum). Per encoder layer, in execution order: the Q, K and V
projections (GEMM 512x768 by 768x768), the attention scores Q K^T (12 heads of
512x64 by 64x512), the context softmax(scores) V (12 heads of 512x512 by 512x64), the
attention output projection, and the feed-forward up (768 -> 3072) and down
(3072 -> 768) projections. Embeddings, softmax, layer norms and the pooler are not
included. Names follow Hugging Face's ``BertModel`` modules; ``scores`` and
``context`` are the two matmuls inside ``attention.self``.
"""

from __future__ import annotations

from loopscape.spaces.workload import batched_matmul, gemm

from .layer import Builder, ZooLayer

SOURCE = ("Devlin et al., 'BERT: Pre-training of Deep Bidirectional Transformers for Language "
          "Understanding', NAACL 2019 (BERT-base: L=12, H=768, A=12, FFN 3072); seq 512")
DESCRIPTION = "BERT-base encoder, seq 512: 12 x (Q, K, V, scores, context, out, FFN up, down)"

SEQ, HIDDEN, HEADS, FFN, LAYERS = 512, 768, 12, 3072, 12


def layers() -> list[ZooLayer]:
    b = Builder("bert_base", SOURCE)
    head = HIDDEN // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            n = f"{p}.attention.self.{proj}"
            b.add(n, gemm(M=SEQ, N=HIDDEN, K=HIDDEN, name=f"bert_base.{n}"))
        n = f"{p}.attention.self.scores"
        b.add(n, batched_matmul(B=HEADS, M=SEQ, N=SEQ, K=head, name=f"bert_base.{n}"))
        n = f"{p}.attention.self.context"
        b.add(n, batched_matmul(B=HEADS, M=SEQ, N=head, K=SEQ, name=f"bert_base.{n}"))
        n = f"{p}.attention.output.dense"
        b.add(n, gemm(M=SEQ, N=HIDDEN, K=HIDDEN, name=f"bert_base.{n}"))
        n = f"{p}.intermediate.dense"
        b.add(n, gemm(M=SEQ, N=FFN, K=HIDDEN, name=f"bert_base.{n}"))
        n = f"{p}.output.dense"
        b.add(n, gemm(M=SEQ, N=HIDDEN, K=FFN, name=f"bert_base.{n}"))
    return b.layers
