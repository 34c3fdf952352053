"""From an answer's LaTeX to its value: a small parser into sympy, never ``eval`` (chapter 3, section 3.4).

``0.5`` and ``\\frac{1}{2}`` differ as strings; as values they are equal. sympy can decide that, but its own
readers (``sympify``, ``parse_expr``) run Python's ``eval`` on their input, and a model's output is untrusted
text: ``__import__('os').system('rm -rf ~')`` is a perfectly good Python expression. So this module reads the
LaTeX/ASCII subset that answers use (numbers, letters, ``\\frac``, ``\\sqrt``, powers, ``\\pi``, a few
functions) with its own recursive-descent parser and builds sympy objects directly; anything else is a
``Reject``. Work is bounded before it starts (tokens, nesting, digits of a power), and decimals are exact
rationals (``0.333`` is 333/1000, not 1/3).

``simple_number`` reads the common plain numbers (``12``, ``0.5``, ``\\frac{3}{4}``, ``0.\\overline{3}``) as
exact fractions without sympy, the fast path of :mod:`rfs.verify`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy

MAX_ANSWER_CHARS = 1000  # longer "answers" are rejected, not parsed
MAX_TOKENS, MAX_DEPTH, MAX_POWER_DIGITS = 300, 40, 2000

# --- 1. Tokens and the parser -------------------------------------------------------------------------------


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


# --- 2. Plain numbers, without sympy -------------------------------------------------------------------------

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

