"""LLM-as-a-judge: a model grades solutions with a rubric, and how far its grades agree with the verifier
(appendix F).

Chapter 3's verifier compares final answers by rule. A judge model reads the problem, the reference answer and
a solution, and writes its grade in words; that also works for answers no rule parses (proofs, explanations),
but the judge can be wrong. Before trusting a judge, measure it where the verifier is right: grade the
solutions of an ``rfs eval`` results file both ways and count how often they agree. Raw agreement flatters a
judge when most solutions are right (or most wrong), so agreement is also given as Cohen's kappa, which is 0
for a judge no better than chance at the same rates of "correct" and 1 for perfect agreement.

The judge is any OpenAI-compatible endpoint (``rfs serve``, vLLM, a hosted API), asked with the official
``openai`` client, or a model loaded here (:func:`ask_local_model`). A judge's reply is read by
:func:`read_grade`, which never raises: a reply without a grade counts as ungraded, not as a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer

JUDGE_PROMPT = (
    "You are grading a student's solution to a math problem.\n\n"
    "Problem:\n{problem}\n\nReference answer: {reference}\n\nStudent's solution:\n{solution}\n\n"
    "Rubric:\n"
    "- CORRECT: the student's final answer is mathematically equal to the reference answer, in any form "
    "(1/2 and 0.5 are equal).\n"
    "- INCORRECT: the final answer differs from the reference, is missing, or gives several answers.\n"
    "Explain your grade in one or two sentences, then end with one line: GRADE: CORRECT or GRADE: INCORRECT.")

# "GRADE: CORRECT", "**Grade:** incorrect", "grade - wrong"; the last one in a reply counts.
GRADE = re.compile(r"\bGRADE\W{0,5}(CORRECT|INCORRECT|WRONG|RIGHT)\b", re.IGNORECASE)
VERDICT_WORDS = {"correct": True, "right": True, "incorrect": False, "wrong": False}


def judge_prompt(problem: str, reference: str, solution: str) -> str:
    """The rubric prompt that asks a judge to grade ``solution`` against the ``reference`` answer."""
    return JUDGE_PROMPT.format(problem=problem, reference=reference, solution=solution.rsplit("</think>", 1)[-1])


def read_grade(reply: object) -> bool | None:
    """The grade in a judge's reply: True (correct), False (incorrect), or None when it gives none. Never raises.

    The last ``GRADE: ...`` line counts (a reply may first quote the rubric's two options), after any
    ``<think>`` block. Without one, a reply whose last line is a bare verdict word ("Incorrect.") counts too.
    """
    if not isinstance(reply, str):
        return None
    text = reply.rsplit("</think>", 1)[-1]
    grades = GRADE.findall(text)
    if grades:
        return VERDICT_WORDS[grades[-1].lower()]
    lines = [line for line in text.splitlines() if line.strip()]
    last = re.sub(r"[^a-z]", "", lines[-1].lower()) if lines else ""
    return VERDICT_WORDS.get(last)


# --- Asking a judge ------------------------------------------------------------------------------------------

def ask_endpoint(prompts: list[str], base_url: str | None = None, api_key: str | None = None,
                 model: str | None = None, max_tokens: int = 1024, concurrency: int = 8,
                 timeout: float = 600) -> list[str]:
    """The reply of an OpenAI-compatible endpoint to each prompt, asked as a user message, greedily.

    ``concurrency`` requests are in flight at a time (a server such as ``rfs serve`` batches them). ``base_url``
    and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (as in the ``openai`` client; a local
    server needs no key, so "unused" is sent then). ``model`` defaults to the first model the endpoint lists.
    Replies that fail (a refused or broken request) are returned as "" and count as ungraded.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI, OpenAIError

    client = OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "unused",
                    timeout=timeout, max_retries=1)
    try:
        model = model or client.models.list().data[0].id
    except OpenAIError as error:
        raise ConnectionError(f"cannot reach a judge at {client.base_url} ({error}): start one (`rfs serve`), or "
                              "check --judge (the base URL ends in /v1) and the API key") from None

    def ask(prompt: str) -> str:
        try:
            reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                   temperature=0, max_tokens=max_tokens)
            return reply.choices[0].message.content or ""
        except OpenAIError:
            return ""

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(ask, prompts))  # in the order of the prompts


def ask_local_model(prompts: list[str], model: Qwen3, tokenizer: Tokenizer, max_new_tokens: int | None = None,
                    thinking: bool = True, batch_size: int | None = None) -> list[str]:
    """The reply of a loaded model to each prompt as a chat message, greedily (``max_new_tokens``: the model's)."""
    from rfs.generate import generate
    from rfs.prompts import defaults_for

    chats = [tokenizer.render_chat([{"role": "user", "content": p}], thinking=thinking) for p in prompts]
    max_new_tokens = max_new_tokens or defaults_for(tokenizer).max_new_tokens
    completions = generate(model, tokenizer, chats, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return [c.text for [c] in completions]


# --- Agreement with the verifier -----------------------------------------------------------------------------

def judged_solution(result: dict) -> str:
    """The solution of an ``rfs eval`` result whose answer the result gives: the chosen output, or for a vote the
    first output with the winning answer."""
    if result.get("chosen") is not None:
        return result["outputs"][result["chosen"]]
    return next((o for o, a in zip(result["outputs"], result["answers"], strict=True) if a == result["answer"]),
                result["outputs"][0])


def judge_prompts(results: list[dict]) -> list[str]:
    """The rubric prompt of each ``rfs eval`` result (older results files without ``problem`` show the prompt)."""
    return [judge_prompt(r.get("problem") or r["prompt"], r["reference"], judged_solution(r)) for r in results]


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two raters' yes/no labels: (observed - chance agreement) / (1 - chance agreement).

    Chance agreement is what two raters who say "yes" at their own rates, independently, would reach. None
    when it is 1 (both raters always say the same single label): kappa is undefined there.
    """
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    yes_a, yes_b = sum(a) / n, sum(b) / n
    chance = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    return None if chance == 1 else (observed - chance) / (1 - chance)


@dataclass
class Agreement:
    """How a judge's grades compare with the verifier's on the same solutions."""

    problems: int  # solutions sent to the judge
    graded: int  # replies with a grade (the rest count as ungraded and are left out below)
    accuracy: float | None  # share of graded solutions where the judge agrees with the verifier
    kappa: float | None  # Cohen's kappa of the judge and the verifier on the graded solutions
    judge_correct: float | None  # share of graded solutions the judge calls correct
    verifier_correct: float | None  # share of graded solutions the verifier calls correct


def agreement(grades: list[bool | None], verdicts: list[bool]) -> Agreement:
    """Compare a judge's ``grades`` (None: ungraded) with the verifier's ``verdicts`` on the same solutions."""
    pairs = [(g, v) for g, v in zip(grades, verdicts, strict=True) if g is not None]
    if not pairs:
        return Agreement(len(grades), 0, None, None, None, None)
    judge, verifier = [g for g, _ in pairs], [v for _, v in pairs]
    n = len(pairs)
    return Agreement(len(grades), n, sum(g == v for g, v in pairs) / n, cohen_kappa(judge, verifier),
                     sum(judge) / n, sum(verifier) / n)


def describe_agreement(result: Agreement) -> str:
    """A short report of an :class:`Agreement`, one measure per line."""
    def share(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1%}"

    kappa = "n/a (one label only)" if result.kappa is None else f"{result.kappa:.3f}"
    return (f"graded {result.graded} of {result.problems} solutions (the rest gave no grade)\n"
            f"agreement with the verifier: {share(result.accuracy)}\nCohen's kappa: {kappa}\n"
            f"called correct: judge {share(result.judge_correct)}, verifier {share(result.verifier_correct)}")
