"""Multiple-choice evaluation, three ways (appendix F).

Benchmarks such as MMLU ask a question and offer four answers, A to D. A model can be scored on them in three
ways, and they do not agree:

- **letter**: show the question with its lettered choices, end with ``Answer:``, and compare the model's
  log-probabilities of the continuations ``" A"``, ``" B"``, ``" C"``, ``" D"``. One forward pass, no
  generation; it needs a model that has learned the lettered format.
- **generate**: show the same prompt, let the model write (and think, for a chat model), then parse its
  choice: a letter, or an answer that equals one of the choices (checked by the verifier of chapter 3).
  Closest to how a model is used, and the most expensive.
- **answer**: leave the letters out, and compare the log-probability of each choice's *text* as the
  continuation of ``Answer:``. Choices differ in length, and every token adds a negative log-probability, so
  the sum favours short answers; ``answer-mean`` divides by the number of tokens, ``answer-sum`` does not.

A question is a dict ``{id, question, choices, answer, ...}``: four choice strings and the index of the right
one. Two sets come with loaders: ``mc-pocket`` (pocket-math test problems with plausible wrong answers, shipped
with rfs; ``rfs.pocket.choices``) and MMLU from the Hugging Face hub (``cais/mmlu``).
"""

from __future__ import annotations

import os
import re

import torch

from rfs.generate import generate
from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer
from rfs.verify import extract_answer, grade_answer

LETTERS = "ABCD"
MMLU_REPO = "cais/mmlu"

SCORERS = {
    "letter": "log-probability of the letter after the lettered choices",
    "generate": "generate an answer, then parse the letter or the value it chose",
    "answer-mean": "mean log-probability per token of each choice's text",
    "answer-sum": "total log-probability of each choice's text (favours short choices)",
}

# How a question is written: pocket-math's own layout (the pocket models learned "Problem: ...", and answers
# written as $\boxed{...}$), or MMLU's. The layout belongs to the question set, not to the model.
FORMATS = {
    "pocket": {"question": "Problem: {question}\n", "answer": "$\\boxed{{{choice}}}$"},
    "mmlu": {"question": "Question: {question}\n", "answer": "{choice}"},
}


# --- Loading questions --------------------------------------------------------------------------------

def load_mmlu(subject: str = "all", split: str = "test", limit: int | None = None) -> list[dict]:
    """MMLU questions from the Hugging Face hub (``cais/mmlu``; needs the ``datasets`` package).

    ``subject`` is one of MMLU's 57 subjects (``high_school_mathematics``, ...) or ``all``. Offline, a set that
    is not cached raises a FileNotFoundError that says how to fetch it.
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("loading MMLU needs the `datasets` package: pip install datasets (or 'rfs[hub-data]')") from None
    try:
        rows = datasets.load_dataset(MMLU_REPO, subject, split=split)
    except Exception as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "")
        raise FileNotFoundError(
            f"MMLU ({MMLU_REPO}, {subject}, {split}) is not available "
            f"({'the hub is offline and it is not cached' if offline else error}). Where there is internet, "
            f"run once: python -c \"import datasets; datasets.load_dataset('{MMLU_REPO}', '{subject}')\" "
            "(or unset HF_HUB_OFFLINE).") from None
    questions = []
    for i, row in enumerate(rows):
        if limit is not None and i == limit:
            break
        questions.append({"id": f"mmlu/{subject}/{i}", "question": row["question"], "choices": list(row["choices"]),
                          "answer": int(row["answer"]), "type": row["subject"]})
    return questions


def load_questions(name: str, limit: int | None = None) -> list[dict]:
    """Questions of ``name``: ``mc-pocket`` (shipped), ``mmlu`` (all subjects) or ``mmlu:SUBJECT``."""
    if name == "mc-pocket":
        from rfs.pocket.choices import load_mc_pocket

        questions = load_mc_pocket()
    elif name == "mmlu" or name.startswith("mmlu:"):
        return load_mmlu(name.partition(":")[2] or "all", limit=limit)
    else:
        raise ValueError(f"unknown multiple-choice set {name!r}: use mc-pocket, mmlu or mmlu:SUBJECT")
    return questions[:limit] if limit else questions


def question_format(name: str) -> str:
    """The ``FORMATS`` entry a question set is written in."""
    return "pocket" if name == "mc-pocket" else "mmlu"


# --- Prompts ------------------------------------------------------------------------------------------

def lettered_prompt(question: dict, style: str = "mmlu") -> str:
    """The question, its choices as ``A. ...`` to ``D. ...``, and ``Answer:``."""
    lines = [f"{letter}. {choice}" for letter, choice in zip(LETTERS, question["choices"], strict=False)]
    return FORMATS[style]["question"].format(question=question["question"]) + "\n".join(lines) + "\nAnswer:"


def open_prompt(question: dict, style: str = "mmlu") -> str:
    """The question and ``Answer:``, without the choices (for scoring each choice's text)."""
    return FORMATS[style]["question"].format(question=question["question"]) + "Answer:"


def answer_text(choice: str, style: str = "mmlu") -> str:
    """A choice as the continuation of ``Answer:``, written the way the question set writes answers."""
    return " " + FORMATS[style]["answer"].format(choice=choice)


# --- Scoring by log-probability ------------------------------------------------------------------------

@torch.inference_mode()
def continuation_logprobs(model: Qwen3, tokenizer: Tokenizer, pairs: list[tuple[str, str]],
                          batch_size: int = 16) -> list[list[float]]:
    """For each ``(prompt, continuation)``, the log-probability of every continuation token after the prompt.

    Rows are padded on the right: a causal model never attends to later positions, so padding after the
    text changes nothing and needs no mask. Logits at position t predict token t + 1.
    """
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(pairs), batch_size):
        chunk = [(tokenizer.encode(p), tokenizer.encode(c)) for p, c in pairs[start:start + batch_size]]
        width = max(len(p) + len(c) for p, c in chunk)
        ids = torch.tensor([p + c + [tokenizer.pad_id] * (width - len(p) - len(c)) for p, c in chunk], device=device)
        logprobs = model(ids).float().log_softmax(-1)  # (B, T, V)
        for row, (prompt, continuation) in enumerate(chunk):
            positions = torch.arange(len(prompt) - 1, len(prompt) + len(continuation) - 1, device=device)
            targets = torch.tensor(continuation, device=device)
            results.append(logprobs[row, positions, targets].tolist())
    return results


def score_choices(model: Qwen3, tokenizer: Tokenizer, questions: list[dict], scorer: str, style: str = "mmlu",
                  batch_size: int = 16) -> list[list[float]]:
    """Each choice's score under a log-probability scorer (``letter``, ``answer-mean`` or ``answer-sum``)."""
    if scorer == "letter":
        pairs = [(lettered_prompt(q, style), f" {letter}") for q in questions for letter in LETTERS[:len(q["choices"])]]
    else:
        pairs = [(open_prompt(q, style), answer_text(c, style)) for q in questions for c in q["choices"]]
    token_logprobs = iter(continuation_logprobs(model, tokenizer, pairs, batch_size))
    scores = []
    for q in questions:
        per_choice = [next(token_logprobs) for _ in q["choices"]]
        scores.append([sum(lps) / len(lps) if scorer == "answer-mean" else sum(lps) for lps in per_choice])
    return scores


# --- Scoring by generating ----------------------------------------------------------------------------

_LEADING_LETTER = re.compile(r"\s*\(?([A-D])\)?(?:[.:,\s]|$)")  # " B", "(C)", "D. 42"


def parse_choice(text: str, choices: list[str]) -> int | None:
    """The choice a generated answer picks: a letter at its start (``" B"``), a stated or boxed letter
    ("the answer is C", ``\\boxed{D}``), or an answer equal to a choice's value; else None."""
    text = text.split("</think>")[-1]  # a thinking model's choice comes after its thoughts
    leading = _LEADING_LETTER.match(text)
    if leading:
        return LETTERS.index(leading[1])
    answer = extract_answer(text)
    if answer is None:
        return None
    letter = answer.strip().strip("()$.").strip()
    if len(letter) == 1 and letter in LETTERS[:len(choices)]:
        return LETTERS.index(letter)
    return next((i for i, choice in enumerate(choices) if grade_answer(answer, choice)), None)


def generate_choices(model: Qwen3, tokenizer: Tokenizer, questions: list[dict], style: str = "mmlu",
                     show_choices: bool = True, chat: bool = False, thinking: bool = True, max_new_tokens: int = 256,
                     batch_size: int = 16) -> list[tuple[int | None, str]]:
    """Greedily answer each question; return the parsed choice (or None) and the text generated.

    With ``show_choices`` the prompt lists the lettered choices; without, the model solves the question as an
    open one and its answer is matched to the choices. With ``chat``, the question is sent as a user message
    in the chat format (``thinking`` on or off). A base model's text is cut where it starts a new question.
    """
    if chat:
        texts = [q["question"] + ("\n" + lettered_prompt(q, style).split("\n", 1)[1].removesuffix("\nAnswer:")
                                  if show_choices else "") for q in questions]
        prompts = [tokenizer.render_chat([{"role": "user", "content": t}], thinking=thinking) for t in texts]
    else:
        prompts = [lettered_prompt(q, style) if show_choices else open_prompt(q, style) for q in questions]
    stop = ["\nQuestion:", "\nProblem:"]
    completions = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, stop=stop,
                           batch_size=batch_size)
    return [(parse_choice(c.text, q["choices"]), c.text) for [c], q in zip(completions, questions, strict=True)]


# --- Evaluating ---------------------------------------------------------------------------------------

def evaluate_choices(model: Qwen3, tokenizer: Tokenizer, questions: list[dict], scorer: str = "letter",
                     style: str = "mmlu", show_choices: bool = True, chat: bool = False, thinking: bool = True,
                     max_new_tokens: int = 256, batch_size: int = 16) -> list[dict]:
    """Answer every question with ``scorer`` (a ``SCORERS`` name); one result per question: the choice made
    (``predicted``, None if a generated answer picked none), whether it is right, and the scores or text.

    ``show_choices``, ``chat``, ``thinking`` and ``max_new_tokens`` are for ``generate`` (see
    :func:`generate_choices`)."""
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}: choose one of {list(SCORERS)}")
    results = []
    if scorer == "generate":
        for q, (choice, text) in zip(questions, generate_choices(model, tokenizer, questions, style, show_choices, chat,
                                                                 thinking, max_new_tokens, batch_size), strict=True):
            results.append({"id": q["id"], "answer": q["answer"], "predicted": choice, "output": text})
    else:
        for q, scores in zip(questions, score_choices(model, tokenizer, questions, scorer, style, batch_size),
                             strict=True):
            results.append({"id": q["id"], "answer": q["answer"], "predicted": scores.index(max(scores)),
                            "scores": scores})
    return [r | {"correct": r["predicted"] == r["answer"], "type": q.get("type")}
            for r, q in zip(results, questions, strict=True)]


def choice_accuracy(results: list[dict]) -> float:
    """Fraction of questions answered right."""
    return sum(r["correct"] for r in results) / len(results) if results else 0.0


def summarize_choices(results: list[dict]) -> dict:
    """Accuracy overall and per question type, and how many answers picked no choice."""
    types = sorted({str(r["type"]) for r in results})
    return {"questions": len(results), "accuracy": choice_accuracy(results),
            "by_type": {t: choice_accuracy([r for r in results if str(r["type"]) == t]) for t in types},
            "no_choice": sum(r["predicted"] is None for r in results)}
