"""The CPU decode path: speed tricks the generation engine uses only when it runs on a CPU.

:mod:`rfs.qwen3` is the model as chapter 2 teaches it: a KV cache in the model's dtype and attention through
``F.scaled_dot_product_attention``, the right choice on a GPU. Decoding on a CPU, one new token per row and step,
runs faster with three changes, all kept in this module so the model stays plain:

- the cache is kept in float32 and the keys are stored transposed, (B, K, E, S), so that decode's ``q @ k^T``
  reads them in memory order: about 2x on that product at pocket size;
- attention for a single new token is written out (:func:`decode_attention`) in float32, with the query heads of
  a group folded together: 4-5x faster than the fused kernel, which is tuned for long prompts, at decode shapes;
- oneDNN is switched off for one-row bf16 decoding (:func:`decode_context`): a bf16 matrix-vector product ran
  2-3x faster without it, while prefill and batched products run far faster with it.

Measured with ``rfs bench generate`` on this project's 2-core x86 host without bf16 instructions (README,
"Performance"); another CPU may gain less. :func:`rfs.generate.generate_ids` picks :class:`CPUDecodeCache` when
the model is on a CPU. The float32 cache costs memory (twice a bf16 cache) but saves converting the whole cache
at every step, which cost more than the extra bytes.
"""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, nullcontext

import torch

from rfs.qwen3 import KVCache, Qwen3Config, attention

# torch warns about Intel GPUs whenever the oneDNN flags are restored (see decode_context), also on machines
# without one: noise in every lesson and benchmark that decodes in bf16 on a CPU.
warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN is available for Intel GPUs")


def decode_attention(q: torch.Tensor, k_t: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Attention for a single new token, written out: two small matrix products and a softmax.

    The query heads that share a key/value head all look at the same keys, so they are folded into one axis:
    ``q`` is (B, K, H/K, E), the keys come transposed, ``k_t`` (B, K, E, S), as :class:`CPUDecodeCache` stores
    them, ``v`` is (B, K, S, E), and ``mask`` is None or (B, 1, 1, S). With one query there is nothing causal to
    hide, only padding. Returns (B, K, H/K, E) in the dtype of ``q``.
    """
    scores = (q.float() @ k_t.float()) * q.shape[-1] ** -0.5  # (B, K, H/K, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(dim=-1) @ v.float()).to(q.dtype)


class CPUDecodeCache(KVCache):
    """A KV cache for decoding on a CPU: float32, keys stored transposed, single-token attention written out.

    Each layer holds values (B, K, max_len, E) and keys transposed, (B, K, E, max_len), both float32 whatever the
    model's dtype. Prompts (several new tokens) still attend through ``F.scaled_dot_product_attention``.
    """

    def __init__(self, config: Qwen3Config, batch_size: int, max_len: int, device: torch.device | str | None = None):
        super().__init__(config, batch_size, max_len, device, torch.float32)
        keys_shape = (batch_size, config.num_key_value_heads, config.head_dim, max_len)
        # The keys, transposed, replace the ones the plain cache allocated (empty tensors: nothing was written).
        self.keys = [torch.empty(keys_shape, device=device) for _ in range(config.num_hidden_layers)]

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new keys/values (B, K, T, E) after the filled slots; return all keys so far, transposed
        (B, K, E, S), and all values so far (B, K, S, E), in float32."""
        end = self.length + k.shape[2]
        self.keys[layer][..., self.length:end] = k.transpose(-1, -2)
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][..., :end], self.values[layer][:, :, :end]

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Store the new keys and values (B, K, T, E), then attend the new queries ``q`` (B, H, T, E) to every
        key so far; returns (B, T, H, E)."""
        B, H, T, E = q.shape
        first = self.length == 0
        k_t, v_all = self.write(layer, k, v)  # (B, K, E, S), (B, K, S, E)
        if T == 1:  # decoding
            out = decode_attention(q.view(B, k.shape[1], -1, E), k_t, v_all, mask)  # (B, K, H/K, E)
            return out.view(B, H, 1, E).transpose(1, 2)
        if first:  # a prompt with nothing before it: attend to its own keys, still in the model's dtype
            return attention(q, k, v, mask)
        return attention(q, k_t.transpose(-1, -2).to(q.dtype), v_all.to(q.dtype), mask)  # continues cached text


def decode_context(dtype: torch.dtype, rows: int) -> AbstractContextManager:
    """The oneDNN setting for decoding ``rows`` rows in ``dtype`` on a CPU: off for one bf16 row, else unchanged.

    A bf16 matrix-vector product (one row decoding) ran 2-3x faster without oneDNN, while matrix-matrix
    products (prefill, several rows) run far faster with it.
    """
    if dtype == torch.bfloat16 and rows == 1:
        return torch.backends.mkldnn.flags(enabled=False)
    return nullcontext()
