"""Final answers: extract them from a model's output and normalize their spelling (chapter 3, sections 3.2-3.3).

The first two steps of grading, both plain string work (no sympy):

1. **Extract** the final answer: the last ``\\boxed{...}`` (or ``\\fbox{...}``), with braces matched; for an
   output without a box, the last "the answer is X" sentence, else the last number.
2. **Normalize** LaTeX spelling that does not change the value (``\\dfrac`` -> ``\\frac``, ``\\left(``,
   ``\\text{cm}``, ``50\\%``, ``1{,}000``, unicode minus, spaces ...), and repair LaTeX damaged in transit
   (``\\beginpmatrix``, a ``\\f`` read as a form feed).

:mod:`rfs.verify` then compares the normalized strings, their structure and their values.
"""

from __future__ import annotations

import re

MAX_TEXT_CHARS = 100_000  # only the end of a longer output is searched for its answer

# --- 1. Extraction ----------------------------------------------------------------------------------------

_BOX = re.compile(r"\\(?:boxed|fbox)")


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}`` in ``text`` (nested braces matched), else None.

    ``\\boxed {7}`` (a space) and ``\\boxed 7`` (no braces: the next token) are read too. An unclosed box
    gives None.
    """
    if not isinstance(text, str):
        return None
    text = repair_escapes(text[-MAX_TEXT_CHARS:])
    matches = list(_BOX.finditer(text))
    if not matches:
        return None
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


# "the answer is X", "Final answer: X", "**Answer:** X"; X is read by stated_answer.
_ANSWER_IS = re.compile(r"(?:final answer|answer)\W{0,3}?\s*(?:is\b|:|=)[\s:*]*", re.I)
_MATH = re.compile(r"\$+([^$]+)\$+|\\\((.+?)\\\)")
_SENTENCE = re.compile(r"(.+?)(?:\.\s|\.?\s*\n|\.?\s*$)")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")


def stated_answer(text: str) -> str | None:
    """X in the last "the answer is X" of ``text``, or None.

    X is the math right after it (``$...$`` or ``\\(...\\)``), else the rest of that sentence: "The answer is
    4. Let me check..." gives ``4``, and markdown bold (``**4**``) is dropped.
    """
    if not isinstance(text, str):
        return None
    matches = list(_ANSWER_IS.finditer(text[-MAX_TEXT_CHARS:]))
    if not matches:
        return None
    rest = text[-MAX_TEXT_CHARS:][matches[-1].end():][:1000].replace("**", "")
    if m := _MATH.match(rest):
        return (m.group(1) or m.group(2)).strip()
    m = _SENTENCE.match(rest)
    answer = m.group(1).strip() if m else ""
    return answer or None


def extract_answer(text: str) -> str | None:
    """The final answer of a model's output, or None.

    In order: the last boxed answer; else the last "the answer is X" / "Answer: X" sentence; else the last
    number in the text. The fallbacks let an unformatted but clear answer count; they never invent one.
    """
    if not isinstance(text, str):
        return None
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    stated = stated_answer(text)
    if stated is not None:
        return stated
    numbers = _NUMBER.findall(text[-MAX_TEXT_CHARS:])
    return numbers[-1] if numbers else None


def answer_in(text: str) -> str | None:
    """The answer ``text`` states, for grading: its last box if it has one (None if that box is unclosed),
    else X of "the answer is X", else the whole text, taken as a bare answer (``"0.5"``).

    Unlike ``extract_answer`` it never falls back to the last number: a bare answer ``x+1`` stays ``x+1``.
    """
    if _BOX.search(repair_escapes(text)):
        return extract_boxed(text)
    return stated_answer(text) or text


# --- 2. Repairs: LaTeX damaged in transit -------------------------------------------------------------------

# Written into JSON or a Python string without escaping, "\frac" arrives as a form feed and "rac", "\boxed"
# as a backspace and "oxed". Only these commands are restored, and only when followed by a non-letter.
# (No \nu, \neq or \tan: a newline before "u" or "eq", a tab before "an" are ordinary text.)
_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\r": "r", "\t": "t", "\v": "v"}
_COMMANDS = ["approx", "alpha", "beta", "begin", "boxed", "frac", "right", "text", "textbf", "tfrac", "times",
             "theta", "varnothing", "vec"]
_LOST_ESCAPE = re.compile("|".join(f"{re.escape(code)}{name[1:]}(?![a-zA-Z])" for name in _COMMANDS
                                   for code, letter in _ESCAPES.items() if name[0] == letter))
# Braces lost around an argument: \beginpmatrix, \mboxcm, \textcm, \fracab (only two single letters).
_LOST_BRACES = [
    (re.compile(r"\\(begin|end)([pbv]?matrix)"), r"\\\1{\2}"),
    (re.compile(r"\\(text|mbox)(?!bf|rm|it|tt|sf|up|normal|style|color)([a-zA-Z]+)"), r"\\\1{\2}"),
    (re.compile(r"\\frac(?!pi)([a-zA-Z])([a-zA-Z])(?![a-zA-Z\d])"), r"\\frac{\1}{\2}"),
]


def repair_escapes(text: str) -> str:
    """LaTeX commands whose backslash became a control character put back: ``"\\x0crac"`` -> ``\\frac``."""
    if not any(code in text for code in _ESCAPES):  # the common case: nothing to repair
        return text
    return _LOST_ESCAPE.sub(lambda m: "\\" + _ESCAPES[m.group(0)[0]] + m.group(0)[1:], text)


def repair_braces(s: str) -> str:
    """Braces put back where a command lost them: ``\\beginpmatrix`` -> ``\\begin{pmatrix}``, ``\\mboxcm``
    -> ``\\mbox{cm}``, ``\\fracab`` -> ``\\frac{a}{b}``. Conservative: ``\\frac123`` could be 12/3 or 1/23,
    so digits keep TeX's own reading (``\\frac12`` is 1/2); ``\\fracpi2`` is left alone."""
    for pattern, replacement in _LOST_BRACES:
        s = pattern.sub(replacement, s)
    return s


# --- 3. Normalization -------------------------------------------------------------------------------------

_REMOVE = ["\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\displaystyle", "\\$", "$",
           "^\\circ", "^{\\circ}", "°", "\\%", "%", "\\(", "\\)", "\\[", "\\]"]
_REPLACE = {"\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac", "\\varnothing": "\\emptyset",
            "−": "-", "–": "-", "×": "\\times", "·": "\\cdot", "π": "\\pi", "√": "\\sqrt", "∞": "\\infty",
            "≤": "\\leq", "≥": "\\geq", "\\le ": "\\leq ", "{,}": ",", "\\{": "{", "\\}": "}", "\\*": "*",
            "\\ast": "*", "\\backslash": "\\setminus"}
_TEXT = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname|boldsymbol)\s*\{([^{}]*)\}")
# Trailing words after a value are units ("12 cm^2", "\\frac{270}7 degrees"), but not "12 pi" or a "\\pi".
_UNITS = re.compile(r"(?<=[\d})])\s*(?:(?<![\\a-zA-Z])(?!pi\b)[a-zA-Z]{2,}\.?\s*)+(?:\^\{?\d\}?)?$")
# (?<!\s): try a run of spaces from its start only, else a long run takes quadratic time.
_CONJUNCTION = re.compile(r"\\(?:text|mbox|textrm)\s*\{\s*(?:and|or)\s*\}|(?<!\s)\s+(?:and|or)\s+")
_ARTICLE = re.compile(r"^(?:an?|the)\s+(?=[a-zA-Z]{2,}[a-zA-Z ]*$)", re.I)  # "an ellipse": words only
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SCIENTIFIC = re.compile(r"^(-?\d+(?:\.\d+)?)[eE]([+-]?\d{1,4})$")


def normalize_answer(answer: str) -> str:
    """A canonical spelling of an answer, for comparing strings. Spaces are removed at the end.

    Examples: ``\\dfrac{1}{2}`` -> ``\\frac{1}{2}``; ``\\text{(B)}`` -> ``(B)``; ``10\\%`` -> ``10``;
    ``12 \\text{ cm}^2`` -> ``12``; ``1,000`` -> ``1000``; ``\\frac 59`` -> ``\\frac{5}{9}``;
    ``1 \\text{ or } 2`` -> ``1,2``; ``x \\in [1,2)`` -> ``[1,2)``; ``\\text{an ellipse}`` -> ``ellipse``;
    ``6.02e23`` -> ``6.02\\times10^{23}``; ``x = 5`` stays (see ``rfs.verify.equivalent``).
    """
    s = repair_braces(repair_escapes(str(answer)).strip())  # repair first: strip() eats a "\\f" turned \x0c
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
    s = _ARTICLE.sub("", s.strip().rstrip(".").strip())  # "an ellipse" -> "ellipse"
    s = _UNITS.sub("", s)  # "12 cm", "5 dollars", "30 degrees"
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(\d+)_10$", r"\1", s)  # base ten is the default base
    s = _SCIENTIFIC.sub(r"\1\\times10^{\2}", s)  # 6.02e23, the whole answer only ("2e" may be 2 times e)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return s
