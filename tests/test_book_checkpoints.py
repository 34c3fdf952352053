"""Reading the book's .pth checkpoints: tiny models saved under the book's parameter names."""

import json

import pytest
import torch
from conftest import tiny_config

from rfs.book_checkpoints import BOOK_LAYER_NAMES, BOOK_NAMES, hf_name
from rfs.hub import CheckpointError, load_model, to_checkpoint_names
from rfs.qwen3 import Qwen3

# Hugging Face suffix -> book suffix, to write a model the way the book's torch.save(model.state_dict()) does
TO_BOOK = {hf: book for book, hf in BOOK_NAMES.items()} | {hf: book for book, hf in BOOK_LAYER_NAMES.items()}


def book_state(model: Qwen3, shift: bool = False) -> dict[str, torch.Tensor]:
    """``model``'s weights under the book's names (its RMSNorms optionally with an all-zero ``shift``)."""
    state = {}
    for name, tensor in to_checkpoint_names(model.state_dict(), model.config).items():
        if name.startswith("model.layers."):
            layer, suffix = name.removeprefix("model.layers.").split(".", 1)
            state[f"trf_blocks.{layer}.{TO_BOOK[suffix]}"] = tensor.clone()
        else:
            state[TO_BOOK[name]] = tensor.clone()
    if shift:
        state |= {name.replace(".scale", ".shift"): torch.zeros_like(t) for name, t in state.items()
                  if name.endswith(".scale")}
    return state


def tiny_model(tied: bool) -> Qwen3:
    torch.manual_seed(0)
    model = Qwen3(tiny_config(tie_word_embeddings=tied, rope_theta=1_000_000.0,
                              max_position_embeddings=40_960)).eval()
    with torch.no_grad():
        model.embed_tokens.weight.mul_(4)
    return model


def test_names_follow_the_seed_notes():
    assert hf_name("trf_blocks.11.ff.fc2.weight") == "model.layers.11.mlp.up_proj.weight"
    assert hf_name("trf_blocks.0.att.k_norm.scale") == "model.layers.0.self_attn.k_norm.weight"
    assert hf_name("out_head.weight") == "lm_head.weight"
    assert hf_name("trf_blocks.0.ff.gate.weight") is None  # mixture of experts: not ours


@pytest.mark.parametrize("tied", [True, False])
def test_book_checkpoint_loads_with_equal_logits(tmp_path, tied):
    model = tiny_model(tied)
    path = tmp_path / "qwen3-tiny-rlvr-grpo-step00050.pth"
    torch.save(book_state(model, shift=True), path)
    loaded = load_model(path, device="cpu")
    assert loaded.config == model.config  # sizes read off the shapes; rope and context as in Qwen3
    ids = torch.tensor([[5, 17, 99, 3, 250, 42]])
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_config_json_beside_the_file_is_used(tmp_path):
    model = tiny_model(True)
    torch.save(book_state(model), tmp_path / "model.pth")
    (tmp_path / "config.json").write_text(json.dumps(model.config.to_hf_dict() | {"rope_theta": 10_000.0}))
    assert load_model(tmp_path / "model.pth", device="cpu").config.rope_theta == 10_000.0


def test_mismatched_files_are_refused_naming_the_tensor(tmp_path):
    state = book_state(tiny_model(True))
    path = tmp_path / "bad.pth"
    torch.save({k: v for k, v in state.items() if k != "trf_blocks.1.ff.fc3.weight"}, path)
    with pytest.raises(CheckpointError, match=r"missing tensor trf_blocks\.1\.ff\.fc3\.weight"):
        load_model(path, device="cpu")
    torch.save(state | {"trf_blocks.0.att.W_extra.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=r"unexpected tensor trf_blocks\.0\.att\.W_extra\.weight"):
        load_model(path, device="cpu")
    torch.save(state | {"final_norm.shift": torch.ones(64)}, path)
    with pytest.raises(CheckpointError, match="nonzero RMSNorm shift"):
        load_model(path, device="cpu")
    torch.save(state | {"trf_blocks.0.att.W_key.weight": torch.zeros(3, 64)}, path)
    with pytest.raises(CheckpointError, match="has shape"):  # wrong shape: rfs.hub's check names it
        load_model(path, device="cpu")


def test_pickled_code_is_not_run(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"tok_emb.weight": torch.zeros(2), "payload": print}, path)  # a function is not a tensor
    with pytest.raises(CheckpointError, match="cannot read"):
        load_model(path, device="cpu")


def test_tokenizer_beside_the_checkpoint_and_export(tmp_path, tiny_tokenizer_file):
    from rfs.export import export_hf
    from rfs.hub import load_tokenizer

    transformers = pytest.importorskip("transformers")
    model = tiny_model(True)
    path = tmp_path / "qwen3-tiny-base.pth"
    torch.save(book_state(model), path)
    with pytest.raises(CheckpointError, match="no tokenizer files beside"):
        load_tokenizer(path)
    (tmp_path / "tokenizer-base.json").write_bytes(tiny_tokenizer_file.read_bytes())  # as the book names it
    assert load_tokenizer(path).encode("Hello there") == \
        load_tokenizer(tiny_tokenizer_file.parent).encode("Hello there")
    out = export_hf(path, tmp_path / "hf")  # a book checkpoint leaves the course as a transformers folder
    ids = torch.tensor([[5, 17, 99, 3, 250, 42]])
    with torch.no_grad():
        hf_logits = transformers.AutoModelForCausalLM.from_pretrained(out).eval()(ids).logits
        assert (hf_logits - model(ids)).abs().max() < 1e-4
