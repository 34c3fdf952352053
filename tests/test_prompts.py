"""Prompts and defaults follow the kind of model: pocket models get their training notation, Qwen3 the book's."""

import pytest
import torch
from conftest import tiny_config

from rfs.evaluate import RunSettings, evaluate
from rfs.hub import load_tokenizer, save_model
from rfs.prompts import PROMPTS, build_prompt, defaults_for, pocket_notation
from rfs.qwen3 import Qwen3


@pytest.mark.parametrize("typed, pocket", [
    ("What is 12*13?", "What is 12 \\times 13?"),
    ("What is 12 × 13?", "What is 12 \\times 13?"),
    ("What is 17+25?", "What is 17 + 25?"),
    ("Compute (48+6)*3-27.", "Compute (48 + 6) \\times 3 - 27."),
    ("Compute 3/4 + 1/6.", "Compute \\frac{3}{4} + \\frac{1}{6}."),
    ("What is 9 + (-1)?", "What is 9 + (-1)?"),  # already pocket notation: unchanged
    ("Solve for $x$: $3x - 8 = -20$.", "Solve for $x$: $3x - 8 = -20$."),
    ("Hello!", "Hello!"),
])
def test_pocket_notation_rewrites_ascii_math_and_keeps_the_rest(typed, pocket):
    assert pocket_notation(typed) == pocket


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_tokenizer_file):
    torch.manual_seed(0)
    model = Qwen3(tiny_config())
    root = tmp_path_factory.mktemp("kinds")
    return {kind: save_model(model, root / kind, tokenizer_json=tiny_tokenizer_file, kind=kind)
            for kind in ("pocket", "qwen3")}


def test_the_model_folder_decides_prompts_and_token_budget(folders):
    pocket, qwen3 = load_tokenizer(folders["pocket"]), load_tokenizer(folders["qwen3"])
    assert (pocket.kind, qwen3.kind) == ("pocket", "qwen3")
    assert defaults_for(pocket).max_new_tokens == 384 and defaults_for(qwen3).max_new_tokens == 2048
    assert build_prompt(pocket, "What is 2 + 3?", "cot") == PROMPTS["cot"].format(problem="What is 2 + 3?")
    book = build_prompt(qwen3, "What is 2 + 3?", "plain")
    assert book == ("You are a helpful math assistant.\nAnswer the question and write the final result on a new "
                    "line as:\n\\boxed{ANSWER}\n\nQuestion:\nWhat is 2 + 3?\n\nAnswer:")
    assert build_prompt(qwen3, "What is 2 + 3?", "cot").endswith("Answer: Let's think step by step.\n")
    chat = build_prompt(qwen3, "What is 2 + 3?", "chat", thinking=False)
    assert "What is 2 + 3?\n\nWrite the final answer in \\boxed{}.<|im_end|>" in chat
    assert "<|im_start|>user\nWhat is 2 + 3?<|im_end|>" in build_prompt(pocket, "What is 2 + 3?", "chat")


def test_evaluate_takes_the_models_token_budget_unless_told(folders):
    from rfs.hub import load_model

    model, tokenizer = load_model(folders["pocket"], device="cpu"), load_tokenizer(folders["pocket"])
    record = [{"unique_id": "a", "problem": "What is 1 + 1?", "answer": "2"}]
    [result] = evaluate(model, tokenizer, record, progress=False)
    assert result["settings"]["max_new_tokens"] == 384 and result["prompt"] == "Problem: What is 1 + 1?\nAnswer:"
    [told] = evaluate(model, tokenizer, record, RunSettings(max_new_tokens=3), progress=False)
    assert told["settings"]["max_new_tokens"] == 3 and told["tokens"] <= 3


def test_shipped_pocket_models_are_pocket_kind(pocket_base):
    _, tokenizer = pocket_base
    assert tokenizer.kind == "pocket"
