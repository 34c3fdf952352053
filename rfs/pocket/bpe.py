"""Training the pocket tokenizer: a small byte-level BPE with Qwen3's special tokens (chapter 2 explains BPE).

Like Qwen's tokenizer, it splits every digit into its own token, so numbers are read digit by digit and a
small model can learn column-wise arithmetic. It carries the same special tokens as Qwen3, so the chat
format, the stop tokens and every lesson work unchanged on the pocket models.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, decoders, models, pre_tokenizers, trainers

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # marked special: skipped when decoding skips specials
THINK = ["<think>", "</think>"]  # single tokens too, but kept in decoded text, as in Qwen3


def train_bpe(texts: Iterable[str], vocab_size: int = 512) -> tokenizers.Tokenizer:
    """Train a byte-level BPE of ``vocab_size`` tokens (special tokens included) on ``texts``."""
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),  # "2025" -> "2", "0", "2", "5"
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(THINK), special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK])
    return tok


def save_bpe(tok: tokenizers.Tokenizer, path: str | Path) -> Path:
    """Write the tokenizer as ``tokenizer.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path
