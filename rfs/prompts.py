"""Prompt templates and what suits each kind of model, in one place (chapters 3-4).

A base model continues text, so the prompt sets up the kind of text we want: ``plain`` asks for the answer at
once, ``cot`` ("chain of thought") opens a worked solution. Chat models get the chat format instead, with
thinking on or off.

Two kinds of model read different prompts. The pocket models were trained by rfs on pocket-math documents
that start with ``PROMPTS`` (they saw "Let's think step by step." only before worked solutions, so the phrase
switches them into their careful mode). Real Qwen3 models learned from the web, and the book's prompt tells
them where the answer goes (``QWEN3_PROMPTS``): without that instruction a model may answer correctly in a form
the verifier cannot find. :func:`defaults_for` is the one place that picks a model's templates, how many new
tokens its answers need, the notation it understands and the self-refinement critics that can judge its
solutions (chapter 5), from the kind its folder declares (``rfs.hub.model_kind``, carried by its tokenizer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rfs.tokenizer import Tokenizer

# The pocket models' templates: the text they were trained on ("chat" is the user message).
PROMPTS: dict[str, str] = {
    "plain": "Problem: {problem}\nAnswer:",
    "cot": "Problem: {problem}\nLet's think step by step.\n",
}
POCKET_CHAT = "{problem}"

# The book's prompts for real Qwen3 models: say where the final answer goes.
QWEN3_PROMPTS: dict[str, str] = {
    "plain": "You are a helpful math assistant.\nAnswer the question and write the final result on a new line as:\n"
             "\\boxed{{ANSWER}}\n\nQuestion:\n{problem}\n\nAnswer:",
    "cot": "You are a helpful math assistant.\nAnswer the question and write the final result on a new line as:\n"
           "\\boxed{{ANSWER}}\n\nQuestion:\n{problem}\n\nAnswer: Let's think step by step.\n",
}
QWEN3_CHAT = "{problem}\n\nWrite the final answer in \\boxed{{}}."


def pocket_notation(question: str) -> str:
    """A typed question rewritten in the notation of the pocket-math problems, which is all a pocket model knows.

    ``12*13`` and ``12 × 13`` become ``12 \\times 13``, ``3/4`` becomes ``\\frac{3}{4}``, and ``17+25`` gets the
    spaces of ``17 + 25`` (the pocket tokenizer reads ``17+25`` as other tokens, and the model misreads it).
    """
    question = re.sub(r"(\d+)\s*/\s*(\d+)", r"\\frac{\1}{\2}", question)
    question = re.sub(r"\s*[*×]\s*", r" \\times ", question)
    return re.sub(r"(?<=[\w)}])\s*([+-])\s*(?=[\d(\\])", r" \1 ", question)  # 17+25 -> 17 + 25; not -20 or (-1)


def as_typed(question: str) -> str:
    """The question unchanged: real models read any notation."""
    return question


@dataclass(frozen=True)
class ModelDefaults:
    """What suits a kind of model when the caller does not say."""

    prompts: dict[str, str]  # the plain and cot templates
    chat: str  # the template of a problem as a chat message
    max_new_tokens: int  # room for a whole answer: thinking models on MATH-500 take ~1,400 tokens on average
    notation: Callable[[str], str]  # rewrites a typed question into the notation the model understands
    understands: str  # what the model can be asked, for `rfs chat`'s banner ("" when anything goes)
    critic: str  # chapter 5's default critic (an rfs.refine.CRITICS name)
    critics: tuple[str, ...]  # the critics that can judge this model's solutions


POCKET_UNDERSTANDS = (
    "Pocket models know only the pocket-math problems they were trained on: whole-number arithmetic "
    "(What is 17 + 25?  What is 12 \\times 13?  Compute (48 + 6) \\times 3 - 27.), negative numbers "
    "(What is 9 + (-1)?), fractions (Compute \\frac{1}{6} + \\frac{2}{3}.  Simplify \\frac{18}{30}.), equations "
    "(Solve for $x$: $4x + 46 = 142$.) and short word problems. 12*13, 3/4 and 17+25 are rewritten into this "
    "notation; anything else (a greeting, a question in words) gets a made-up sum. pocket-reasoning learned to "
    "think first: with thinking off it answers at once and gets about seven test problems in ten right (69.4%), "
    "against nine in ten (90.6%) when it thinks.")

MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    # A pocket model cannot follow a critique in words, so its default critic recomputes its arithmetic claims;
    # that self-check parses pocket-math steps only, so real models critique their solutions in words.
    "pocket": ModelDefaults(PROMPTS, POCKET_CHAT, 384, pocket_notation, POCKET_UNDERSTANDS,
                            "self-check", ("verifier", "self-check", "prompt")),
    "qwen3": ModelDefaults(QWEN3_PROMPTS, QWEN3_CHAT, 2048, as_typed, "", "prompt", ("verifier", "prompt")),
}


def defaults_for(tokenizer: Tokenizer) -> ModelDefaults:
    """The defaults of the model a tokenizer belongs to: pocket models' or real Qwen3's (``tokenizer.kind``)."""
    return MODEL_DEFAULTS[tokenizer.kind]


def build_prompt(tokenizer: Tokenizer, problem: str, style: str = "plain", thinking: bool | None = None) -> str:
    """The text given to the model for ``problem``: the model's ``plain`` or ``cot`` template, or ``"chat"``.

    The templates are those of the tokenizer's model (:func:`defaults_for`). With ``style="chat"``, the problem
    becomes a user message and ``thinking`` (default on) chooses whether the model first reasons inside
    ``<think>...</think>``.
    """
    defaults = defaults_for(tokenizer)
    if style == "chat":
        message = defaults.chat.format(problem=problem)
        return tokenizer.render_chat([{"role": "user", "content": message}], thinking=thinking is not False)
    if style not in defaults.prompts:
        raise ValueError(f"unknown prompt style {style!r}: choose one of {[*defaults.prompts, 'chat']}")
    return defaults.prompts[style].format(problem=problem)
