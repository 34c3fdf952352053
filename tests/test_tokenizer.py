"""The tokenizer wrapper reproduces the real Qwen3 ids and chat format (facts in ../shared/README.md)."""

import pytest
import tokenizers

from rfs.tokenizer import Tokenizer


def test_reference_ids(qwen3_tokenizer):
    assert qwen3_tokenizer.encode("<|im_start|>hello<|im_end|>") == [151644, 14990, 151645]
    text = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>"
    assert qwen3_tokenizer.encode(text) == [151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198, 151667, 271,
                                            151668, 271, 9707, 0, 151645]


def test_special_ids_and_vocab(qwen3_tokenizer):
    t = qwen3_tokenizer
    assert (t.eos_id, t.im_start_id, t.im_end_id, t.think_id, t.end_think_id) == (151643, 151644, 151645,
                                                                                    151667, 151668)
    assert t.pad_id == t.eos_id and t.stop_ids == [151643, 151645]
    assert t.vocab_size == 151_669


@pytest.mark.parametrize("text", ["Hello, world!", "∫ x² dx = x³/3 + C 🙂", "  two  spaces\n\ttab", "12345 + 67890"])
def test_round_trip(qwen3_tokenizer, text):
    assert qwen3_tokenizer.decode(qwen3_tokenizer.encode(text)) == text


def test_skip_special_tokens_keeps_think_tags(qwen3_tokenizer):
    ids = qwen3_tokenizer.encode("<|im_start|>assistant\n<think>\nhm\n</think>\n\n42<|im_end|>")
    assert qwen3_tokenizer.decode(ids, skip_special_tokens=True) == "assistant\n<think>\nhm\n</think>\n\n42"


def test_chat_format_thinking_on_and_off(tiny_tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    on = tiny_tokenizer.render_chat(messages)
    assert on == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny_tokenizer.render_chat(messages, thinking=False) == on + "<think>\n\n</think>\n\n"


def test_chat_history_drops_old_reasoning(qwen3_tokenizer):
    messages = [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "<think>\ngreet back\n</think>\n\nHello!"},
                {"role": "user", "content": "Bye"}]
    assert qwen3_tokenizer.render_chat(messages) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
    last = qwen3_tokenizer.render_chat(messages[:2], add_generation_prompt=False)
    assert last.endswith("<|im_start|>assistant\n<think>\ngreet back\n</think>\n\nHello!<|im_end|>\n")


def test_tokenizer_without_special_tokens_is_refused(tmp_path):
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match="<\\|im_start\\|>"):
        Tokenizer.from_file(tmp_path)
