"""The learner's side of the channel: runs inside the learner's kernel (and in the visible self-check).

Before any learner cell runs, ``install_traps`` replaces the code of the rfs functions a chapter asks learners to
write, so that every way of reaching them (an import, an alias, ``importlib``, a reference saved earlier) runs
a trap instead. ``answer`` calls one learner function on arguments read from a request file and writes what came
back, as plain data, to a result file. Nothing here judges anything: the grader reads the result file in its own
process and compares there, so whatever a learner's code does to this module can only change its own answers.
"""

from __future__ import annotations

import importlib
import operator
import os
import re
from contextlib import contextmanager
from pathlib import Path

import torch

from autograder.plain import NotPlain, Stand, dumps, loads

TRAP_MARK = "autograder-trap:"
MAX_RESULT_BYTES = 8_000_000  # a result larger than this fails its part (the grader reads no more)


# --- Traps ----------------------------------------------------------------------------------------------------

def trap_message(dotted: str) -> str:
    """The text a trap raises: the grader recognises it by ``TRAP_MARK``."""
    return f"{TRAP_MARK} your code calls {dotted}, the reference implementation: write it yourself"


class Tripwire:
    """Stands in for a reference that is not a function (a compiled pattern): any use of it trips."""

    def __init__(self, dotted: str) -> None:
        self._dotted = dotted

    def __call__(self, *args, **kwargs):
        raise RuntimeError(trap_message(self._dotted))

    def __getattr__(self, name: str):
        raise RuntimeError(trap_message(self._dotted))


def trap_code(dotted: str):
    """A code object that raises the trap's message whatever it is called with."""
    namespace: dict = {}
    exec(f"def trap(*args, **kwargs):\n    raise RuntimeError({trap_message(dotted)!r})\n", namespace)
    return namespace["trap"].__code__


def install_traps(references: list[str]) -> list[tuple[object, str, object]]:
    """Turn each reference (``rfs.qwen3.rms_norm``, ``rfs.refine.CLAIM``) into a trap, in place.

    A function keeps its identity and gets the trap's code, so every name bound to it traps; a class gets a
    trapping ``__init__``; anything else is replaced in its module by a ``Tripwire``. Returns what to restore
    (object, attribute, original) for ``remove_traps``; a name rfs no longer has is skipped.
    """
    undo = []
    for dotted in references:
        module_name, name = dotted.rsplit(".", 1)
        module = importlib.import_module(module_name)
        target = getattr(module, name, None)
        if target is None:
            continue
        if isinstance(target, type):
            undo.append((target, "__init__", target.__dict__.get("__init__")))
            target.__init__ = _trap_function(dotted)
        elif hasattr(target, "__code__") and not target.__code__.co_freevars:
            undo.append((target, "__code__", target.__code__))
            target.__code__ = trap_code(dotted)
        else:
            undo.append((module, name, target))
            setattr(module, name, Tripwire(dotted))
    return undo


def remove_traps(undo: list[tuple[object, str, object]]) -> None:
    """Put back what ``install_traps`` replaced."""
    for owner, attribute, original in reversed(undo):
        if original is None:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)


@contextmanager
def traps_during(references: list[str]):
    """The references are traps inside the ``with`` block only (the visible self-check in a learner's notebook)."""
    undo = install_traps(references)
    try:
        yield
    finally:
        remove_traps(undo)


def _trap_function(dotted: str):
    namespace: dict = {}
    exec("def trap(*args, **kwargs):\n    pass\n", namespace)
    namespace["trap"].__code__ = trap_code(dotted)
    return namespace["trap"]


# --- Stand-ins: objects the checks pass to learner functions ---------------------------------------------------

class FakeCheck:
    """The check of a claim without a model: the true value of ``What is A op B?``, except where ``wrong`` says.

    Like the pocket model it answers only pocket-shaped questions: a product asked with the larger factor first.
    """

    QUESTION = re.compile(r"What is (-?\d+) (\+|-|\\times) (-?\d+)\?")

    def __init__(self, wrong: dict) -> None:
        self.wrong, self.calls = wrong, []

    def __call__(self, question: str) -> str | None:
        self.calls.append(question if type(question) is str else repr(question)[:200])
        if question in self.wrong:
            return self.wrong[question]
        match = self.QUESTION.fullmatch(question) if isinstance(question, str) else None
        if match is None or (match[2] == "\\times" and int(match[1]) < int(match[3])):
            return None
        left, right = int(match[1]), int(match[3])
        return str({"+": left + right, "-": left - right, "\\times": left * right}[match[2]])


class FakeModel:
    """A model that continues any solution prefix with ``rest``; it records the prefixes it was given."""

    def __init__(self, rest: str) -> None:
        self.rest, self.calls = rest, []

    def __call__(self, prefix: str) -> str:
        self.calls.append(prefix if type(prefix) is str else repr(prefix)[:200])
        return self.rest


def same_last_char(a: str, b: str) -> bool:
    """An equality unlike grade_answer's: answers that end in the same character."""
    return a[-1:] == b[-1:]


def sum_logprob(completion) -> float:
    """A completion's summed token log-probabilities (-inf without any)."""
    return sum(completion.logprobs or [float("-inf")])


def mean_logprob(completion) -> float:
    """A completion's average token log-probability (-inf without any)."""
    return sum_logprob(completion) / max(1, len(completion.token_ids))


def boxed_and_short(completion) -> float:
    """A verifier-free score: a boxed answer first, then finished and shorter is better."""
    if "\\boxed{" not in completion.text:
        return float("-inf")
    return (completion.finish_reason == "stop") - len(completion.token_ids) / 10_000


def build(value: object) -> object:
    """The object a plain argument stands for (a Stand becomes its stand-in; containers are built inside)."""
    if isinstance(value, Stand):
        if value.name == "completion":
            from rfs.generate import Completion

            return Completion(*[build(f) for f in value.fields])
        if value.name == "grade_answer":
            from rfs.verify import grade_answer

            return grade_answer
        simple = {"eq": operator.eq, "same_last_char": same_last_char, "sum_logprob": sum_logprob,
                  "mean_logprob": mean_logprob, "boxed_and_short": boxed_and_short}
        if value.name in simple:
            return simple[value.name]
        if value.name == "fake_check":
            return FakeCheck(build(value.fields[0]))
        if value.name == "fake_model":
            return FakeModel(value.fields[0])
        if value.name == "leaf":  # a tensor the call may differentiate through: its gradient goes back
            return build(value.fields[0]).detach().clone().requires_grad_()
        raise ValueError(f"unknown stand-in {value.name}")
    if type(value) is list:
        return [build(v) for v in value]
    if type(value) is tuple:
        return tuple(build(v) for v in value)
    if type(value) is dict:
        return {k: build(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor) and os.environ.get("RFS_DEVICE"):
        return value.to(os.environ["RFS_DEVICE"])  # the grader's device (``--device cuda``); results come back
    return value


def unbuild(value: object) -> object:
    """A returned value as plain data: a Completion becomes its Stand; anything unknown is left for ``dumps``."""
    from rfs.generate import Completion

    if type(value) is Completion:
        return Stand("completion", (value.text, value.token_ids, value.finish_reason, value.logprobs))
    if type(value) is list:
        return [unbuild(v) for v in value]
    if type(value) is tuple:
        return tuple(unbuild(v) for v in value)
    return value


# --- One call -------------------------------------------------------------------------------------------------

def gradients(value: object, leaves: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """The gradient of ``value`` (summed) with respect to each leaf, None where none flows (or ``value`` is not a
    tensor that carries a gradient)."""
    if not leaves or not (isinstance(value, torch.Tensor) and value.requires_grad):
        return [None] * len(leaves)
    return list(torch.autograd.grad(value.sum(), leaves, allow_unused=True))


def invoke(function, request: str) -> str:
    """Call ``function`` on the arguments of ``request`` (JSON from the grader); the outcome as JSON text."""
    args_plain, keep = loads(request)
    args = [build(a) for a in args_plain]
    leaves = [i for i, a in enumerate(args_plain) if isinstance(a, Stand) and a.name == "leaf"]
    try:
        value = function(*args)
        grads = dict(zip(map(str, leaves), gradients(value, [args[i] for i in leaves]), strict=True))
    except BaseException as error:  # KeyboardInterrupt too: an interrupted call answers like a failed one
        return dumps({"raised": type(error).__name__, "message": str(error)[:2000]})
    calls = {str(i): list(a.calls) for i, a in enumerate(args) if isinstance(a, (FakeCheck, FakeModel))}
    try:
        return dumps({"value": unbuild(value), "args": {str(i): unbuild(args[i]) for i in keep}, "calls": calls,
                      "grads": grads})
    except NotPlain as error:
        return dumps({"not_plain": str(error)})


def answer(namespace: dict, name: str, request_path: str, result_path: str) -> None:
    """Call ``namespace[name]`` on the request in ``request_path``; write the outcome to ``result_path``."""
    function = namespace.get(name)
    if not callable(function):
        result = dumps({"missing": name, "kind": type(function).__name__ if name in namespace else None})
    else:
        result = invoke(function, Path(request_path).read_text())
    if len(result) > MAX_RESULT_BYTES:
        result = dumps({"too_large": len(result)})
    Path(result_path).write_text(result)
