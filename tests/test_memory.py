"""The memory planner: parameter counts equal real models, KV and activation formulas equal real allocations."""

import pytest
import torch

from rfs.memory import (
    SIZES,
    activation_bytes,
    activations_per_token,
    count_parameters,
    format_memory_table,
    kv_cache_bytes,
    parameter_counts,
    training_bytes,
    weight_bytes,
)
from rfs.qwen3 import CONFIGS, KVCache, Qwen3, Qwen3Config

TINY = CONFIGS["tiny"]
UNTIED = Qwen3Config(vocab_size=300, hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=6,
                     num_key_value_heads=3, head_dim=8, tie_word_embeddings=False)

# Total and non-embedding parameters in billions as the Qwen3 model cards state them; MoE: total and activated.
# The cards round (0.596 is "0.6", 3.35 is "3.3"), so counts must agree within 2%.
PUBLISHED = {"0.6b": (0.6, 0.44), "1.7b": (1.7, 1.4), "4b": (4.0, 3.6), "8b": (8.2, 6.95), "14b": (14.8, 13.2),
             "32b": (32.8, 31.2)}
PUBLISHED_MOE = {"30b-a3b": (30.5, 3.3), "235b-a22b": (235, 22)}


@pytest.mark.parametrize("name", ["0.6b", "1.7b", "4b", "8b", "14b", "32b", "tiny"])
def test_parameter_count_equals_the_model_built_from_the_config(name):
    with torch.device("meta"):  # no memory is allocated, so even 32B is built in a second
        model = Qwen3(CONFIGS[name])
    assert count_parameters(CONFIGS[name]) == model.num_parameters()


def test_untied_head_counts_its_own_matrix():
    with torch.device("meta"):
        model = Qwen3(UNTIED)
    counts = parameter_counts(UNTIED)
    assert counts["output head"] == counts["embedding"] == 300 * 48
    assert count_parameters(UNTIED) == model.num_parameters()
    assert parameter_counts(TINY)["output head"] == 0


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_dense_counts_round_to_the_published_sizes(name):
    total, non_embedding = PUBLISHED[name]
    counts = parameter_counts(SIZES[name])
    assert count_parameters(SIZES[name]) / 1e9 == pytest.approx(total, rel=0.02)
    embeddings = counts["embedding"] + counts["output head"]
    assert (count_parameters(SIZES[name]) - embeddings) / 1e9 == pytest.approx(non_embedding, rel=0.02)


def test_moe_counts_round_to_the_published_sizes():
    assert count_parameters(SIZES["0.6b"]) == 596_049_920  # 0.6B is 596M with its tied head
    for name, (total, active) in PUBLISHED_MOE.items():
        assert count_parameters(SIZES[name]) / 1e9 == pytest.approx(total, rel=0.02)
        assert count_parameters(SIZES[name], active=True) / 1e9 == pytest.approx(active, rel=0.02)
    assert count_parameters(SIZES["30b-a3b"], active=True) == 3_353_032_704


def test_weight_bytes_per_dtype():
    params = count_parameters(TINY)
    assert weight_bytes(TINY, "float32") == 4 * params
    assert weight_bytes(TINY, "bfloat16") == 2 * params
    assert weight_bytes(TINY, "int4") == params / 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kv_cache_formula_equals_a_real_cache(dtype):
    cache = KVCache(UNTIED, batch_size=3, max_len=17, dtype=dtype)
    allocated = sum(t.nbytes for t in cache.keys + cache.values)
    assert kv_cache_bytes(UNTIED, 17, str(dtype).removeprefix("torch."), batch_size=3) == allocated
    # 0.6B in bfloat16: 2 (k, v) x 28 layers x 8 heads x 128 x 2 bytes = 114,688 bytes per token
    assert kv_cache_bytes(SIZES["0.6b"], 1000) == 114_688_000


def saved_for_backward(config: Qwen3Config, tokens: int) -> int:
    """Bytes of the distinct tensors (not parameters) PyTorch keeps for the backward pass of a training step."""
    torch.manual_seed(0)
    model = Qwen3(config)
    ids = torch.randint(0, config.vocab_size, (1, tokens))
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def keep(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        torch.nn.functional.cross_entropy(model(ids)[0].float(), ids[0])
    return sum(saved.values())


@pytest.mark.parametrize("config", [TINY, UNTIED], ids=["tiny", "untied"])
def test_activation_count_equals_what_pytorch_saves_in_float32(config):
    tokens = 16
    # not activations: the int64 token ids, the cos and sin tables of the rotary embedding, the loss's scalar
    ids_rope_loss = tokens * 8 + 2 * tokens * config.head_dim * 4 + 4
    assert saved_for_backward(config, tokens) == activation_bytes(config, tokens, "float32") + ids_rope_loss


def test_activation_checkpointing_keeps_one_block_and_every_block_input():
    assert activations_per_token(TINY) == {"per layer": 1292, "last norm": 193, "log-softmax": 512}
    # 10 tokens: 2 layers x 1292 + 193 numbers in bfloat16, and 512 in float32 for the loss
    assert activation_bytes(TINY, 10, "bfloat16") == 10 * ((2 * 1292 + 193) * 2 + 512 * 4)
    # with checkpointing: the inputs of both blocks (64 each) and one whole block
    assert activation_bytes(TINY, 10, "bfloat16", checkpointing=True) == 10 * ((2 * 64 + 1292 + 193) * 2 + 512 * 4)


def test_training_memory_is_16_bytes_per_parameter_plus_activations():
    for dtype in ["float32", "bfloat16"]:
        parts = training_bytes(TINY, tokens=64, dtype=dtype)
        assert sum(parts.values()) - parts["activations"] == 16 * count_parameters(TINY)
        assert parts["activations"] == activation_bytes(TINY, 64, dtype)
    with pytest.raises(ValueError, match="int8"):
        training_bytes(TINY, dtype="int8")


def test_table_lists_every_size():
    table = format_memory_table()
    assert all(name in table for name in SIZES)
    assert "0.6b         0.60B   0.60B      2.2      1.1" in table


def test_rfs_models_memory(capsys):
    from rfs.cli import main

    assert main(["models", "--memory", "--tokens", "1024", "--no-checkpointing"]) == 0
    out = capsys.readouterr().out
    assert "235b-a22b" in out and "activations of 1024 tokens per step without activation checkpointing" in out
