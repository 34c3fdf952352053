"""Appendix D's parts: the memory formulas of a dense Qwen3 config: weights, the KV cache per token, training.

The learner gets a config as a dict (``dataclasses.asdict`` of a ``Qwen3Config``) and a dtype name, and returns
bytes, compared exactly with ``rfs.memory`` (computed in the process that judges). The visible cases below and
the hidden ones (``solutions/appendix_d/hidden_cases.py``) are built by the same functions.
"""

from __future__ import annotations

from dataclasses import asdict

from autograder.part import Case, Part, equal_to
from rfs import memory as rfs_memory
from rfs.qwen3 import CONFIGS, Qwen3Config


def whole(size: float) -> int:
    """A number of bytes as an int; rfs gives int4 sizes (half a byte per number) as floats."""
    if size != int(size):
        raise ValueError(f"{size} bytes is no whole number: give the case a config with an even count")
    return int(size)


def weight_cases(rows: list[tuple[Qwen3Config, str, str]]) -> list[Case]:
    """weight_bytes(config, dtype) for rows ``(config, dtype, what)``."""
    return [Case("weight_bytes", (asdict(config), dtype), equal_to(whole(rfs_memory.weight_bytes(config, dtype))),
                 what) for config, dtype, what in rows]


def kv_cases(rows: list[tuple[Qwen3Config, str, str]]) -> list[Case]:
    """kv_cache_bytes_per_token(config, dtype) for rows ``(config, dtype, what)``: one token of one sequence."""
    return [Case("kv_cache_bytes_per_token", (asdict(config), dtype),
                 equal_to(whole(rfs_memory.kv_cache_bytes(config, 1, dtype))), what) for config, dtype, what in rows]


def training_cases(rows: list[tuple[Qwen3Config, str, str]]) -> list[Case]:
    """training_bytes(config, dtype) for rows ``(config, dtype, what)``: rfs's parts without the activations."""
    cases = []
    for config, dtype, what in rows:
        parts = rfs_memory.training_bytes(config, dtype=dtype)
        expected = {name: whole(size) for name, size in parts.items() if name != "activations"}
        cases.append(Case("training_bytes", (asdict(config), dtype), equal_to(expected), what))
    return cases


# Building a model or a cache and counting its tensors is the lesson's check, not the formula.
COUNTED = ("rfs.qwen3.Qwen3", "rfs.qwen3.Block", "rfs.qwen3.Attention", "rfs.qwen3.FeedForward")
PARAMETERS = ("rfs.memory.count_parameters", "rfs.memory.parameter_counts", "rfs.memory.attention_parameters",
              "rfs.memory.feed_forward_parameters", "rfs.memory.weight_bytes", "rfs.memory.memory_rows", *COUNTED)
EXACT = "Compared exactly (an int, or a float of the same value). "

PARTS = [
    Part("weight_bytes", 4, ("weight_bytes",), PARAMETERS,
         lambda: weight_cases([(CONFIGS["0.6b"], "bfloat16", "Qwen3-0.6B in bfloat16"),
                               (CONFIGS["8b"], "float32", "Qwen3-8B in float32")]),
         EXACT + "Parameters: embedding V*D; per layer q_proj H*E*D, k_proj and v_proj K*E*D each (key/value heads, "
         "not query heads), o_proj D*H*E, q_norm and k_norm E each, gate, up and down D*I each, two norms D each; "
         "then a final norm D and the output head V*D, which a tied model does not have (rfs counts the shared "
         "matrix once). Times DTYPE_BYTES[dtype]."),
    Part("kv_cache", 3, ("kv_cache_bytes_per_token",), ("rfs.memory.kv_cache_bytes", "rfs.memory.memory_rows",
                                                         "rfs.qwen3.KVCache"),
         lambda: kv_cases([(CONFIGS["0.6b"], "bfloat16", "Qwen3-0.6B in bfloat16")]),
         EXACT + "One token stores a key and a value (the factor 2) in every layer, for each of the K key/value heads "
         "(num_key_value_heads, not num_attention_heads), head_dim numbers each: 2 * layers * K * E * bytes."),
    Part("training", 3, ("training_bytes",),
         (*PARAMETERS, "rfs.memory.training_bytes", "rfs.memory.TRAINING_BYTES_PER_PARAMETER"),
         lambda: training_cases([(CONFIGS["0.6b"], "bfloat16", "Qwen3-0.6B trained in bfloat16"),
                                 (CONFIGS["0.6b"], "float32", "Qwen3-0.6B trained in float32")]),
         EXACT + "Return {'weights', 'gradients', 'master weights', 'AdamW moments'}: weights and gradients in the "
         "training dtype, a float32 master copy in bfloat16 training only (0 in float32), and AdamW's two moments "
         "in float32 whatever the dtype (8 bytes per parameter)."),
]
