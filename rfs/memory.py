"""How much memory a Qwen3 model needs: parameters, weights, KV cache and training (appendix D).

Every number here follows from a model's config, so it can be worked out before anything is downloaded:

- **parameters**, part by part (embedding, attention, feed-forward, norms, output head), and for the
  mixture-of-experts models also the parameters *active* for one token;
- **weights**: parameters times the bytes of a dtype (float32 4, bfloat16 2, int8 1, int4 half a byte;
  the small per-row scales of quantized weights are left out);
- **KV cache**: keys and values of every layer for every token of every sequence;
- **training** with AdamW: weights, gradients, the optimizer's two moment estimates, a float32 master copy
  of the weights when training in bfloat16, and the activations kept for the backward pass.

The dense configs are ``rfs.qwen3.CONFIGS``; the mixture-of-experts ones are below. Only their sizes are here:
rfs has no mixture-of-experts forward pass (the router and experts are counted, not run).
"""

from __future__ import annotations

from dataclasses import dataclass

from rfs.qwen3 import CONFIGS, Qwen3Config

GIB, MIB = 2**30, 2**20


@dataclass
class Qwen3MoEConfig(Qwen3Config):
    """A mixture-of-experts Qwen3: in every layer the feed-forward is ``num_experts`` small SwiGLU experts
    (hidden size ``moe_intermediate_size``) and a router that sends each token to ``num_experts_per_tok`` of
    them. ``intermediate_size`` is in the config.json but unused: no layer is dense."""

    num_experts: int = 128
    num_experts_per_tok: int = 8
    moe_intermediate_size: int = 768


# Every published Qwen3 size (from the official config.json files; head_dim 128, vocabulary 151,936 throughout).
SIZES: dict[str, Qwen3Config] = {name: config for name, config in CONFIGS.items() if name != "tiny"} | {
    "30b-a3b": Qwen3MoEConfig(hidden_size=2048, intermediate_size=6144, num_hidden_layers=48,
                              num_attention_heads=32, num_key_value_heads=4, tie_word_embeddings=False,
                              moe_intermediate_size=768),
    "235b-a22b": Qwen3MoEConfig(hidden_size=4096, intermediate_size=12288, num_hidden_layers=94,
                                num_attention_heads=64, num_key_value_heads=4, tie_word_embeddings=False,
                                moe_intermediate_size=1536),
}

# Bytes per stored number. int8 and int4 are weight-only formats: they do not apply to training.
DTYPE_BYTES: dict[str, float] = {"float32": 4, "bfloat16": 2, "int8": 1, "int4": 0.5}


def is_moe(config: Qwen3Config) -> bool:
    """Whether ``config`` describes a mixture-of-experts model."""
    return isinstance(config, Qwen3MoEConfig)


# --- Parameters ---------------------------------------------------------------------------------------

def attention_parameters(config: Qwen3Config) -> int:
    """Parameters of one layer's attention: q, k, v and output projections and the q/k norms.

    With H query heads, K key/value heads, head size E and hidden size D: q is (H*E, D), k and v are (K*E, D)
    each, the output projection is (D, H*E), and q_norm and k_norm scale E channels each.
    """
    d, e = config.hidden_size, config.head_dim
    q, kv = config.num_attention_heads * e, config.num_key_value_heads * e
    return d * q + 2 * d * kv + q * d + 2 * e


def feed_forward_parameters(config: Qwen3Config, active: bool = False) -> int:
    """Parameters of one layer's feed-forward: SwiGLU's gate, up and down matrices, 3 x D x I.

    A mixture-of-experts layer has one such triple per expert plus a router (one row of D per expert); with
    ``active``, only the experts one token uses (``num_experts_per_tok``) count, and the router.
    """
    d = config.hidden_size
    if not is_moe(config):
        return 3 * d * config.intermediate_size
    experts = config.num_experts_per_tok if active else config.num_experts
    return experts * 3 * d * config.moe_intermediate_size + config.num_experts * d


def parameter_counts(config: Qwen3Config, active: bool = False) -> dict[str, int]:
    """Parameters part by part: embedding, attention, feed-forward, norms and (untied) output head.

    A tied output head reuses the embedding matrix, so it adds nothing. ``active`` counts only the experts a
    token uses (the same as all parameters for a dense model).
    """
    layers, d, v = config.num_hidden_layers, config.hidden_size, config.vocab_size
    return {"embedding": v * d,
            "attention": layers * attention_parameters(config),
            "feed-forward": layers * feed_forward_parameters(config, active),
            "norms": layers * 2 * d + d,  # two RMSNorms per block, one after the last block
            "output head": 0 if config.tie_word_embeddings else v * d}


def count_parameters(config: Qwen3Config, active: bool = False) -> int:
    """All parameters of a model (a tied head counts once); ``active``: those one token uses."""
    return sum(parameter_counts(config, active).values())


def weight_bytes(config: Qwen3Config, dtype: str = "bfloat16") -> float:
    """Bytes of all the weights stored in ``dtype`` (a ``DTYPE_BYTES`` name)."""
    return count_parameters(config) * DTYPE_BYTES[dtype]


# --- KV cache -----------------------------------------------------------------------------------------

def kv_cache_bytes(config: Qwen3Config, tokens: int, dtype: str = "bfloat16", batch_size: int = 1) -> float:
    """Bytes of a KV cache holding ``tokens`` positions for ``batch_size`` sequences.

    Each layer keeps a key and a value of K heads x E numbers per token: 2 x layers x K x E per token. Only
    the key/value heads count, which is what grouped-query attention saves (Qwen3-0.6B has 16 query heads but
    8 key/value heads, so half the cache multi-head attention would need).
    """
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim
    return batch_size * tokens * per_token * DTYPE_BYTES[dtype]


# --- Training -----------------------------------------------------------------------------------------

def activations_per_token(config: Qwen3Config) -> dict[str, int]:
    """Numbers the forward pass keeps for the backward pass, per token: per layer, and once for the model.

    Counted from what ``rfs.qwen3`` computes (and checked against what PyTorch saves in float32, in
    tests/test_memory.py). One block keeps, with D, I, H, K, E as in ``rfs.qwen3``:

    - 6 D: the block's input, each RMSNorm's normalized input and output (two norms), the residual between;
    - (H + 2K) E: the fused q, k, v projection; 3 H E + 2 K E: the normalized and rotated queries and keys, and
      the attention output; 2 + 2H + K: the norms' inverse RMS values and attention's log-sum-exp;
    - 4 I: the gate and up projections (2 I), the SiLU of the gate and its product with up.

    Once per model: the last norm (3 D + 1) and the vocabulary-sized log-softmax of the loss (V, in float32).
    A mixture-of-experts layer keeps the feed-forward numbers of the experts a token visits, and the router's
    scores. In bfloat16 the float32 statistics inside RMSNorm add a little that is not counted.
    """
    d, e, h, k = config.hidden_size, config.head_dim, config.num_attention_heads, config.num_key_value_heads
    if is_moe(config):
        feed_forward = 4 * config.num_experts_per_tok * config.moe_intermediate_size + config.num_experts
    else:
        feed_forward = 4 * config.intermediate_size
    layer = 6 * d + (h + 2 * k) * e + 3 * h * e + 2 * k * e + 2 + 2 * h + k + feed_forward
    return {"per layer": layer, "last norm": 3 * d + 1, "log-softmax": config.vocab_size}


def activation_bytes(config: Qwen3Config, tokens: int, dtype: str = "bfloat16", checkpointing: bool = False) -> float:
    """Bytes of activations kept for the backward pass of one batch of ``tokens`` tokens (all sequences).

    With activation ``checkpointing`` each block keeps only its input and recomputes the rest during the
    backward pass, so memory holds the inputs of all blocks plus the full activations of one block at a time.
    The log-softmax of the loss is float32 whatever the model's dtype.
    """
    counts = activations_per_token(config)
    layers = config.num_hidden_layers
    kept = config.hidden_size * layers + counts["per layer"] if checkpointing else counts["per layer"] * layers
    return tokens * ((kept + counts["last norm"]) * DTYPE_BYTES[dtype] + counts["log-softmax"] * 4)


# Bytes per parameter of full training with AdamW: (weights, gradients, float32 master weights, two moments).
# bfloat16 "mixed precision" computes in bfloat16 but updates a float32 copy of the weights, whose small
# changes would be lost to bfloat16's 8-bit mantissa.
TRAINING_BYTES_PER_PARAMETER: dict[str, dict[str, int]] = {
    "float32": {"weights": 4, "gradients": 4, "master weights": 0, "AdamW moments": 8},
    "bfloat16": {"weights": 2, "gradients": 2, "master weights": 4, "AdamW moments": 8},
}


def training_bytes(config: Qwen3Config, tokens: int = 4096, dtype: str = "bfloat16",
                   checkpointing: bool = False) -> dict[str, float]:
    """Memory of one full training step with AdamW, part by part, for a batch of ``tokens`` tokens.

    Counted: weights, gradients, the float32 master weights of bfloat16 training, AdamW's two moment
    estimates (float32), and the activations of :func:`activation_bytes`. Not counted: temporary buffers of
    single operations, the memory allocator's slack, and the framework's own (a CUDA context is about 0.5 GiB).
    """
    if dtype not in TRAINING_BYTES_PER_PARAMETER:
        raise ValueError(f"training memory is planned for {list(TRAINING_BYTES_PER_PARAMETER)}, not {dtype!r} "
                         "(int8 and int4 are formats for inference weights)")
    params = count_parameters(config)
    parts = {name: params * size for name, size in TRAINING_BYTES_PER_PARAMETER[dtype].items()}
    return parts | {"activations": activation_bytes(config, tokens, dtype, checkpointing)}


# --- The table of `rfs models --memory` ---------------------------------------------------------------

def memory_rows(tokens: int = 4096, checkpointing: bool = True) -> list[dict]:
    """One row per size: parameters (all, active), weights per dtype (GiB), KV cache per 1,000 tokens in
    bfloat16 (MiB) and training memory per dtype with AdamW on ``tokens`` tokens per step (GiB)."""
    rows = []
    for name, config in SIZES.items():
        rows.append({"size": name, "parameters": count_parameters(config),
                     "active": count_parameters(config, active=True),
                     **{f"weights {dtype}": weight_bytes(config, dtype) / GIB for dtype in DTYPE_BYTES},
                     "KV per 1k tokens": kv_cache_bytes(config, 1000) / MIB,
                     **{f"training {dtype}": sum(training_bytes(config, tokens, dtype, checkpointing).values()) / GIB
                        for dtype in TRAINING_BYTES_PER_PARAMETER}})
    return rows


def format_memory_table(tokens: int = 4096, checkpointing: bool = True) -> str:
    """The memory table as text: sizes down, quantities across."""
    rows = memory_rows(tokens, checkpointing)
    lines = [f"{'':<26}{'weights (GiB)':^36}{'KV cache':>10}{'training (GiB)':>18}",
             f"{'size':<10}{'params':>8}{'active':>8}" + "".join(f"{d:>9}" for d in DTYPE_BYTES)
             + f"{'MiB/1k':>10}" + "".join(f"{d:>9}" for d in TRAINING_BYTES_PER_PARAMETER)]
    for r in rows:
        lines.append(f"{r['size']:<10}{r['parameters'] / 1e9:>7.2f}B{r['active'] / 1e9:>7.2f}B"
                     + "".join(f"{r[f'weights {d}']:>9.1f}" for d in DTYPE_BYTES)
                     + f"{r['KV per 1k tokens']:>10.0f}"
                     + "".join(f"{r[f'training {d}']:>9.0f}" for d in TRAINING_BYTES_PER_PARAMETER))
    how = "with" if checkpointing else "without"
    lines.append(f"KV cache: bfloat16, per 1,000 tokens of one sequence. Training: AdamW, 16 bytes per parameter "
                 f"(bfloat16: with float32 master weights), plus activations of {tokens} tokens per step {how} "
                 "activation checkpointing.")
    return "\n".join(lines)
