"""Qwen3 from scratch: the whole decoder-only transformer in one file.

Chapter 2 ("Generating text with a pre-trained LLM") builds every piece below by hand, and this file reads top
to bottom in the same order. The module and parameter names match the Hugging Face checkpoints (minus their
``model.`` prefix), except two fused matrices (``qkv_proj``, ``gate_up_proj``) that ``rfs/hub.py`` builds from
the checkpoint's separate ones when loading real weights. Attention runs through
``F.scaled_dot_product_attention`` on every device; the speed tricks the generation engine adds for decoding
on a CPU live apart, in ``rfs/cpu_decode.py``.

Shapes used in the comments:
    B batch, T new tokens in this call, S all key positions (cache + new), D hidden size,
    H query heads, K key/value heads, E head dimension, V vocabulary size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Qwen3Config:
    """Sizes of a Qwen3 model. Field names follow the Hugging Face ``config.json``."""

    vocab_size: int = 151_936
    hidden_size: int = 1024
    intermediate_size: int = 3072
    num_hidden_layers: int = 28
    num_attention_heads: int = 16
    num_key_value_heads: int = 8
    head_dim: int = 128
    max_position_embeddings: int = 40_960
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True

    def to_hf_dict(self) -> dict:
        """Return this config as a Hugging Face ``config.json`` dictionary for ``Qwen3ForCausalLM``."""
        return {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "hidden_act": "silu",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "bos_token_id": None,
            "eos_token_id": None,
            "torch_dtype": "float32",
            "use_cache": True,
            "use_sliding_window": False,
            **asdict(self),
        }

    @classmethod
    def from_hf_dict(cls, d: dict) -> Qwen3Config:
        """Build a config from a Hugging Face ``config.json`` dictionary, ignoring keys we do not use."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if "head_dim" not in d:  # older configs leave it implicit
            kwargs["head_dim"] = d["hidden_size"] // d["num_attention_heads"]
        if "rope_theta" not in d and "rope_parameters" in d:  # transformers >= 5 nests it
            kwargs["rope_theta"] = d["rope_parameters"]["rope_theta"]
        return cls(**kwargs)


# The published dense Qwen3 sizes (from the official config.json files), plus a tiny one for tests.
CONFIGS: dict[str, Qwen3Config] = {
    "0.6b": Qwen3Config(),
    "1.7b": Qwen3Config(hidden_size=2048, intermediate_size=6144),
    "4b": Qwen3Config(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32),
    "8b": Qwen3Config(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                      num_attention_heads=32, tie_word_embeddings=False),
    "14b": Qwen3Config(hidden_size=5120, intermediate_size=17408, num_hidden_layers=40,
                       num_attention_heads=40, tie_word_embeddings=False),
    "32b": Qwen3Config(hidden_size=5120, intermediate_size=25600, num_hidden_layers=64,
                       num_attention_heads=64, tie_word_embeddings=False),
    "tiny": Qwen3Config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                        max_position_embeddings=512, rope_theta=10_000.0),
}


# --- RMSNorm -------------------------------------------------------------------------------------------

def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Scale each vector in ``x`` (..., D) to unit root-mean-square, then by ``weight`` (D,).

    The statistics are computed in float32 because squaring bf16 values loses too much precision.
    """
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


class RMSNorm(nn.Module):
    """RMSNorm with a learned per-channel scale (no bias, no mean subtraction, unlike LayerNorm)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


# --- Rotary position embedding ------------------------------------------------------------------------

def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and sines of the rotation angles for each position.

    ``positions`` is (T,) or (B, T); the result has shape (T, E) or (B, T, E). Pair i of a head vector turns by
    ``position * theta ** (-2i / E)``; the angles are repeated twice because Qwen3 rotates the first half of
    a head vector against its second half ("split halves"), not neighbouring pairs.
    """
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.float()[..., None] * inv_freq  # (..., T, E/2)
    angles = torch.cat([angles, angles], dim=-1)  # (..., T, E)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate query or key vectors ``x`` (B, heads, T, E) by the angles in ``cos``/``sin`` (T, E) or (B, T, E)."""
    if cos.dim() == 3:  # one set of positions per batch row: broadcast over the heads
        cos, sin = cos[:, None], sin[:, None]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated * sin


# --- Attention and the KV cache ------------------------------------------------------------------------

def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Grouped-query attention of queries ``q`` (B, H, T, E) over keys and values ``k``, ``v`` (B, K, S, E).

    ``mask`` (B, 1, T, S) says which keys each query may see; None means plain causal attention over new
    tokens (T == S), or, for a single new token, every key. Each group of H/K query heads shares one key/value
    head (``enable_gqa``). Returns (B, T, H, E).
    """
    causal = mask is None and q.shape[2] > 1  # one query attends to every key: nothing to hide
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=True).transpose(1, 2)


class KVCache:
    """Keys and values of every layer, preallocated for ``max_len`` tokens and written in place as they arrive.

    Each layer owns a key and a value tensor of shape (B, K, max_len, E) in ``dtype``, which must be the model's;
    ``length`` slots are filled. ``valid`` (B, max_len) marks which slots hold real tokens, so left padding is
    never attended to and each row's positions count only its real tokens. No tensor is concatenated per step.
    """

    def __init__(self, config: Qwen3Config, batch_size: int, max_len: int,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        shape = (batch_size, config.num_key_value_heads, max_len, config.head_dim)
        # Left uninitialized: a slot is always written before it is read.
        self.keys = [torch.empty(shape, device=device, dtype=dtype) for _ in range(config.num_hidden_layers)]
        self.values = [torch.empty(shape, device=device, dtype=dtype) for _ in range(config.num_hidden_layers)]
        self.valid = torch.zeros(batch_size, max_len, dtype=torch.bool, device=device)
        self.padded = False  # whether any filled slot is padding (then attention needs a mask)
        self.length = 0
        self.max_len = max_len

    @property
    def batch_size(self) -> int:
        """Number of rows (sequences) held."""
        return self.valid.shape[0]

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new keys/values (B, K, T, E) after the filled slots; return all keys and values so far
        (B, K, S, E)."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Store the new keys and values (B, K, T, E), then attend the new queries ``q`` (B, H, T, E) to every
        key so far; returns (B, T, H, E)."""
        k_all, v_all = self.write(layer, k, v)
        return attention(q, k_all, v_all, mask)

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep only the batch rows in ``rows`` (a LongTensor of row indices), e.g. drop finished sequences
        or repeat a prompt's rows for several samples."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.valid = self.valid.index_select(0, rows)


# --- The transformer block -----------------------------------------------------------------------------

class Attention(nn.Module):
    """Grouped-query self-attention with per-head RMSNorm on queries and keys (new in Qwen3)."""

    def __init__(self, cfg: Qwen3Config):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        # Queries, keys and values are three projections of the same input, so one matrix product computes
        # all three: fewer, larger products run faster. Checkpoints store them as q_proj, k_proj and v_proj;
        # rfs/hub.py stacks those three matrices into this one when loading.
        self.qkv_proj = nn.Linear(cfg.hidden_size, (self.n_heads + 2 * self.n_kv_heads) * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, cfg.hidden_size, bias=False)
        self.q_norm = RMSNorm(self.head_dim, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, cfg.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, _ = x.shape
        qkv = self.qkv_proj(x).view(B, T, -1, self.head_dim).transpose(1, 2)  # (B, H + 2K, T, E)
        q, k, v = qkv.split([self.n_heads, self.n_kv_heads, self.n_kv_heads], dim=1)  # (B, H|K|K, T, E)
        q = apply_rope(self.q_norm(q), cos, sin)
        k = apply_rope(self.k_norm(k), cos, sin)
        if cache is None:
            out = attention(q, k, v, mask)  # (B, T, H, E)
        else:  # the cache stores the new keys and values, and the queries attend to every key so far
            out = cache.attend(layer, q, k, v, mask)  # (B, T, H, E)
        return self.o_proj(out.reshape(B, T, self.n_heads * self.head_dim))


class FeedForward(nn.Module):
    """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))``.

    ``gate`` and ``up`` read the same input, so like q, k and v they share one matrix, ``gate_up_proj``: the gate
    rows first, then the up rows (checkpoints store them as gate_proj and up_proj).
    """

    def __init__(self, cfg: Qwen3Config):
        super().__init__()
        self.gate_up_proj = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)  # (..., I) each
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attention(norm(x))``, then ``x + feed_forward(norm(x))``."""

    def __init__(self, cfg: Qwen3Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = FeedForward(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


# --- The model ----------------------------------------------------------------------------------------

def causal_padding_mask(valid: torch.Tensor, start: int) -> torch.Tensor:
    """Boolean mask (B, 1, T, S) saying which key slot each new query may attend to.

    ``valid`` (B, S) marks real (non-padding) slots; the new queries sit in slots ``start .. S-1``. A query sees
    the real slots up to its own; it always sees itself, so a padding query never has an empty row (which
    would give NaN).
    """
    S = valid.shape[1]
    q_slot = torch.arange(start, S, device=valid.device)[:, None]  # (T, 1)
    k_slot = torch.arange(S, device=valid.device)[None, :]  # (1, S)
    allowed = (k_slot <= q_slot) & valid[:, None, :]  # (B, T, S)
    return (allowed | (k_slot == q_slot))[:, None]


def packed_positions_and_mask(document_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (B, T) and attention mask (B, 1, T, T) of rows that pack several examples (chapter 8).

    ``document_ids`` (B, T) numbers the example each token belongs to. Positions restart at 0 with each example,
    and a token attends only to earlier tokens of its own example (a block-diagonal causal mask), so a packed
    row computes exactly what its examples would compute one by one.
    """
    T = document_ids.shape[1]
    index = torch.arange(T, device=document_ids.device).expand_as(document_ids)  # (B, T)
    starts = torch.ones_like(document_ids, dtype=torch.bool)
    starts[:, 1:] = document_ids[:, 1:] != document_ids[:, :-1]
    first = torch.where(starts, index, 0).cummax(dim=-1).values  # each token's example starts here
    same = document_ids[:, :, None] == document_ids[:, None, :]  # (B, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=document_ids.device).tril()
    return index - first, (same & causal)[:, None]


class Qwen3(nn.Module):
    """The Qwen3 decoder: token embedding, a stack of blocks, a final norm and the output head."""

    def __init__(self, config: Qwen3Config):
        super().__init__()
        self.config = config
        # Created empty rather than drawn at random by nn.Embedding, since _init_weights draws it below.
        self.embed_tokens = nn.Embedding.from_pretrained(torch.empty(config.vocab_size, config.hidden_size),
                                                         freeze=False)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # A model built on the "meta" device (shapes only, to load a checkpoint into) has nothing to draw; drawing
        # normal numbers there would also import torch's compiler, seconds that only --compile should pay.
        if self.lm_head.weight.device.type != "meta":
            self.apply(self._init_weights)
        if config.tie_word_embeddings:  # the output head reuses the embedding matrix
            self.lm_head.weight = self.embed_tokens.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, input_ids: torch.Tensor, cache: KVCache | None = None,
                attention_mask: torch.Tensor | None = None, last_only: bool = False,
                document_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits (B, T, V) for ``input_ids`` (B, T).

        ``attention_mask`` (B, T) is 1 for real tokens and 0 for (left) padding; pass it only when some row is
        padded, since with a mask attention takes its slower, masked path. With a ``cache``, the new
        tokens continue the cached ones, and the cache is advanced by T. ``last_only`` returns the logits of the
        last position only, (B, 1, V): generation needs no more, and the output head is the largest matrix.
        ``document_ids`` (B, T), for training on packed rows without a cache, keeps each example to itself
        (:func:`packed_positions_and_mask`).
        """
        B, T = input_ids.shape
        new_valid = (torch.ones(B, T, dtype=torch.bool, device=input_ids.device) if attention_mask is None
                     else attention_mask.bool())
        start = 0 if cache is None else cache.length
        if cache is not None:
            cache.valid[:, start:start + T] = new_valid
            valid = cache.valid[:, :start + T]  # (B, S)
        else:
            valid = new_valid
        # A token's position is the number of real tokens before it, so padding does not shift positions.
        positions = (valid.cumsum(dim=-1) - 1).clamp(min=0)[:, start:]  # (B, T)
        if document_ids is not None:  # packed rows: positions restart with each example
            positions, packed_mask = packed_positions_and_mask(document_ids)
        x = self.embed_tokens(input_ids)  # (B, T, D)
        cos, sin = rope_cos_sin(positions, self.config.head_dim, self.config.rope_theta)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # once here rather than in every layer
        padded = attention_mask is not None  # not its values: reading them would wait for the device
        if cache is not None:  # padding written into the cache stays there
            cache.padded = padded = cache.padded or padded
        plain_causal = start == 0 or T == 1
        mask = None if plain_causal and not padded else causal_padding_mask(valid, start)
        if document_ids is not None:
            mask = packed_mask

        for i, block in enumerate(self.layers):
            x = block(x, cos, sin, mask, cache, i)
        if last_only:
            x = x[:, -1:]
        logits = self.lm_head(self.norm(x))  # (B, T, V), or (B, 1, V)
        if cache is not None:
            cache.length += T
        return logits


    def num_parameters(self) -> int:
        """Number of distinct parameters (a tied head counts once)."""
        return sum(p.numel() for p in self.parameters())
