"""Grading an answer: compare in stages, inside a helper process with a deadline (chapter 3, sections 3.1, 3.5).

Every later chapter trusts these verdicts (accuracy, majority votes, RL rewards), so the verifier is built to
be right, fast and unbreakable. ``grade_answer(prediction, reference)``:

1. extracts and normalizes both answers (:mod:`rfs.answers`: the last ``\\boxed{}``, ``\\dfrac`` ->
   ``\\frac``, units, thousands separators ...);
2. compares the strings; then their **structure** (tuples keep order, solution lists do not, intervals keep
   their brackets, matrices their shape; ``x=5`` is ``5``, ``x>5`` is ``(5,\\infty)``, ``1\\pm\\sqrt{5}`` is
   two solutions, ``(0,4)\\setminus\\{1\\}`` is ``(0,1)\\cup(1,4)``, a column vector is a tuple);
3. then each value exactly, with sympy through :mod:`rfs.latex_parser` (never ``eval``): ``0.5`` equals
   ``\\frac{1}{2}`` but ``0.333`` does not, and ``1.414`` does not equal ``\\sqrt{2}`` (what sympy cannot
   settle exactly is compared to 45 significant digits, far beyond any decimal a person writes).

The sympy stage runs in a helper process (the *judge*) with a deadline, so a call returns within
``TIME_LIMIT`` seconds, from any thread or process, and never raises: an input that makes sympy think for
minutes costs the judge its life, not the caller its time.

The names of :mod:`rfs.answers` and :mod:`rfs.latex_parser` are importable from here too.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from rfs.answers import (  # noqa: F401  (re-exported: rfs.verify is where callers find the verifier)
    answer_in,
    extract_answer,
    extract_boxed,
    normalize_answer,
    repair_braces,
    repair_escapes,
    stated_answer,
)
from rfs.latex_parser import (  # noqa: F401
    MAX_ANSWER_CHARS,
    MAX_DEPTH,
    MAX_POWER_DIGITS,
    MAX_TOKENS,
    Parser,
    Reject,
    repeating_decimal,
    simple_number,
    to_sympy,
    tokenize,
)

if TYPE_CHECKING:
    import sympy

TIME_LIMIT = 5.0  # seconds per grade_answer call

# --- 1. Structure ----------------------------------------------------------------------------------------

def split_top_level(s: str, sep: str) -> list[str]:
    """Split ``s`` at ``sep`` where it is not inside (), [], {}."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(s[start:])
    return parts


_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?$")
_MATRIX = re.compile(r"^\\begin\{[pbv]?matrix\}(.*)\\end\{[pbv]?matrix\}$")


def answer_structure(s: str) -> tuple:
    """Describe a normalized answer as ("choice", letter), ("matrix", rows), ("interval"/"tuple", brackets,
    items), ("union", parts), ("list", items) or ("scalar", s)."""
    if m := _CHOICE.match(s):
        return ("choice", m.group(1).upper())
    if m := _MATRIX.match(s):
        return ("matrix", [split_top_level(row, "&") for row in split_top_level(m.group(1), "\\\\") if row])
    if len(union := split_top_level(s, "\\cup")) > 1:
        return ("union", union)
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and len(split_top_level(s[1:-1], ",")) > 1 \
            and split_top_level(s, ",") == [s]:
        return ("tuple", s[0] + s[-1], split_top_level(s[1:-1], ","))
    if s.startswith("{") and s.endswith("}") and split_top_level(s, ",") == [s]:
        items = split_top_level(s[1:-1], ",")  # a set {1, 2}
    else:
        items = split_top_level(s, ",")
    items = [_strip_variable(value) for item in items for value in _expand_plus_minus(item)]
    return ("list", items) if len(items) > 1 else ("scalar", items[0])


def _expand_plus_minus(s: str) -> list[str]:
    """``1\\pm\\sqrt{5}`` -> ``[1+\\sqrt{5}, 1-\\sqrt{5}]``: the two solutions one \\pm stands for."""
    if s.count("\\pm") + s.count("\\mp") != 1:
        return [s]
    return [s.replace("\\pm", "+").replace("\\mp", "-"), s.replace("\\pm", "-").replace("\\mp", "+")]


def _strip_variable(s: str) -> str:
    """``x=5`` -> ``5``, ``f(x)=x+1`` -> ``x+1``: an answer stated as an equation for one variable or function."""
    m = re.match(r"^[a-zA-Z](?:_\w)?(?:\([a-z]\))?=(.+)$", s)
    return m.group(1) if m and "=" not in m.group(1) else s


_LESS = r"<|\\leq?(?![a-z])|\\leqslant"
_GREATER = r">|\\geq?(?![a-z])|\\geqslant"


def inequality_as_interval(s: str) -> str:
    """``x>5`` -> ``(5,\\infty)``, ``1\\leqx<3`` -> ``[1,3)``: a solution set stated as an inequality in one
    variable, written as the interval it describes. Anything else is returned unchanged."""
    ops = rf"({_LESS}|{_GREATER})"
    if m := re.fullmatch(rf"([^<>=]+?)({_LESS})[a-zA-Z]({_LESS})([^<>=]+)", s):
        low, op_low, op_high, high = m.groups()
        return f"{'(' if op_low == '<' else '['}{low},{high}{')' if op_high == '<' else ']'}"
    if m := re.fullmatch(rf"[a-zA-Z]{ops}([^<>=]+)", s):
        op, bound = m.groups()
        strict = op in "<>"
        if re.fullmatch(_LESS, op):
            return f"(-\\infty,{bound}{')' if strict else ']'}"
        return f"{'(' if strict else '['}{bound},\\infty)"
    return s


def _same_lists(a: list[str], b: list[str], ordered: bool, equal) -> bool:
    if len(a) != len(b):
        return False
    if ordered:
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    unmatched = list(b)
    for x in a:
        match = next((i for i, y in enumerate(unmatched) if equal(x, y)), None)
        if match is None:
            return False
        unmatched.pop(match)
    return True


_INTERVAL = re.compile(r"([(\[])([^,]+),([^,]+)([)\]])")
_REALS = {"\\mathbb{R}", "\\mathbbR", "\\R", "\\reals"}


def set_difference_as_union(s: str) -> str:
    """``(0,36)\\setminus{9}`` -> ``(0,9)\\cup(9,36)``: an interval (or the real line) without finitely many
    points, written as the union of intervals it is. A point at a closed end opens that bracket; a point
    outside changes nothing. Anything else, or points that are not real numbers, is returned unchanged."""
    parts = split_top_level(s, "\\setminus")
    if len(parts) != 2 or not (parts[1].startswith("{") and parts[1].endswith("}")):
        return s
    whole = "(-\\infty,\\infty)" if parts[0] in _REALS else parts[0]
    if not (m := _INTERVAL.fullmatch(whole)):
        return s
    left, low, high, right = m.groups()
    try:
        lo, hi = to_sympy(low), to_sympy(high)
        points = [(to_sympy(p), p) for p in split_top_level(parts[1][1:-1], ",")]
        if not all(value.is_real and value.is_finite for value, _ in points):
            return s
        pieces, start, previous = [], (left, low), None
        for value, text in sorted(points, key=lambda point: point[0]):
            if value == previous:  # the same point twice
                continue
            if value == lo:
                start = ("(", low)
            elif value == hi:
                right = ")"
            elif lo < value < hi:
                pieces.append(f"{start[0]}{start[1]},{text})")
                start = ("(", text)
            previous = value
    except (Reject, TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError):
        return s
    return "\\cup".join([*pieces, f"{start[0]}{start[1]},{high}{right}"])


def _as_vector(structure: tuple) -> tuple:
    """A column vector ``\\begin{pmatrix}1\\\\2\\end{pmatrix}`` as the tuple ``(1,2)`` it also writes."""
    if structure[0] == "matrix" and len(structure[1]) > 1 and all(len(row) == 1 for row in structure[1]):
        return ("tuple", "()", [row[0] for row in structure[1]])
    return structure


def equivalent(a: str, b: str) -> bool:
    """Whether two normalized answers are equal, by structure and then value (may use sympy; see grade_answer)."""
    if a == b:
        return True
    a, b = (set_difference_as_union(inequality_as_interval(_strip_variable(x))) for x in (a, b))
    sa, sb = answer_structure(a), answer_structure(b)
    if {sa[0], sb[0]} == {"matrix", "tuple"}:  # a column vector written as a tuple
        sa, sb = _as_vector(sa), _as_vector(sb)
    if sa[0] != sb[0]:  # different shapes: a tuple is not a list, an interval is not a number
        return False
    kind = sa[0]
    if kind == "choice":
        return sa[1] == sb[1]
    if kind == "matrix":
        return len(sa[1]) == len(sb[1]) and all(_same_lists(x, y, True, equivalent)
                                                for x, y in zip(sa[1], sb[1], strict=True))
    if kind == "tuple":
        return sa[1] == sb[1] and _same_lists(sa[2], sb[2], True, equivalent)
    if kind in ("list", "union"):
        return _same_lists(sa[1], sb[1], False, equivalent)
    return scalars_equal(sa[1], sb[1])



# --- 2. Values -----------------------------------------------------------------------------------------

def values_equal(x: sympy.Expr, y: sympy.Expr) -> bool:
    """Equality of two sympy expressions: numbers by value, formulas by agreeing at three random points.

    Values are compared to 45 significant digits (evaluated with 60), so that forms sympy does not simplify
    alike (``\\cos(\\pi/12)`` and ``\\frac{\\sqrt{6}+\\sqrt{2}}{4}``) agree while any decimal a person would
    write for an irrational number (``1.41421356237310`` for ``\\sqrt{2}``) does not. Decimals are exact
    rationals here, so ``0.5`` and ``\\frac{1}{2}`` are equal exactly.
    """
    import sympy

    if x == y:
        return True
    if x.free_symbols != y.free_symbols:
        return False
    difference = x - y
    if difference.is_Rational:  # sympy settled it exactly: 1 + 10^{-50} is not 1
        return difference == 0
    symbols = sorted(x.free_symbols, key=str)
    rngs = [random.Random(k) for k in range(3)]  # one generator per point: each symbol gets its own value
    points = [{s: sympy.Rational(rng.randint(-97, 97), 13) for s in symbols} for rng in rngs] if symbols else [{}]
    for point in points:
        xv, yv = x.subs(point).evalf(60), y.subs(point).evalf(60)
        if not (xv.is_finite and yv.is_finite):  # infinities and undefined values must match exactly
            if xv != yv:
                return False
        elif abs(xv - yv) > sympy.Float("1e-45", 60) * max(1, abs(xv), abs(yv)):
            return False
    return True



def scalars_equal(a: str, b: str) -> bool:
    """Equality of two single values, given as normalized strings."""
    fa, fb = simple_number(a), simple_number(b)
    if fa is not None and fb is not None:
        return fa == fb
    if a.lower() == b.lower() and re.fullmatch(r"[a-zA-Z ]+", a):  # words: "Evelyn", "yes"
        return True
    try:
        return values_equal(to_sympy(a), to_sympy(b))
    except (Reject, TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError):
        return False


# --- The entry point, with its deadline ---------------------------------------------------------------------

def serve_judge() -> None:
    """Helper process main loop: read JSON ``[a, b]`` lines on stdin, answer ``true``/``false`` lines on stdout."""
    import sympy  # noqa: F401  (loaded once, up front, rather than inside the first question's deadline)

    for line in sys.stdin:
        try:
            a, b = json.loads(line)
            result = bool(equivalent(a, b))
        except Exception:
            result = False
        print(json.dumps(result), flush=True)


class _Judge:
    """A helper process that runs the sympy stage, killed and replaced when it misses its deadline.

    It is a plain ``python -c`` subprocess talking JSON lines, so it works from any thread or process, in
    notebooks and scripts alike, on every OS. One question at a time: callers from other threads wait their
    turn, and the wait counts against their own deadline.
    """

    COMMAND = [sys.executable, "-c", "from rfs.verify import serve_judge; serve_judge()"]

    def __init__(self, command: list[str] | None = None):
        self.command = command or self.COMMAND
        self.forget_helper()

    def forget_helper(self) -> None:
        """No helper yet, and a fresh lock (a forked child must not touch its parent's helper or lock)."""
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.answers: queue.Queue = queue.Queue()

    def start(self) -> None:
        """Start a fresh helper process and the thread that reads its answers."""
        # The helper imports rfs from where this file is, even when rfs is not installed (a notebook's sys.path).
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, args=(self.process, self.answers), daemon=True).start()

    @staticmethod
    def _read(process: subprocess.Popen, answers: queue.Queue) -> None:
        for line in process.stdout:
            answers.put(line.strip() == "true")
        answers.put(None)  # the helper died: answer at once rather than at the deadline

    def stop(self) -> None:
        """End the helper process (a new one starts on the next question)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def ask(self, a: str, b: str, timeout: float) -> bool:
        """``equivalent(a, b)`` computed by the helper, or False if it takes longer than ``timeout`` s."""
        timeout = min(max(0.0, timeout), threading.TIMEOUT_MAX)  # -1 would wait forever, inf overflows
        deadline = time.monotonic() + timeout
        if os.getpid() != self.owner:  # a forked child: the helper and the lock belong to the parent
            self.forget_helper()
        if not self.lock.acquire(timeout=timeout):
            return False
        try:
            if self.process is None or self.process.poll() is not None:
                self.start()
            self.process.stdin.write(json.dumps([a, b]) + "\n")
            self.process.stdin.flush()
            try:
                return self.answers.get(timeout=max(0.0, deadline - time.monotonic())) is True
            except queue.Empty:  # a pathological input: give up on it and start afresh next time
                self.stop()
                return False
        finally:
            self.lock.release()


_judge = _Judge()


def _needs_sympy(a: str, b: str) -> bool:
    return not (simple_number(a) is not None and simple_number(b) is not None)


_BASE_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
               "eleven": 11, "twelve": 12, "sixteen": 16}
_BASE_ASKED = re.compile(r"\bbase[\s~$-]*\{?(\d+|" + "|".join(_BASE_WORDS) + r")\b", re.I)
_IN_BASE = re.compile(r"^([0-9A-Za-z]+)_(\d+)$")


def bases_asked(problem: str | None) -> set[int]:
    """The bases a problem mentions: "in base $8$", "base-8", "base eight" -> {8}."""
    if not problem:
        return set()
    return {int(b) if b.isdigit() else _BASE_WORDS[b.lower()] for b in _BASE_ASKED.findall(problem[:10_000])}


def drop_requested_base(prediction: str, reference: str, problem: str | None) -> tuple[str, str]:
    """Normalized (prediction, reference) with the base subscript dropped where the problem asks for that base.

    The rule: when the reference is digits in base b (``52_8``) and the problem text asks for base b ("Express
    your answer in base 8"), the subscript may be left out: ``52`` then means ``52_8``, and a ``_8`` on the
    prediction is dropped too. Without the problem text, or when it does not mention base b, the subscript is
    required (``52`` is fifty-two, not ``52_8``), and a prediction in another base (``52_7``) never matches.
    """
    m = _IN_BASE.match(reference)
    if not m or int(m.group(2)) not in bases_asked(problem):
        return prediction, reference
    digits, base = m.groups()
    return re.sub(rf"^([0-9A-Za-z]+)_{base}$", r"\1", prediction), digits


def grade_answer(prediction: str, reference: str, problem: str | None = None, timeout: float = TIME_LIMIT) -> bool:
    """Whether ``prediction`` states the same answer as ``reference``. Never raises; returns in ``timeout`` s.

    ``prediction`` may be a model's whole output (its last boxed answer is used, else its "the answer is X"
    sentence) or a bare answer; run ``extract_answer`` first to apply its last-number fallback too.
    ``reference`` is a bare answer (a boxed one is unwrapped too). ``problem``, the problem's text, is
    optional: it decides whether a base subscript may be left out (see ``drop_requested_base``). Examples::

        grade_answer("so the answer is $\\\\boxed{\\\\dfrac{1}{2}}$", "0.5")  -> True
        grade_answer("0.333", "\\\\frac{1}{3}")                           -> False
        grade_answer("52", "52_8", problem="... Express it in base 8.")  -> True
    """
    return _grade_with(_judge, prediction, reference, problem, timeout)


def _grade_with(judge: _Judge, prediction: str, reference: str, problem: str | None = None,
                timeout: float = TIME_LIMIT) -> bool:
    try:
        pred, ref = answer_in(str(prediction)), answer_in(str(reference))
        if not isinstance(pred, str) or not isinstance(ref, str):
            return False
        if len(pred) > MAX_ANSWER_CHARS or len(ref) > MAX_ANSWER_CHARS:
            return False
        a, b = drop_requested_base(normalize_answer(pred), normalize_answer(ref), problem)
        if not a or not b:
            return False
        if a == b:
            return True
        if not _needs_sympy(a, b):
            return scalars_equal(a, b)
        return judge.ask(a, b, timeout)
    except Exception:  # the verifier's promise: a verdict, never a crash
        return False


def grade_many(pairs: list[tuple[str, ...]], workers: int = 2) -> list[bool]:
    """Grade many (prediction, reference) or (prediction, reference, problem) tuples with ``workers`` helper
    processes in parallel; verdicts in order."""
    judges = [_judge] + [_Judge() for _ in range(workers - 1)]

    def grade_share(k: int) -> list[tuple[int, bool]]:
        judge = judges[k]
        return [(i, _grade_with(judge, *pairs[i])) for i in range(k, len(pairs), len(judges))]

    with ThreadPoolExecutor(max_workers=len(judges)) as pool:
        results = dict(item for share in pool.map(grade_share, range(len(judges))) for item in share)
    for judge in judges[1:]:
        judge.stop()
    return [results[i] for i in range(len(pairs))]


def start_judge(wait: float = 0.0) -> bool:
    """Start the judge's helper process (chapter 3, section 3.5) now, unless it runs, rather than at the first
    question that needs sympy; with ``wait``, also wait up to that many seconds until it answers. Whether it runs.

    The autograder does this in a learner's kernel before the learner's code runs, since no process may start
    after that, and waits there, so that no question spends its deadline on sympy's import.
    """
    with _judge.lock:
        if _judge.process is None or _judge.process.poll() is not None:
            _judge.start()
    return _judge.ask("1", "1", wait) if wait else _judge.process.poll() is None
