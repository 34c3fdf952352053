"""A lesson's settings follow the kind of model it runs, and a quick run takes the quick values."""

import pytest

from rfs.lesson import per_kind
from rfs.tokenizer import Tokenizer


@pytest.fixture
def tokenizers(tiny_tokenizer_file) -> dict[str, Tokenizer]:
    return {kind: Tokenizer.from_file(tiny_tokenizer_file, kind) for kind in ("pocket", "qwen3")}


def test_per_kind_picks_the_value_of_the_models_kind(tokenizers, monkeypatch):
    monkeypatch.delenv("RFS_LESSON_QUICK", raising=False)
    assert per_kind(tokenizers["pocket"], pocket=100, qwen3=30, quick=3) == 100
    assert per_kind(tokenizers["qwen3"], pocket=100, qwen3=30, quick=3) == 30
    monkeypatch.setenv("RFS_LESSON_QUICK", "0")
    assert per_kind(tokenizers["qwen3"], pocket=100, qwen3=30, quick=3) == 30


def test_a_quick_run_takes_the_quick_value_where_there_is_one(tokenizers, monkeypatch):
    monkeypatch.setenv("RFS_LESSON_QUICK", "1")
    assert per_kind(tokenizers["pocket"], pocket=100, qwen3=30, quick=3) == 3
    assert per_kind(tokenizers["qwen3"], pocket="pocket-math", qwen3="math500") == "math500"


def test_every_kind_needs_a_value(tokenizers):
    with pytest.raises(ValueError, match="each kind of model"):
        per_kind(tokenizers["pocket"], pocket=100, quick=3)
    with pytest.raises(ValueError, match="each kind of model"):
        per_kind(tokenizers["pocket"], pocket=1, qwen3=2, llama=3)
