"""Checking math answers: extract the final answer, normalize it, decide equivalence (chapter 3).

Every later chapter trusts these verdicts (accuracy, majority votes, RL rewards), so the verifier is built to
be right, fast and unbreakable:

1. **Extract** the final answer: the last ``\\boxed{...}`` (or ``\\fbox{...}``), with braces matched.
2. **Normalize** LaTeX spelling that does not change the value (``\\dfrac`` -> ``\\frac``, ``\\left(``,
   ``\\text{cm}``, ``50\\%``, ``1{,}000``, unicode minus, spaces ...).
3. **Compare** in stages: equal strings; then structure (tuples keep order, solution lists do not, intervals
   keep their brackets, matrices their shape; ``x=5`` is ``5``, ``x>5`` is ``(5,\\infty)``, ``1\\pm\\sqrt{5}``
   is two solutions); then each value exactly, with sympy: ``0.5`` equals ``\\frac{1}{2}`` but ``0.333`` does
   not, and ``1.414`` does not equal ``\\sqrt{2}`` (decimals are read as exact rationals, and what sympy cannot
   settle exactly is compared to 45 significant digits, far beyond any decimal a person writes).

Model output is never evaluated as Python (``sympify`` would run ``eval``): a small parser of our own turns
the LaTeX/ASCII subset into sympy objects, and rejects anything outside it. Work is bounded before it starts
(length, nesting, exponent sizes), and the sympy stage runs in a helper process with a deadline, so a call
returns within ``TIME_LIMIT`` seconds, from any thread or process, and never raises.
"""

from __future__ import annotations

import json
import math
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy

TIME_LIMIT = 5.0  # seconds per grade_answer call
MAX_ANSWER_CHARS = 1000  # longer "answers" are rejected, not parsed
MAX_TOKENS, MAX_DEPTH, MAX_POWER_DIGITS = 300, 40, 2000

# --- 1. Extraction ----------------------------------------------------------------------------------------

_BOX = re.compile(r"\\(?:boxed|fbox)")


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}`` in ``text`` (nested braces matched), else None.

    ``\\boxed {7}`` (a space) and ``\\boxed 7`` (no braces: the next token) are read too. An unclosed box
    gives None.
    """
    if not isinstance(text, str):
        return None
    matches = list(_BOX.finditer(text[-100_000:]))
    if not matches:
        return None
    text = text[-100_000:]
    i = matches[-1].end()
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1:j].strip()
        return None
    token = re.match(r"[^\s$]+", text[i:])
    return token.group(0) if token else None


_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*:?\s*\$?([^\n$]+?)\$?\s*(?:\.\s*)?$", re.I | re.M)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")


def extract_answer(text: str) -> str | None:
    """The final answer of a model's output, or None.

    In order: the last boxed answer; else the last "the answer is X" / "Answer: X" line; else the last number
    in the text. The fallbacks let an unformatted but clear answer count; they never invent one.
    """
    if not isinstance(text, str):
        return None
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    text = text[-100_000:]
    stated = _ANSWER_IS.findall(text)
    if stated:
        return stated[-1].strip()
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


# --- 2. Normalization -------------------------------------------------------------------------------------

_REMOVE = ["\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\displaystyle", "\\$", "$",
           "^\\circ", "^{\\circ}", "°", "\\%", "%", "\\(", "\\)", "\\[", "\\]"]
_REPLACE = {"\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac", "\\varnothing": "\\emptyset",
            "−": "-", "–": "-", "×": "\\times", "·": "\\cdot", "π": "\\pi", "√": "\\sqrt", "∞": "\\infty",
            "≤": "\\leq", "≥": "\\geq", "\\le ": "\\leq ", "{,}": ",", "\\{": "{", "\\}": "}"}
_TEXT = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname|boldsymbol)\s*\{([^{}]*)\}")
# Trailing words after a value are units ("12 cm^2", "\\frac{270}7 degrees"), but not "12 pi" or a "\\pi".
_UNITS = re.compile(r"(?<=[\d})])\s*(?:(?<![\\a-zA-Z])(?!pi\b)[a-zA-Z]{2,}\.?\s*)+(?:\^\{?\d\}?)?$")
_CONJUNCTION = re.compile(r"\\(?:text|mbox|textrm)\s*\{\s*(?:and|or)\s*\}|\s+(?:and|or)\s+")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def normalize_answer(answer: str) -> str:
    """A canonical spelling of an answer, for comparing strings. Spaces are removed at the end.

    Examples: ``\\dfrac{1}{2}`` -> ``\\frac{1}{2}``; ``\\text{(B)}`` -> ``(B)``; ``10\\%`` -> ``10``;
    ``12 \\text{ cm}^2`` -> ``12``; ``1,000`` -> ``1000``; ``\\frac 59`` -> ``\\frac{5}{9}``;
    ``1 \\text{ or } 2`` -> ``1,2``; ``x \\in [1,2)`` -> ``[1,2)``; ``x = 5`` stays (see ``equivalent``).
    """
    s = str(answer).strip()
    for old, new in _REPLACE.items():
        s = s.replace(old, new)
    s = _CONJUNCTION.sub(",", s)  # "1 \text{ or } 2": a list of solutions
    for _ in range(3):  # nested \text{\textbf{...}}
        s = _TEXT.sub(r"\1", s)
    for token in _REMOVE:
        s = s.replace(token, "")
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)  # \frac12, \frac 59
    s = re.sub(r"\\sqrt\s*(\d+)", r"\\sqrt{\1}", s)  # \sqrt3
    s = re.sub(r"(?<=\w)_\{(\w+)\}", r"_\1", s)  # base subscripts: 1010_{2} -> 1010_2
    s = re.sub(r"^[a-zA-Z]\s*\\in\s*", "", s)  # x \in [1, 2)
    s = _UNITS.sub("", s.strip().rstrip(".").strip())  # "12 cm", "5 dollars", "30 degrees"
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(\d+)_10$", r"\1", s)  # base ten is the default base
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return s


# --- 3a. Structure ----------------------------------------------------------------------------------------

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


def equivalent(a: str, b: str) -> bool:
    """Whether two normalized answers are equal, by structure and then value (may use sympy; see grade_answer)."""
    if a == b:
        return True
    a, b = inequality_as_interval(_strip_variable(a)), inequality_as_interval(_strip_variable(b))
    sa, sb = answer_structure(a), answer_structure(b)
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


# --- 3b. Values: a small parser into sympy (no eval) ---------------------------------------------------------

class Reject(Exception):
    """The input is outside the supported subset, or too big to compute safely."""


_TOKEN = re.compile(r"\s*(\d+\.?\d*|\.\d+|\\[a-zA-Z]+|sqrt|pi|[a-zA-Z]|[-+*/^()\[\]{}!,|])")
_FUNCTIONS = {"\\sin": "sin", "\\cos": "cos", "\\tan": "tan", "\\ln": "log", "\\log": "log", "\\exp": "exp",
              "\\sqrt": "sqrt", "sqrt": "sqrt"}
_TIMES = {"*", "\\cdot", "\\times"}
_DIVIDE = {"/", "\\div"}


def tokenize(s: str) -> list[str]:
    """Split an answer into tokens of the supported subset; raise Reject on anything else."""
    tokens, i = [], 0
    s = s.strip()
    while i < len(s):
        m = _TOKEN.match(s, i)
        if not m:
            raise Reject(f"unsupported character {s[i]!r}")
        tokens.append(m.group(1))
        i = m.end()
        if len(tokens) > MAX_TOKENS:
            raise Reject("too long")
    return tokens


class Parser:
    """Recursive-descent parser: tokens -> sympy expression, with implicit multiplication (``2\\sqrt{3}``)."""

    def __init__(self, tokens: list[str]):
        import sympy

        self.sp, self.tokens, self.i, self.depth = sympy, tokens, 0, 0

    def peek(self) -> str | None:
        """The next token, or None at the end."""
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        """Consume the next token (which must be ``expected`` if given)."""
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Reject(f"expected {expected!r}, found {token!r}")
        self.i += 1
        return token

    def parse(self) -> sympy.Expr:
        """The whole token list as one expression."""
        value = self.expr()
        if self.peek() is not None:
            raise Reject(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> sympy.Expr:
        """A sum or difference of terms."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Reject("nested too deeply")
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        self.depth -= 1
        return value

    def term(self) -> sympy.Expr:
        """A product or quotient of factors, written or implicit."""
        value = self.unary()
        while True:
            token = self.peek()
            if token in _TIMES:
                self.take()
                value = value * self.unary()
            elif token in _DIVIDE:
                self.take()
                value = value / self.unary()
            elif token is not None and token not in ("+", "-", ")", "]", "}", ",", "|", "^", "!"):
                value = value * self.power()  # implicit product: 2x, 3\pi, 2\sqrt{3}
            else:
                return value

    def unary(self) -> sympy.Expr:
        """A signed power."""
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
        return self.power()

    def power(self) -> sympy.Expr:
        """``base ^ exponent`` (right-associative), size-checked."""
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.unary()
        return self.safe_power(base, exponent)

    def safe_power(self, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        """``base ** exponent``, rejected when the result would have too many digits."""
        if exponent.is_number and base.is_number:
            e = abs(complex(exponent.evalf(15)))
            b = abs(complex(base.evalf(15)))
            if e * math.log10(b + 2) > MAX_POWER_DIGITS:
                raise Reject("power too large")
        elif exponent.is_number and abs(complex(exponent.evalf(15))) > 100:
            raise Reject("power too large")
        return base ** exponent

    def postfix(self) -> sympy.Expr:
        """An atom followed by factorials."""
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if not (value.is_Integer and 0 <= value <= 300):
                raise Reject("factorial too large")
            value = self.sp.factorial(value)
        return value

    def group(self) -> sympy.Expr:
        """``{expr}`` or a single atom, as the argument of \\frac or \\sqrt."""
        if self.peek() == "{":
            self.take("{")
            value = self.expr()
            self.take("}")
            return value
        return self.atom()

    def atom(self) -> sympy.Expr:
        """A number, variable, constant, bracketed expression, \\frac, \\sqrt or function call."""
        sp, token = self.sp, self.take()
        if token[0].isdigit() or token[0] == ".":
            return sp.Rational(token)  # exact: "0.5" is 1/2, "0.333" is 333/1000
        if token in ("(", "[", "{"):
            value = self.expr()
            self.take({"(": ")", "[": "]", "{": "}"}[token])
            return value
        if token == "|":
            value = self.expr()
            self.take("|")
            return sp.Abs(value)
        if token in ("\\pi", "pi"):
            return sp.pi
        if token == "\\infty":
            return sp.oo
        if token == "\\frac":
            return self.group() / self.group()
        if token in ("\\sqrt", "sqrt") and self.peek() == "[":
            self.take("[")
            degree = self.expr()
            self.take("]")
            return self.safe_power(self.group(), 1 / degree)
        if token in _FUNCTIONS:
            argument = self.group() if self.peek() == "{" or token.startswith("\\") else self.atom()
            return getattr(sp, _FUNCTIONS[token])(argument)
        if len(token) == 1 and token.isalpha():
            return sp.I if token == "i" else sp.Symbol(token)
        raise Reject(f"unsupported token {token!r}")


def to_sympy(s: str) -> sympy.Expr:
    """Parse a normalized answer into a sympy expression (raises Reject outside the supported subset)."""
    if len(s) > MAX_ANSWER_CHARS:
        raise Reject("too long")
    s = re.sub(r"^(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$", r"\1(\2+\3/\4)", s)  # mixed number -4\frac{2}{3}
    return Parser(tokenize(s)).parse()


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
    points = [{}] if not x.free_symbols else [
        {s: sympy.Rational(random.Random(k).randint(-97, 97), 13) for s in x.free_symbols} for k in range(3)]
    for point in points:
        xv, yv = x.subs(point).evalf(60), y.subs(point).evalf(60)
        if not (xv.is_finite and yv.is_finite):  # infinities and undefined values must match exactly
            if xv != yv:
                return False
        elif abs(xv - yv) > sympy.Float("1e-45", 60) * max(1, abs(xv), abs(yv)):
            return False
    return True


_SIMPLE_NUMBER = re.compile(r"^-?(\d+|\d*\.\d+|\\frac\{\d+\}\{\d+\}|\d+/\d+)$")
_REPEATING = re.compile(r"^(\d*)\.(\d*)\\overline\{(\d{1,50})\}$")


def repeating_decimal(s: str) -> Fraction | None:
    """``0.1\\overline{6}`` -> 1/6: a decimal whose digits under the bar repeat forever, or None."""
    m = _REPEATING.match(s)
    if not m:
        return None
    whole, fixed, repeat = m.groups()
    # 0.1(6) = (16 - 1) / 90: all digits minus the non-repeating ones, over as many 9s as repeat, then 0s.
    numerator = int(fixed + repeat) - int(fixed or "0")
    return int(whole or "0") + Fraction(numerator, (10 ** len(repeat) - 1) * 10 ** len(fixed))


def simple_number(s: str) -> Fraction | None:
    """Integers, decimals (repeating ones too) and plain fractions as exact Fractions, without sympy (the
    fast, common case); None for anything else."""
    sign = -1 if s.startswith("-") else 1
    if (repeating := repeating_decimal(s.lstrip("-"))) is not None:
        return sign * repeating
    if not _SIMPLE_NUMBER.match(s):
        return None
    s = s.lstrip("-")
    if s.startswith("\\frac"):
        numerator, denominator = re.findall(r"\d+", s)
        s = f"{numerator}/{denominator}"
    try:
        return sign * Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


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


def grade_answer(prediction: str, reference: str, timeout: float = TIME_LIMIT) -> bool:
    """Whether ``prediction`` states the same answer as ``reference``. Never raises; returns in ``timeout`` s.

    ``prediction`` may be a model's whole output (its last boxed answer is used) or a bare answer; an output
    without a box is taken as a bare answer, so run ``extract_answer`` first to apply its fallbacks.
    ``reference`` is a bare answer (a boxed one is unwrapped too). Examples::

        grade_answer("so the answer is $\\\\boxed{\\\\dfrac{1}{2}}$", "0.5")  -> True
        grade_answer("0.333", "\\\\frac{1}{3}")                           -> False
    """
    return _grade_with(_judge, prediction, reference, timeout)


def _grade_with(judge: _Judge, prediction: str, reference: str, timeout: float = TIME_LIMIT) -> bool:
    try:
        pred = extract_boxed(prediction) if _BOX.search(str(prediction)) else prediction
        ref = extract_boxed(reference) if _BOX.search(str(reference)) else reference
        if not isinstance(pred, str) or not isinstance(ref, str):
            return False
        if len(pred) > MAX_ANSWER_CHARS or len(ref) > MAX_ANSWER_CHARS:
            return False
        a, b = normalize_answer(pred), normalize_answer(ref)
        if not a or not b:
            return False
        if a == b:
            return True
        if not _needs_sympy(a, b):
            return scalars_equal(a, b)
        return judge.ask(a, b, timeout)
    except Exception:  # the verifier's promise: a verdict, never a crash
        return False


def grade_many(pairs: list[tuple[str, str]], workers: int = 2) -> list[bool]:
    """Grade many (prediction, reference) pairs with ``workers`` helper processes in parallel; verdicts in order."""
    judges = [_judge] + [_Judge() for _ in range(workers - 1)]

    def grade_share(k: int) -> list[tuple[int, bool]]:
        judge = judges[k]
        return [(i, _grade_with(judge, *pairs[i])) for i in range(k, len(pairs), len(judges))]

    with ThreadPoolExecutor(max_workers=len(judges)) as pool:
        results = dict(item for share in pool.map(grade_share, range(len(judges))) for item in share)
    for judge in judges[1:]:
        judge.stop()
    return [results[i] for i in range(len(pairs))]
