"""Prompt templates, in one place, for training the pocket models and for evaluating any model (chapters 3-4).

A base model continues text, so the prompt sets up the kind of text we want: ``plain`` asks for the answer at
once, ``cot`` ("chain of thought") opens a worked solution. The pocket base model saw the phrase "Let's think
step by step." only before worked solutions, so the phrase switches it into its more careful mode; real base
models learned the same habit from the web. Chat models get the chat format instead, with thinking on or off.
"""

from __future__ import annotations

from rfs.tokenizer import Tokenizer

PROMPTS: dict[str, str] = {
    "plain": "Problem: {problem}\nAnswer:",
    "cot": "Problem: {problem}\nLet's think step by step.\n",
}


def build_prompt(tokenizer: Tokenizer, problem: str, style: str = "plain", thinking: bool | None = None) -> str:
    """The text given to the model for ``problem``: a ``PROMPTS`` template, or ``"chat"`` for the chat format.

    With ``style="chat"``, the problem becomes a user message and ``thinking`` (default on) chooses whether
    the model first reasons inside ``<think>...</think>``.
    """
    if style == "chat":
        return tokenizer.render_chat([{"role": "user", "content": problem}], thinking=thinking is not False)
    if style not in PROMPTS:
        raise ValueError(f"unknown prompt style {style!r}: choose one of {[*PROMPTS, 'chat']}")
    return PROMPTS[style].format(problem=problem)
