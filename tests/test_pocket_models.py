"""The shipped pocket models: small, fast to load, and real Qwen3 checkpoints that transformers reads too."""

import time

import pytest
import torch

from rfs.hub import MODELS, load_model, load_tokenizer

POCKET = ["pocket-base", "pocket-reasoning"]
transformers = pytest.importorskip("transformers", reason="transformers is the test oracle (pip install -e .[dev])")


@pytest.mark.parametrize("name", POCKET)
def test_small_and_quick_to_load(name):
    folder = MODELS[name]["path"]
    assert (folder / "model.safetensors").stat().st_size < 20 * 2**20
    model, tokenizer = load_model(name, device="cpu"), load_tokenizer(name)  # first call also imports modules
    seconds = []
    for _ in range(3):  # best of three, so a busy machine does not fail the test
        start = time.perf_counter()
        load_model(name, device="cpu"), load_tokenizer(name)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 2.0
    assert model.num_parameters() < 10_000_000
    assert tokenizer.encode("407") == [tokenizer.encode(d)[0] for d in "407"]
    assert len(tokenizer.encode("<|im_start|><think></think><|im_end|><|endoftext|>")) == 5


@pytest.mark.parametrize("name", POCKET)
def test_transformers_reads_them_with_the_same_logits(name):
    folder = MODELS[name]["path"]
    hf = transformers.Qwen3ForCausalLM.from_pretrained(folder).eval()
    ours = load_model(name, device="cpu")
    ids = torch.tensor([load_tokenizer(name).encode("Problem: What is 12 + 30?\nAnswer:")])
    with torch.no_grad():
        assert (hf(ids).logits - ours(ids)).abs().max().item() < 1e-4
