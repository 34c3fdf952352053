"""Checkpoints: everything a run needs comes back, a checkpoint of another run is refused, files are atomic."""

import random

import pytest
import torch
from conftest import tiny_config

from rfs.checkpoint import CheckpointMismatch, load_checkpoint, read_identity, save_checkpoint
from rfs.qwen3 import Qwen3

IDENTITY = {"model": "pocket-base", "preset": "grpo"}


def _trained_pair(seed: int = 0, tie: bool = True):
    torch.manual_seed(seed)
    model = Qwen3(tiny_config(tie_word_embeddings=tie))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.tensor([[1, 2, 3]])).sum().backward()
    optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("tie", [True, False])
def test_round_trip_restores_weights_optimizer_and_random_state(tmp_path, tie):
    model, optimizer = _trained_pair(tie=tie)
    generator = torch.Generator().manual_seed(5)
    path = save_checkpoint(tmp_path / "ck.safetensors", model, optimizer, 7, IDENTITY,
                           {"data_position": 42, "generator": generator.get_state()})
    expected_rand, expected_random = torch.rand(3), random.random()
    assert not list(tmp_path.glob("*.tmp"))  # written under a temporary name, then renamed
    assert read_identity(path) == IDENTITY

    other, other_optimizer = _trained_pair(seed=1, tie=tie)
    torch.rand(10), random.random()  # move the global generators on
    restored = load_checkpoint(path, other, other_optimizer, IDENTITY)
    assert restored["step"] == 7 and restored["state"]["data_position"] == 42
    assert torch.equal(restored["state"]["generator"], generator.get_state())
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    saved, loaded = optimizer.state_dict(), other_optimizer.state_dict()
    assert saved["param_groups"][0]["lr"] == loaded["param_groups"][0]["lr"]
    for index, slots in saved["state"].items():
        for key, value in slots.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(loaded["state"][index][key])), key
    if tie:
        assert other.lm_head.weight is other.embed_tokens.weight
    assert torch.equal(torch.rand(3), expected_rand) and random.random() == expected_random


def test_a_checkpoint_of_another_run_is_refused_naming_both(tmp_path):
    model, optimizer = _trained_pair()
    path = save_checkpoint(tmp_path / "ck.safetensors", model, optimizer, 1, IDENTITY)
    with pytest.raises(CheckpointMismatch) as error:
        load_checkpoint(path, model, optimizer, {"model": "pocket-base", "preset": "dapo"})
    assert "preset: checkpoint 'grpo', this run 'dapo'" in str(error.value)
    assert "model" not in str(error.value).split("(")[1]  # only what differs is named


def test_a_corrupt_checkpoint_says_what_to_do(tmp_path):
    model, optimizer = _trained_pair()
    path = tmp_path / "ck.safetensors"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="delete it"):
        load_checkpoint(path, model, optimizer, IDENTITY)
