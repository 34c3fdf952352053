"""Pocket-math as multiple choice: each test problem with its answer and three plausible wrong ones (appendix F).

A multiple-choice question is only as hard as its wrong choices (the *distractors*) are tempting. Random numbers
would be easy to rule out, so each distractor is an answer a careless solver could reach:

- the problem's own typical mistake: an operation flipped (``+`` for ``-``), the order of operations ignored,
  numerators and denominators added, a term moved to the other side without changing its sign, ...;
- a sign flip: ``-42`` for ``42``;
- off by one: ``41`` or ``43`` for ``42`` (numerator off by one for a fraction).

The questions are made once with a fixed seed and ship with rfs as ``mc-pocket.jsonl``
(``python -m rfs.pocket.choices`` writes it again). A question is a dict ``{id, question, choices, answer,
type, level}`` with four ``choices`` and ``answer`` the index (0-3) of the right one.
"""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction
from pathlib import Path

from rfs.pocket.data import format_fraction, test_records

MC_POCKET_PATH = Path(__file__).parent / "mc-pocket.jsonl"
MC_SIZE, MC_SEED = 300, 7

_INT = r"\(?(-?\d+)\)?"  # a number as pocket-math writes it: negative numbers in parentheses


def parse_answer(answer: str) -> Fraction:
    """The value of a pocket-math answer: ``42``, ``-3``, ``\\frac{3}{4}`` or ``-\\frac{1}{2}``."""
    match = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", answer)
    if match:
        return Fraction(int(match[2]), int(match[3])) * (-1 if match[1] else 1)
    return Fraction(int(answer))


def format_value(value: Fraction) -> str:
    """A value written as pocket-math writes answers (lowest terms)."""
    return format_fraction(value.numerator if value.denominator == 1 else (value.numerator, value.denominator))


def evaluate_terms(first: int, rest: list[tuple[str, int]]) -> int:
    """``first`` followed by ``(operator, number)`` pairs, left to right: ``evaluate_terms(5, [("-", 3)]) == 2``."""
    total = first
    for op, n in rest:
        total = total + n if op == "+" else total - n
    return total


def typical_mistake(record: dict) -> Fraction | None:
    """The answer a typical mistake on this problem gives, or None if the problem type has none listed."""
    problem, family = record["problem"], record["type"]
    if family in ("addition and subtraction", "negative numbers"):
        terms = re.fullmatch(rf"What is {_INT}((?: [+-] {_INT})+)\?", problem)
        rest = [(op, int(n)) for op, n in re.findall(rf" ([+-]) {_INT}", terms[2])]
        flipped = rest[:-1] + [("-" if rest[-1][0] == "+" else "+", rest[-1][1])]  # the last operation flipped
        return Fraction(evaluate_terms(int(terms[1]), flipped))
    if family == "multiplication":
        a, b = map(int, re.findall(r"\d+", problem))
        return Fraction(a * (b + 1))  # one group too many: a times (b + 1)
    if family == "expressions":  # the order of operations ignored: a op (b x c) [- d]
        a, op, b, c, *d = re.fullmatch(r"Compute \((\d+) ([+-]) (\d+)\) \\times (\d+)(?: - (\d+))?\.", problem).groups()
        inner = int(a) + int(b) * int(c) if op == "+" else int(a) - int(b) * int(c)
        return Fraction(inner - int(d[0]) if d[0] else inner)
    if family == "fractions":
        fractions = [(int(n), int(d)) for n, d in re.findall(r"\\frac\{(\d+)\}\{(\d+)\}", problem)]
        if len(fractions) == 1:  # "Simplify n/d": turned upside down
            return Fraction(fractions[0][1], fractions[0][0])
        (a, b), (c, d) = fractions  # a/b + c/d: numerators and denominators added
        return Fraction(a + c, b + d)
    if family == "linear equations":  # ax + b = c solved as x = (c + b) / a: b moved without its sign changed
        a, sign, b, c = re.fullmatch(r"Solve for \$x\$: \$(\d+)x ([+-]) (\d+) = (-?\d+)\$\.", problem).groups()
        b = int(b) if sign == "+" else -int(b)
        return Fraction(int(c) + b, int(a))
    if family == "word problems":  # the three numbers added (or subtracted) instead of multiplying two of them
        a, b, c = map(int, re.findall(r"\d+", problem))
        return Fraction(a - b - c) if "left" in problem else Fraction(a + b + c)
    return None


def distractors(record: dict, rng: random.Random) -> list[str]:
    """Three distinct wrong answers for a pocket-math record: its typical mistake first, then a sign flip and
    off-by-one answers in random order, then answers 10 or 2 away if those are not enough."""
    right = parse_answer(record["answer"])
    one = Fraction(1, right.denominator)  # off by one in the numerator
    common = [-right, right + one, right - one]
    rng.shuffle(common)
    candidates = [typical_mistake(record), *common, right + 10 * one, right - 10 * one, right + 2 * one]
    wrong: list[Fraction] = []
    for value in candidates:
        if value is not None and value != right and value not in wrong:
            wrong.append(value)
    return [format_value(v) for v in wrong[:3]]


def make_question(record: dict, rng: random.Random) -> dict:
    """A multiple-choice question from a pocket-math record: the right answer among three distractors."""
    choices = [record["answer"], *distractors(record, rng)]
    rng.shuffle(choices)
    return {"id": record["unique_id"].replace("pocket-test", "mc-pocket"), "question": record["problem"],
            "choices": choices, "answer": choices.index(record["answer"]), "type": record["type"],
            "level": record["level"]}


def make_questions(n: int = MC_SIZE, seed: int = MC_SEED) -> list[dict]:
    """The first ``n`` pocket-math test problems as multiple-choice questions (seeded, so always the same)."""
    rng = random.Random(seed)
    return [make_question(record, rng) for record in test_records()[:n]]


def load_mc_pocket() -> list[dict]:
    """The shipped multiple-choice questions (``mc-pocket.jsonl``)."""
    return [json.loads(line) for line in MC_POCKET_PATH.read_text().splitlines()]


def write_mc_pocket(path: Path = MC_POCKET_PATH) -> Path:
    """Write the questions of :func:`make_questions`, one JSON object per line."""
    path.write_text("".join(json.dumps(q) + "\n" for q in make_questions()))
    return path


if __name__ == "__main__":
    print(f"wrote {write_mc_pocket()}")
