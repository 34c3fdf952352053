"""The from-scratch Qwen3 equals transformers' Qwen3ForCausalLM, with and without the KV cache and padding."""

import pytest
import torch
from conftest import tiny_config

from rfs.cpu_decode import CPUDecodeCache
from rfs.hub import to_checkpoint_names
from rfs.qwen3 import CONFIGS, KVCache, Qwen3, apply_rope, rms_norm, rope_cos_sin

transformers = pytest.importorskip("transformers", reason="transformers is the test oracle (pip install -e .[dev])")


def hf_twin(model: Qwen3) -> "transformers.Qwen3ForCausalLM":
    """A transformers Qwen3ForCausalLM with exactly our weights."""
    hf_config = transformers.Qwen3Config(**{k: v for k, v in model.config.to_hf_dict().items() if k != "architectures"})
    hf = transformers.Qwen3ForCausalLM(hf_config).eval()
    hf.load_state_dict(to_checkpoint_names(model.state_dict(), model.config),
                       strict=not model.config.tie_word_embeddings)
    return hf


@pytest.mark.parametrize("overrides", [
    {},  # tied head, 2 query heads per key/value head
    {"tie_word_embeddings": False},
    {"num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 8, "num_hidden_layers": 3},
    {"num_key_value_heads": 4, "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
])
def test_logits_match_transformers(overrides):
    torch.manual_seed(1)
    model = Qwen3(tiny_config(**overrides)).eval()
    hf = hf_twin(model)
    ids = torch.randint(0, model.config.vocab_size, (3, 21))
    with torch.no_grad():
        diff = (model(ids) - hf(ids).logits).abs().max().item()
    assert diff < 1e-4


@pytest.mark.parametrize("cache_class", [KVCache, CPUDecodeCache])
def test_cached_decoding_equals_full_forward(tiny_model, cache_class):
    ids = torch.randint(0, 320, (2, 15))
    with torch.no_grad():
        full = tiny_model(ids)
        cache = cache_class(tiny_model.config, batch_size=2, max_len=32)
        pieces = [tiny_model(ids[:, :6], cache=cache)]  # prefill, more prompt after it, then one token at a time
        pieces += [tiny_model(ids[:, 6:9], cache=cache)]
        pieces += [tiny_model(ids[:, t:t + 1], cache=cache) for t in range(9, 15)]
    assert cache.length == 15
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_the_plain_cache_keeps_the_model_dtype_the_cpu_cache_float32_transposed_keys(tiny_model):
    model = tiny_model.to(torch.bfloat16)
    ids = torch.randint(0, 320, (2, 5))
    plain, cpu = KVCache(model.config, 2, 8, dtype=torch.bfloat16), CPUDecodeCache(model.config, 2, 8)
    with torch.no_grad():
        for cache in plain, cpu:
            model(ids, cache=cache)
            model(ids[:, :1], cache=cache)
    E, K = model.config.head_dim, model.config.num_key_value_heads
    assert plain.keys[0].dtype == plain.values[0].dtype == torch.bfloat16
    assert plain.keys[0].shape == plain.values[0].shape == (2, K, 8, E)
    assert cpu.keys[0].dtype == cpu.values[0].dtype == torch.float32
    assert cpu.keys[0].shape == (2, K, E, 8) and cpu.values[0].shape == (2, K, 8, E)
    torch.testing.assert_close(cpu.keys[0][..., :6].transpose(-1, -2), plain.keys[0][:, :, :6].float())


def test_last_only_gives_the_last_positions_logits(tiny_model):
    ids = torch.randint(0, 320, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(tiny_model(ids, last_only=True), tiny_model(ids)[:, -1:])


def test_left_padding_does_not_change_a_row(tiny_model):
    short, long = torch.randint(0, 320, (1, 5)), torch.randint(0, 320, (1, 9))
    padded = torch.cat([torch.zeros(1, 4, dtype=torch.long), short], dim=1)
    batch = torch.cat([padded, long])
    mask = torch.tensor([[0] * 4 + [1] * 5, [1] * 9])
    with torch.no_grad():
        together = tiny_model(batch, attention_mask=mask)
        torch.testing.assert_close(together[0, 4:], tiny_model(short)[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(together[1], tiny_model(long)[0], atol=1e-5, rtol=1e-5)


def test_rms_norm_keeps_dtype_and_normalizes():
    x = torch.randn(4, 64) * 7
    out = rms_norm(x, torch.ones(64))
    torch.testing.assert_close(out.pow(2).mean(-1), torch.ones(4), atol=1e-4, rtol=1e-4)
    assert rms_norm(x.bfloat16(), torch.ones(64, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_rope_scores_depend_only_on_relative_position():
    q, k = torch.randn(1, 1, 1, 32), torch.randn(1, 1, 1, 32)

    def score(m: int, n: int) -> float:
        cos_m, sin_m = rope_cos_sin(torch.tensor([m]), 32, 10_000.0)
        cos_n, sin_n = rope_cos_sin(torch.tensor([n]), 32, 10_000.0)
        return (apply_rope(q, cos_m, sin_m) * apply_rope(k, cos_n, sin_n)).sum().item()

    assert score(7, 3) == pytest.approx(score(104, 100), abs=1e-4)
    assert score(7, 3) != pytest.approx(score(7, 4), abs=1e-3)


@pytest.mark.parametrize("name, non_embedding_billions", [
    ("0.6b", 0.44), ("1.7b", 1.4), ("4b", 3.6), ("8b", 6.95), ("14b", 13.2), ("32b", 31.2)])
def test_published_sizes(name, non_embedding_billions):
    """Non-embedding parameter counts as published in the Qwen3 model cards."""
    with torch.device("meta"):
        model = Qwen3(CONFIGS[name])
    embedding_rows = model.embed_tokens.weight.numel() * (1 if model.config.tie_word_embeddings else 2)
    assert (model.num_parameters() - embedding_rows) / 1e9 == pytest.approx(non_embedding_billions, abs=0.05)
