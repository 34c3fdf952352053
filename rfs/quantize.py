"""Int8 weight-only quantization: half the bytes per decoded token.

No lesson teaches this module yet; README's Performance section reports its speed and accuracy.

Decoding one token reads every weight once, so on a CPU its speed is bounded by memory bandwidth. Storing each
weight matrix as int8 with one scale per output row halves the bytes of bf16 weights; the matrix product
unpacks them on the fly (``torch._weight_int8pack_mm``). Activations stay in the model's dtype.
"""

from __future__ import annotations

import torch
from torch import nn

from rfs.qwen3 import Qwen3


class Int8Linear(nn.Module):
    """A bias-free linear layer whose weight (out, in) is stored as int8 rows times per-row scales."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        w = weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127  # (out,): the largest value of a row maps to 127
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).to(torch.int8))
        self.register_buffer("scale", scale.to(weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])  # (N, in)
        out = torch._weight_int8pack_mm(flat, self.weight_int8, self.scale.to(x.dtype))
        return out.reshape(*x.shape[:-1], -1)


def quantize_int8(model: Qwen3) -> Qwen3:
    """Replace every linear layer of ``model`` (output head included) by an :class:`Int8Linear`, in place.

    A tied output head gets its own int8 copy of the embedding; the embedding itself stays as it is (a lookup
    reads one row per token, so it costs little bandwidth).
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, name, Int8Linear(child.weight))
    return model
