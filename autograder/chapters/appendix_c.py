"""Appendix C's parts: a Qwen3 block's forward pass from its weights, half by half (feed-forward, attention), then
the whole block.

Every case draws a block of random weights, passes them to the learner under the checkpoint's names (those of one
layer, ``self_attn.q_proj.weight``, ...), and compares with what ``rfs.qwen3.Block`` computes from the same
weights, in the process that judges. The visible cases below and the hidden ones
(``solutions/appendix_c/hidden_cases.py``) are built by the same function.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import torch

from autograder.part import Case, Part, close_to
from rfs import qwen3 as rfs_qwen3
from rfs.hub import to_checkpoint_names

# Sums taken in another order (scores written out, or PyTorch's fused attention) differ by about 1e-6.
ATOL = 1e-4
# The sizes of a case unless it says otherwise: batch B, tokens T, the block's config.
SMALL = {"batch": 2, "tokens": 5, "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 8, "intermediate_size": 48, "rms_norm_eps": 1e-6, "rope_theta": 10_000.0}


def random_block(generator: torch.Generator, config: rfs_qwen3.Qwen3Config) -> tuple[rfs_qwen3.Block, dict]:
    """A block of random weights, and the same weights under the checkpoint's names of one layer.

    Matrices are scaled by 1/sqrt(fan-in) so activations stay near 1; norm scales are drawn from [0.5, 1.5), so
    a norm left out, or applied to the wrong tensor, changes the result.
    """
    block = rfs_qwen3.Block(config)
    with torch.no_grad():
        for parameter in block.parameters():
            if parameter.dim() == 1:
                parameter.copy_(torch.rand(parameter.shape, generator=generator) + 0.5)
            else:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / parameter.shape[1] ** 0.5)
    layer = {f"layers.0.{name}": tensor.clone() for name, tensor in block.state_dict().items()}
    named = to_checkpoint_names(layer, replace(config, num_hidden_layers=1))  # q, k, v and gate, up apart
    return block, {name.removeprefix("model.layers.0."): tensor for name, tensor in named.items()}


def block_cases(function: str, seed: int, settings: list[tuple[str, dict]]) -> list[Case]:
    """``function`` on random blocks and inputs, one case per ``(what, changes to SMALL)``.

    ``feed_forward(x, weights)``, ``self_attention(x, weights, cos, sin, config)`` and
    ``block_forward(x, weights, cos, sin, config)``, with x (B, T, D) float32, cos and sin (T, E) for positions
    0 .. T-1 (attention sees only differences of positions, so starting elsewhere would change nothing), and
    config the block's ``Qwen3Config`` as a dict.
    """
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for what, changes in settings:
        sizes = SMALL | changes
        config = rfs_qwen3.Qwen3Config(**{k: v for k, v in sizes.items() if k not in ("batch", "tokens")})
        block, weights = random_block(generator, config)
        x = torch.randn(sizes["batch"], sizes["tokens"], config.hidden_size, generator=generator)
        cos, sin = rfs_qwen3.rope_cos_sin(torch.arange(sizes["tokens"]), config.head_dim, config.rope_theta)
        with torch.no_grad():
            if function == "feed_forward":
                args, expected = (x, weights), block.mlp(x)
            elif function == "self_attention":
                args, expected = (x, weights, cos, sin, asdict(config)), block.self_attn(x, cos, sin, None)
            else:
                args, expected = (x, weights, cos, sin, asdict(config)), block(x, cos, sin, None)
        cases.append(Case(function, args, close_to(expected, ATOL), what))
    return cases


WEIGHTS = ("The block's weights are a dict of tensors named as in a checkpoint's layer (`self_attn.q_proj.weight`, "
           "...); a projection's weight is (out, in), so it computes x @ weight.T. ")
ATTENTION_REFERENCES = ("rfs.qwen3.attention", "rfs.qwen3.Attention", "rfs.qwen3.KVCache",
                        "rfs.cpu_decode.decode_attention")

PARTS = [
    Part("feed_forward", 2, ("feed_forward",), ("rfs.qwen3.FeedForward",),
         lambda: block_cases("feed_forward", 1, [("a feed-forward of 48 hidden units", {})]),
         WEIGHTS + "SwiGLU is down(silu(gate(x)) * up(x)); the SiLU goes on the gate, not on up. Compared within "
         f"an absolute {ATOL:g}."),
    Part("self_attention", 5, ("self_attention",), ATTENTION_REFERENCES,
         lambda: block_cases("self_attention", 2, [("4 query heads sharing 2 key/value heads", {})]),
         WEIGHTS + "Project to H query and K key/value heads of head_dim E, RMSNorm each query and key head (q_norm, "
         "k_norm, over E) before rotating it with apply_rope, give query head h the key/value head h // (H // K) "
         "(repeat_interleave, not repeat), scale by 1/sqrt(E), hide later tokens (causal), then o_proj. "
         f"Compared within an absolute {ATOL:g}."),
    Part("block", 3, ("block_forward",),
         (*ATTENTION_REFERENCES, "rfs.qwen3.FeedForward", "rfs.qwen3.Block", "rfs.qwen3.Qwen3"),
         lambda: block_cases("block_forward", 3, [("a block", {})]),
         WEIGHTS + "Pre-norm: h = x + self_attention(input_layernorm(x)), then h + feed_forward("
         "post_attention_layernorm(h)); each norm goes on its branch's input, never on the sum, and both residuals "
         "are added. "
         f"Compared within an absolute {ATOL:g}."),
]
