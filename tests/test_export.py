"""rfs export: a Hugging Face folder that transformers loads offline, with rfs's logits and chat format."""

import json

import pytest
import torch
from conftest import tiny_config

from rfs.export import export_hf, push_to_hub, write_hf_folder
from rfs.generate import generate
from rfs.hub import load_model, load_tokenizer
from rfs.qwen3 import Qwen3

transformers = pytest.importorskip("transformers", reason="transformers is the test oracle (pip install -e .[dev])")

CONVERSATIONS = [
    [{"role": "user", "content": "What is 17 + 25?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?"},
     {"role": "assistant", "content": "<think>\nAdd.\n</think>\n\nIt is 5."}, {"role": "user", "content": "4+4?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],  # kept: gets an empty block
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "So <think>\nhm\n</think>  then"},
     {"role": "user", "content": "ok"}, {"role": "assistant", "content": "\n\nno block"}],
]


def assert_same_logits(rfs_model, folder, ids):
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        x = torch.tensor([ids])
        assert (hf(x).logits - rfs_model(x)).abs().max() < 1e-4


@pytest.mark.parametrize("tied", [True, False])
def test_tiny_model_exports_with_equal_logits(tmp_path, tiny_tokenizer, tied):
    torch.manual_seed(0)
    model = Qwen3(tiny_config(tie_word_embeddings=tied)).eval()
    out = write_hf_folder(model, tiny_tokenizer, tmp_path / "hf")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "generation_config.json", "model.safetensors",
                                                    "tokenizer.json", "tokenizer_config.json"]
    ids = tiny_tokenizer.encode("The quick brown fox jumps over the lazy dog.")
    assert_same_logits(model, out, ids)
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert hf_tokenizer("The quick brown fox <|im_end|>")["input_ids"] == \
        tiny_tokenizer.encode("The quick brown fox <|im_end|>")
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tiny_tokenizer.stop_ids


def test_pocket_reasoning_exports_for_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = export_hf("pocket-reasoning", tmp_path / "pocket")
    model, tokenizer = load_model("pocket-reasoning", device="cpu"), load_tokenizer("pocket-reasoning")
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    for messages in CONVERSATIONS:
        for thinking in (True, False):
            assert hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                    enable_thinking=thinking) == \
                tokenizer.render_chat(messages, thinking=thinking)
        assert hf_tokenizer.apply_chat_template(messages, tokenize=False) == \
            tokenizer.render_chat(messages, add_generation_prompt=False)
    prompt = tokenizer.render_chat(CONVERSATIONS[0])
    ids = tokenizer.encode(prompt)
    assert hf_tokenizer(prompt)["input_ids"] == ids
    assert_same_logits(model, out, ids)
    # transformers' greedy generate stops where rfs stops (generation_config.json's end tokens)
    hf = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    [[ours]] = generate(model, tokenizer, [prompt], max_new_tokens=200)
    theirs = hf.generate(torch.tensor([ids]), max_new_tokens=200, do_sample=False)[0, len(ids):].tolist()
    assert ours.finish_reason == "stop" and theirs == ours.token_ids
    assert hf_tokenizer.decode(theirs, skip_special_tokens=True) == ours.text
    # and rfs reads the folder back
    again = load_model(out, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values(),
                                                  strict=True))


def test_pocket_base_exports_with_equal_logits(tmp_path, pocket_base):
    model, tokenizer = pocket_base
    out = export_hf("pocket-base", tmp_path / "base")
    assert_same_logits(model, out, tokenizer.encode("Problem: What is 17 + 25?\nLet's think step by step.\n"))


def test_push_without_a_token_says_how_to_log_in(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(ValueError, match="hf auth login"):
        push_to_hub(tmp_path, "someone/pocket")


def test_rfs_export_command(tmp_path, capsys):
    from rfs.cli import main

    assert main(["export", "pocket-base", "--to", "hf", str(tmp_path / "out")]) == 0
    assert f"wrote {tmp_path / 'out'}" in capsys.readouterr().out
    assert (tmp_path / "out" / "tokenizer_config.json").is_file()
