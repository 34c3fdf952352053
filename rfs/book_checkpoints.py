"""Reading the book's own ``.pth`` checkpoints: its Qwen3-0.6B weights and its GRPO and distillation runs (chapter 8).

The book *Build a Reasoning Model (From Scratch)* saves the ``state_dict`` of its own ``Qwen3Model`` with
``torch.save``. Its parameter names differ from the Hugging Face names rfs reads (``trf_blocks.3.att.W_query``
for ``model.layers.3.self_attn.q_proj``), and the file holds no ``config.json``: the sizes are read off the
tensors' shapes. ``rfs.load_model("qwen3-0.6B-rlvr-grpo-step00050.pth")`` goes through :func:`read_book_checkpoint`.

A ``.pth`` file is a pickle, which can run code when loaded; ``torch.load(weights_only=True)`` only accepts
tensors and plain containers, so a file from the internet cannot.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from rfs.hub import CheckpointError
from rfs.qwen3 import Qwen3Config

# Book name -> Hugging Face name: the tensors outside the layers, then those of layer {l} (after "trf_blocks.{l}.").
BOOK_NAMES = {"tok_emb.weight": "model.embed_tokens.weight", "final_norm.scale": "model.norm.weight",
              "out_head.weight": "lm_head.weight"}
BOOK_LAYER_NAMES = {
    "att.W_query.weight": "self_attn.q_proj.weight",
    "att.W_key.weight": "self_attn.k_proj.weight",
    "att.W_value.weight": "self_attn.v_proj.weight",
    "att.out_proj.weight": "self_attn.o_proj.weight",
    "att.q_norm.scale": "self_attn.q_norm.weight",
    "att.k_norm.scale": "self_attn.k_norm.weight",
    "norm1.scale": "input_layernorm.weight",
    "ff.fc1.weight": "mlp.gate_proj.weight",
    "ff.fc2.weight": "mlp.up_proj.weight",
    "ff.fc3.weight": "mlp.down_proj.weight",
    "norm2.scale": "post_attention_layernorm.weight",
}
_LAYER_NAME = re.compile(r"trf_blocks\.(\d+)\.(.+)")


def hf_name(book_name: str) -> str | None:
    """The Hugging Face name of a book parameter (``trf_blocks.0.norm1.scale`` -> ``model.layers.0.input_layernorm
    .weight``), or None when the name is not one of the book's dense Qwen3 parameters."""
    if book_name in BOOK_NAMES:
        return BOOK_NAMES[book_name]
    found = _LAYER_NAME.fullmatch(book_name)
    if found and found.group(2) in BOOK_LAYER_NAMES:
        return f"model.layers.{found.group(1)}.{BOOK_LAYER_NAMES[found.group(2)]}"
    return None


def infer_config(state: dict[str, torch.Tensor]) -> Qwen3Config:
    """The model's sizes, read off the shapes of a book ``state_dict``; rope and context as in Qwen3.

    E.g. ``W_query`` is (heads x head_dim, hidden) and ``q_norm.scale`` is (head_dim,).
    """
    vocab, hidden = state["tok_emb.weight"].shape
    head_dim = state["trf_blocks.0.att.q_norm.scale"].shape[0]
    layers = 1 + max(int(_LAYER_NAME.fullmatch(name).group(1)) for name in state if _LAYER_NAME.fullmatch(name))
    head = state.get("out_head.weight")
    return Qwen3Config(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, head_dim=head_dim,
                       intermediate_size=state["trf_blocks.0.ff.fc1.weight"].shape[0],
                       num_attention_heads=state["trf_blocks.0.att.W_query.weight"].shape[0] // head_dim,
                       num_key_value_heads=state["trf_blocks.0.att.W_key.weight"].shape[0] // head_dim,
                       tie_word_embeddings=head is None or torch.equal(head, state["tok_emb.weight"]))


def read_book_checkpoint(path: str | Path) -> tuple[Qwen3Config, dict[str, torch.Tensor]]:
    """A book ``.pth`` checkpoint as ``(config, tensors under Hugging Face names)``, ready for :mod:`rfs.hub`.

    The config comes from a ``config.json`` beside the file if there is one, else from the tensors' shapes. A
    file that is not a book checkpoint of a dense Qwen3 raises a :class:`CheckpointError` naming the first
    unexpected or missing tensor.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except Exception as error:  # not a torch file, or it holds more than tensors
        raise CheckpointError(f"cannot read {path} as a PyTorch state_dict of tensors ({error})") from None
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise CheckpointError(f"{path} does not hold a state_dict (a dict of tensors) as the book saves them")
    # The book's RMSNorm can carry a bias ("shift") that Qwen3 does not use: all zeros, or the model is not Qwen3.
    for name in [name for name in state if name.endswith(".shift")]:
        if state.pop(name).any():
            raise CheckpointError(f"{path}: tensor {name} is a nonzero RMSNorm shift, which Qwen3 does not have")
    tensors = {}
    for name, tensor in state.items():
        if hf_name(name) is None:
            raise CheckpointError(f"{path}: unexpected tensor {name}: not a parameter of the book's dense Qwen3Model "
                                  "(mixture-of-experts checkpoints are not supported)")
        tensors[hf_name(name)] = tensor
    required = ["tok_emb.weight", "final_norm.scale", "trf_blocks.0.att.q_norm.scale"]
    if missing := [name for name in required if name not in state]:
        raise CheckpointError(f"{path}: missing tensor {missing[0]}; is this a checkpoint of the book's Qwen3Model?")
    beside = path.parent / "config.json"
    config = Qwen3Config.from_hf_dict(json.loads(beside.read_text())) if beside.is_file() else infer_config(state)
    for layer in range(config.num_hidden_layers):
        for book_suffix in BOOK_LAYER_NAMES:
            if f"trf_blocks.{layer}.{book_suffix}" not in state:
                raise CheckpointError(f"{path}: missing tensor trf_blocks.{layer}.{book_suffix}")
    return config, tensors


def book_tokenizer_file(path: str | Path) -> Path:
    """The tokenizer of a book checkpoint: ``tokenizer.json`` beside it, else the one ``tokenizer*.json`` there
    (the book names them ``tokenizer-base.json`` and ``tokenizer-reasoning.json``)."""
    folder = Path(path).parent
    found = [folder / "tokenizer.json"] if (folder / "tokenizer.json").is_file() else \
        sorted(folder.glob("tokenizer*.json"))
    if len(found) != 1:
        raise CheckpointError(f"{'several' if found else 'no'} tokenizer files beside {path}: put the book's "
                              "tokenizer-base.json or tokenizer-reasoning.json (from rasbt/qwen3-from-scratch) there "
                              "as tokenizer.json")
    return found[0]
