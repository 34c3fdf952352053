"""The settings at the top of each lesson, sized for the kind of model it runs (every lesson).

A lesson runs the pocket models on a CPU. A learner with a GPU sets its ``MODEL`` to a real Qwen3 model, and the
lesson follows: prompts, token budgets and critics come from ``rfs.prompts.defaults_for``, and the lesson's own
sizes (how many problems, how many training steps) are written once per kind of model with :func:`per_kind`.
A real model writes solutions many times longer than a pocket model's, so it gets fewer problems.

Two environment variables let the course's tests run a lesson on another model without editing it:
``RFS_LESSON_MODEL`` (and ``RFS_LESSON_REASONING_MODEL``), which the lesson's ``MODEL`` cell reads, and
``RFS_LESSON_QUICK=1``, which makes :func:`per_kind` return each setting's ``quick`` value: a few problems, a few
tokens, a few steps, enough to show that every cell runs (tests/test_lessons_real_qwen3.py).
"""

from __future__ import annotations

import os
from typing import TypeVar

from rfs.prompts import MODEL_DEFAULTS
from rfs.tokenizer import Tokenizer

QUICK = "RFS_LESSON_QUICK"  # set to 1: every lesson setting takes its quick value

Value = TypeVar("Value")


def quick_run() -> bool:
    """Whether the environment asks for a quick run of the lessons (``RFS_LESSON_QUICK=1``)."""
    return os.environ.get(QUICK, "0") not in ("0", "")


def per_kind(tokenizer: Tokenizer, quick: Value | None = None, **by_kind: Value) -> Value:
    """A lesson setting for the kind of model ``tokenizer`` belongs to: ``by_kind[tokenizer.kind]``.

    ``by_kind`` gives one value per kind, ``pocket=...`` and ``qwen3=...`` (the kinds of
    ``rfs.prompts.MODEL_DEFAULTS``); ``quick`` replaces them in a quick run (:func:`quick_run`).
    ``per_kind(tokenizer, pocket=100, qwen3=30, quick=3)`` is 100 for pocket-base, 30 for qwen3-0.6b-base.
    """
    if set(by_kind) != set(MODEL_DEFAULTS):
        raise ValueError(f"give a value for each kind of model, {sorted(MODEL_DEFAULTS)}; got {sorted(by_kind)}")
    if quick is not None and quick_run():
        return quick
    return by_kind[tokenizer.kind]
