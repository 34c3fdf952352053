"""Text to token ids and back, and the Qwen3 chat format (chapter 2).

The heavy lifting (byte-level BPE) is done by the ``tokenizers`` library reading a ``tokenizer.json``; this
module adds what a reasoning model needs on top: the special tokens by name, the stop tokens, and the chat
template that wraps messages in ``<|im_start|>role ... <|im_end|>`` and optionally switches thinking off.
It wraps the real Qwen3 tokenizer and any smaller tokenizer with the same special tokens (the pocket models).
"""

from __future__ import annotations

import re
from pathlib import Path

import tokenizers

# The special tokens every tokenizer used with rfs must define (Qwen3's names).
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>\s*", re.DOTALL)


class Tokenizer:
    """A Qwen3-style tokenizer: ``encode``/``decode`` plus special token ids and the chat format."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, kind: str = "qwen3"):
        self.tokenizer = tokenizer
        # The kind of model this tokenizer serves, "qwen3" or "pocket" (rfs.hub.load_tokenizer reads it from the
        # model folder); it chooses the model's prompts and defaults (rfs.prompts.defaults_for).
        self.kind = kind
        missing = [t for t in SPECIAL_TOKENS if tokenizer.token_to_id(t) is None]
        if missing:
            raise ValueError(f"this tokenizer.json lacks the special tokens {missing}; rfs needs all of "
                             f"{list(SPECIAL_TOKENS)} (as in Qwen3) for the chat format and stopping.")
        self.eos_id = tokenizer.token_to_id("<|endoftext|>")  # ends a document (base models)
        self.pad_id = self.eos_id  # Qwen3 pads with <|endoftext|>; padding is masked out anyway
        self.im_start_id = tokenizer.token_to_id("<|im_start|>")
        self.im_end_id = tokenizer.token_to_id("<|im_end|>")  # ends a chat turn
        self.think_id = tokenizer.token_to_id("<think>")
        self.end_think_id = tokenizer.token_to_id("</think>")

    @classmethod
    def from_file(cls, path: str | Path, kind: str = "qwen3") -> Tokenizer:
        """Load a ``tokenizer.json`` (a file, or a directory that contains one) for a model of ``kind``."""
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer.json at {path}")
        return cls(tokenizers.Tokenizer.from_file(str(path)), kind)

    @property
    def vocab_size(self) -> int:
        """Number of token ids, added tokens included."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def stop_ids(self) -> list[int]:
        """Token ids that end generation: end of document and end of chat turn."""
        return [self.eos_id, self.im_end_id]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``. Special tokens written in the text (``<|im_start|>``) become their single id."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """Text of token ids. Skipping special tokens keeps ``<think>``/``</think>`` (they are not special)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True,
                    thinking: bool = True) -> str:
        """Render chat messages in the Qwen3 format.

        Each message ``{"role": ..., "content": ...}`` becomes ``<|im_start|>{role}\\n{content}<|im_end|>\\n``.
        Assistant turns before the last user message lose their ``<think>...</think>`` block (Qwen3 does
        not show old reasoning back to the model); later assistant turns keep it, with an empty block when
        there was none. The generation prompt is ``<|im_start|>assistant\\n``; with ``thinking=False`` it is
        followed by an empty ``<think>\\n\\n</think>\\n\\n`` so the model answers directly.
        """
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
        text = ""
        for i, message in enumerate(messages):
            content = message["content"]
            if message["role"] == "assistant":
                found = _THINK_BLOCK.search(content)
                reasoning = found.group(1).strip("\n") if found else ""
                answer = _THINK_BLOCK.sub("", content, count=1).lstrip("\n")
                content = answer if i < last_user else f"<think>\n{reasoning}\n</think>\n\n{answer}"
            text += f"<|im_start|>{message['role']}\n{content}<|im_end|>\n"
        if add_generation_prompt:
            text += "<|im_start|>assistant\n"
            if not thinking:
                text += "<think>\n\n</think>\n\n"
        return text
