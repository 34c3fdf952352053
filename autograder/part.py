"""Parts and cases: what an assignment grades, written as data so that a chapter's checks are a table.

A ``Part`` is one graded exercise (the test cell ``<name>_tests`` of the notebook): the learner functions it
calls, the rfs references that are traps while it runs, and its cases. A ``Case`` is one call of a learner
function on plain-data arguments, and a ``judge`` that looks at what came back (an ``Outcome``) and says what is
wrong, or None. Judges run wherever the comparison must be trusted: in the grader's own process when grading,
in the learner's kernel for the visible self-check. The learner's process only ever sees the arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from autograder.plain import Stand, describe

Judge = Callable[["Outcome"], "str | None"]


@dataclass
class Outcome:
    """What one call gave back, as plain data: the return value, arguments updated in place, stand-ins' calls,
    and the value's gradients with respect to arguments passed as leaves (``Stand("leaf", (tensor,))``)."""

    value: object = None
    args: dict[int, object] = field(default_factory=dict)  # argument index -> its value after the call
    calls: dict[int, list] = field(default_factory=dict)  # argument index of a recording stand-in -> its calls
    grads: dict[int, object] = field(default_factory=dict)  # argument index of a leaf -> d value / d it (or None)


@dataclass
class Case:
    """One call ``function(*args)`` and its judge. ``what`` names the case in messages (a hidden case's message
    shows ``what`` only, never its arguments); ``keep`` lists arguments the judge sees after the call."""

    function: str
    args: tuple
    judge: Judge
    what: str
    keep: tuple[int, ...] = ()

    def call_text(self) -> str:
        """How the call reads in a visible case's message, e.g. ``extract_boxed('\\\\boxed{1}')``."""
        shown = ", ".join(describe(a, 60) if not isinstance(a, Stand) else stand_text(a) for a in self.args)
        return f"{self.function}({shown})"


@dataclass
class Part:
    """One graded exercise. ``references`` are dotted names (``rfs.qwen3.rms_norm``) of what the learner must
    not call; ``visible`` builds the cases learners see; ``hint`` closes every failure message."""

    name: str
    points: int
    functions: tuple[str, ...]
    references: tuple[str, ...]
    visible: Callable[[], list[Case]]
    hint: str

    @property
    def grade_id(self) -> str:
        """The nbgrader grade id of the part's test cell."""
        return f"{self.name}_tests"


def stand_text(stand: Stand) -> str:
    """A stand-in as a message shows it."""
    if stand.name == "completion":
        return f"Completion({stand.fields[0]!r}, logprobs={stand.fields[3]!r})"
    if stand.name == "fake_check":
        return f"check(right except {stand.fields[0]!r})" if stand.fields[0] else "check(always right)"
    if stand.name == "fake_model":
        return f"continue_solution(writes {stand.fields[0]!r})"
    if stand.name == "leaf":
        return describe(stand.fields[0], 60) + " requiring grad"
    return stand.name


# --- Judges: each returns None when the outcome is right, else what is wrong (expected vs got) --------------

def equal_to(expected: object) -> Judge:
    """The value must equal ``expected`` exactly (tuples and lists are told apart only inside tensors' shapes)."""
    def judge(outcome: Outcome) -> str | None:
        if same(outcome.value, expected):
            return None
        return f"expected {describe(expected)}, got {describe(outcome.value)}"
    return judge


def same(got: object, expected: object) -> bool:
    """Plain-data equality in the grader: numbers by value, sequences element by element, tensors exactly."""
    if isinstance(expected, torch.Tensor) or isinstance(got, torch.Tensor):
        return (isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor) and got.shape == expected.shape
                and got.dtype == expected.dtype and torch.equal(got, expected))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(same(g, e) for g, e in zip(got, expected, strict=True)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if type(expected) in (int, float):
        return type(got) in (int, float) and got == expected
    return type(got) is type(expected) and got == expected


def near(expected: float, rel: float = 1e-9) -> Judge:
    """The value must be a number within a relative ``rel`` of ``expected`` (equal infinities count)."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if type(got) in (int, float) and math.isclose(got, expected, rel_tol=rel, abs_tol=1e-12):
            return None
        return f"expected {expected!r} (to a relative {rel:g}), got {describe(got)}"
    return judge


def tensor_problem(got: object, expected: torch.Tensor, atol: float) -> str | None:
    """What is wrong with a tensor result: type, shape, dtype, or its largest difference; None if close."""
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {describe(got)}"
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}, got {got.dtype}"
    error = (got.double() - expected.double()).abs().nan_to_num(nan=math.inf).max().item() if got.numel() else 0.0
    if not error <= atol:
        return f"largest difference from the expected values is {error:.2e} (allowed {atol:.0e})"
    return None


def close_to(expected: torch.Tensor, atol: float = 1e-5) -> Judge:
    """The value must be a tensor of ``expected``'s shape and dtype, within ``atol`` everywhere."""
    return lambda outcome: tensor_problem(outcome.value, expected, atol)


# --- Reading what came back --------------------------------------------------------------------------------

def verdict(case: Case, result: dict, hidden: bool) -> str | None:
    """What is wrong with one call's result (as ``plain.loads`` read it from the learner's side), or None.

    A hidden case's message names the property it tests and never its arguments or the expected value.
    """
    from autograder.shim import TRAP_MARK

    where = f"hidden case '{case.what}'" if hidden else case.call_text()
    if "raised" in result:
        message = str(result.get("message", ""))
        if TRAP_MARK in message:
            return message.split(TRAP_MARK, 1)[1].strip() + " (this part scores 0)"
        detail = "" if hidden else f": {message[:300]}"
        return f"{where} raised {result['raised']}{detail}"
    if "not_plain" in result:
        return (f"{where} returned {result['not_plain']}, which is not plain data: return numbers, strings, "
                "lists, tuples, dicts or tensors")
    if "too_large" in result:
        return f"{where} returned {result['too_large']:,} bytes of data, more than the grader reads"
    if "missing" in result:
        return f"your notebook defines no function {result['missing']} (keep the name from the exercise)"
    outcome = Outcome(result.get("value"), {int(k): v for k, v in result.get("args", {}).items()},
                      {int(k): v for k, v in result.get("calls", {}).items()},
                      {int(k): v for k, v in result.get("grads", {}).items()})
    problem = case.judge(outcome)
    if problem is None:
        return None
    return f"{where}: wrong result" if hidden else f"{where}: {problem}"
