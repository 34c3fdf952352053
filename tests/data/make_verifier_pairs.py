"""Build tests/data/verifier_pairs.jsonl: labeled (prediction, reference) pairs from MATH-500 answers.

Each MATH-500 gold answer is rewritten by rules whose verdict is known by construction: equivalent rewrites
(label true) and near misses (label false), including known weak spots of other verifiers. A hand-written
list adds pairs in the style of real model outputs. Deterministic: run
`python tests/data/make_verifier_pairs.py [MATH500_JSON]` to rebuild the file.
"""

import json
import re
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT_MATH500 = HERE.parents[2] / "shared" / "data" / "math500_test.json"
INT = re.compile(r"^-?\d+$")
FRAC = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")
SQRT = re.compile(r"^\\sqrt\{(\d+)\}$")
TUPLE = re.compile(r"^\((-?\d+),\s*(-?\d+)\)$")
INTERVAL = re.compile(r"^\[(-?\d+),\s*(-?\d+)\]$")


def rewrites(gold: str, problem: str) -> list[tuple[str, bool, str] | tuple[str, bool, str, str]]:
    """(prediction, label, rule) triples for one gold answer; a fourth item is the problem text, given to the
    verifier where the verdict depends on it."""
    out = [(f"The answer is $\\boxed {{{gold}}}$.", True, "boxed with a space"),
           (f"First \\boxed{{{gold}}}0 was wrong; the answer is \\boxed{{{gold}}}.", True, "last of several boxes")]
    if INT.match(gold):
        n = int(gold)
        out += [(f"\\boxed{{{n + 1}}}", False, "off by one"), (f"\\boxed{{{n}.0}}", True, "trailing .0"),
                (f"\\boxed{{{n}}} at first, but then \\boxed{{{n + 7}}}", False, "last box is wrong"),
                (f"\\boxed{{x = {n}}}", True, "stated as an equation")]
        if abs(n) >= 1000:
            out.append((f"\\boxed{{{n:,}}}", True, "thousands separators"))
    elif m := FRAC.match(gold):
        sign, p, q = m.group(1), int(m.group(2)), int(m.group(3))
        value = Fraction(p, q) * (-1 if sign else 1)
        out += [(f"\\boxed{{{sign}\\dfrac{{{p}}}{{{q}}}}}", True, "dfrac"), (f"{sign}{p}/{q}", True, "ASCII fraction")]
        if p != q:
            out.append((f"\\boxed{{{sign}\\frac{{{q}}}{{{p}}}}}", False, "reciprocal"))
        decimal = float(value)
        if Fraction(str(decimal)) == value:
            out.append((f"\\boxed{{{decimal}}}", True, "exact decimal"))
        else:
            out.append((f"\\boxed{{{round(decimal, 3)}}}", False, "rounded decimal of a repeating fraction"))
    elif m := SQRT.match(gold):
        n = int(m.group(1))
        out += [(f"\\boxed{{{round(n ** 0.5, 3)}}}", False, "rounded decimal of an irrational"),
                (f"sqrt({n})", True, "ASCII sqrt")]
    elif m := TUPLE.match(gold):
        a, b = m.groups()
        if a != b:
            out.append((f"\\boxed{{({b}, {a})}}", False, "tuple reversed"))
        out.append((f"\\boxed{{\\left( {a}, {b} \\right)}}", True, "left/right"))
    elif m := INTERVAL.match(gold):
        a, b = m.groups()
        out += [(f"\\boxed{{[{a}, {b})}}", False, "bracket changed"),
                (f"\\boxed{{\\left[{a},{b}\\right]}}", True, "left/right")]
    if "\\pi" in gold:
        out.append((gold.replace("\\pi", "pi"), True, "ASCII pi"))
        if re.fullmatch(r"\d*\\pi", gold):
            k = int(gold[:-3] or 1)
            out.append((f"\\boxed{{{round(k * 3.14159, 2)}}}", False, "rounded multiple of pi"))
    if re.search(r"_\{?\d+\}?$", gold):
        digits = re.sub(r"_\{?\d+\}?$", "", gold)
        out.append((digits, False, "base subscript dropped"))
        # Every MATH-500 answer with a subscript asks for that base ("in base $8$", "base eight"; read by hand).
        out += [(f"\\boxed{{{digits}}}", True, "base subscript dropped, the problem asks for that base", problem),
                (f"\\boxed{{{digits}_{{7}}}}", False, "another base's subscript", problem)]
    if m := re.fullmatch(r"(.+?)\s*\\(?:text|mbox)\{\s*[a-z]+\}(?:\^2)?", gold):
        out.append((f"\\boxed{{{m.group(1)}}}", True, "units dropped"))
    if m := re.fullmatch(r"x \\in (.+)", gold):
        out.append((f"\\boxed{{{m.group(1)}}}", True, "x \\in dropped"))
    if gold.count("\\pm") == 1 and "," not in gold:
        plus, minus = gold.replace("\\pm", "+"), gold.replace("\\pm", "-")
        out += [(f"\\boxed{{{minus}, {plus}}}", True, "plus-minus written out"),
                (f"\\boxed{{{plus}}}", False, "one of the two plus-minus solutions")]
    return out


# Pairs in the style of real model outputs, each checked by hand: (prediction, reference, label, rule[, problem]).
HANDWRITTEN = [
    ("so the area is $\\boxed{12\\pi}$ square units.", "12\\pi", True, "hand: boxed in a sentence"),
    ("\\boxed{12 pi}", "12\\pi", True, "hand: ASCII pi"),
    ("\\boxed{37.7}", "12\\pi", False, "hand: rounded decimal of an irrational"),
    ("\\boxed{37.69911184307752}", "12\\pi", False, "hand: rounded decimal of an irrational"),
    ("\\boxed{1.7320508075688772}", "\\sqrt{3}", False, "hand: rounded decimal of an irrational"),
    ("\\boxed{0.7071}", "\\frac{\\sqrt{2}}{2}", False, "hand: rounded decimal of an irrational"),
    ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{\\sqrt{2}}{2}", True, "hand: radical forms"),
    ("\\boxed{\\sqrt{2}/2}", "\\frac{\\sqrt{2}}{2}", True, "hand: radical forms"),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{6}", False, "hand: radical near miss"),
    ("\\boxed{\\sqrt{12}}", "2\\sqrt{3}", True, "hand: radical forms"),
    ("\\boxed{0.333}", "\\frac{1}{3}", False, "hand: rounded decimal of a repeating fraction"),
    ("\\boxed{0.\\overline{3}}", "\\frac{1}{3}", True, "hand: repeating decimal"),
    ("\\boxed{0.1\\overline{6}}", "\\frac{1}{6}", True, "hand: repeating decimal"),
    ("\\boxed{0.5}", "\\frac{1}{2}", True, "hand: exact decimal"),
    ("\\boxed{2.25}", "\\frac94", True, "hand: exact decimal"),
    ("\\boxed{(2,1)}", "(1,2)", False, "hand: tuple order"),
    ("\\boxed{[1,2]}", "[1,2)", False, "hand: interval bracket"),
    ("\\boxed{(1,2]}", "[1,2)", False, "hand: interval bracket"),
    ("\\boxed{x > 2}", "(2,\\infty)", True, "hand: inequality as interval"),
    ("\\boxed{x \\geq 2}", "(2,\\infty)", False, "hand: inequality as interval"),
    ("\\boxed{x \\le 0}", "(-\\infty, 0]", True, "hand: inequality as interval"),
    ("\\boxed{(-\\infty,2)\\cup(3,\\infty)}", "(-\\infty, 2) \\cup (3, \\infty)", True, "hand: union"),
    ("\\boxed{(-\\infty,2]\\cup(3,\\infty)}", "(-\\infty, 2) \\cup (3, \\infty)", False, "hand: union"),
    ("\\boxed{3, 5}", "5, 3", True, "hand: unordered solutions"),
    ("\\boxed{x = 3 \\text{ or } x = 5}", "3, 5", True, "hand: solutions in words"),
    ("\\boxed{3}", "3, 5", False, "hand: a missing solution"),
    ("\\boxed{3, 5, 7}", "3, 5", False, "hand: an extra solution"),
    ("\\boxed{x=5}", "5", True, "hand: equation"),
    ("\\boxed{y = 2x + 3}", "2x+3", True, "hand: equation"),
    ("\\boxed{3+2i}", "2i+3", True, "hand: complex"),
    ("\\boxed{3-2i}", "3+2i", False, "hand: complex"),
    ("\\boxed{\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", True,
     "hand: matrix"),
    ("\\boxed{\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}}", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", True,
     "hand: matrix"),
    ("\\boxed{\\begin{pmatrix} -2 \\\\ 1 \\end{pmatrix}}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", False,
     "hand: matrix"),
    ("\\boxed{\\text{(B)}}", "B", True, "hand: multiple choice"),
    ("\\boxed{C}", "\\text{(B)}", False, "hand: multiple choice"),
    ("\\boxed{1010_2}", "1010_2", True, "hand: base subscript"),
    ("\\boxed{1010}", "1010_2", False, "hand: base subscript"),
    ("\\boxed{10}", "1010_2", False, "hand: base subscript"),
    ("\\boxed{30^\\circ}", "30", True, "hand: degrees"),
    ("\\boxed{30 \\text{ degrees}}", "30^\\circ", True, "hand: degrees"),
    ("\\boxed{\\frac{\\pi}{6}}", "30^\\circ", False, "hand: radians are not degrees"),
    ("\\boxed{\\$1{,}250}", "1250", True, "hand: dollars and thousands"),
    ("\\boxed{1,250.50}", "1250.5", True, "hand: thousands"),
    ("\\boxed{25\\%}", "25", True, "hand: percent"),
    ("\\boxed{−7}", "-7", True, "hand: unicode minus"),
    ("\\boxed{7}", "-7", False, "hand: sign"),
    ("\\boxed{\\dfrac{3}{4}}", "0.75", True, "hand: dfrac"),
    ("\\boxed{3/4}", "\\frac34", True, "hand: ASCII fraction"),
    ("\\boxed{sqrt(3)/2}", "\\frac{\\sqrt{3}}{2}", True, "hand: ASCII sqrt"),
    ("\\boxed{pi/3}", "\\frac{\\pi}{3}", True, "hand: ASCII pi"),
    ("\\boxed{2pi}", "2\\pi", True, "hand: ASCII pi"),
    ("\\boxed{6.28}", "2\\pi", False, "hand: rounded multiple of pi"),
    ("\\boxed {7}", "7", True, "hand: boxed with a space"),
    ("\\boxed 7.", "7", True, "hand: boxed without braces"),
    ("I first got \\boxed{5} but the answer is \\boxed{7}.", "7", True, "hand: last of several boxes"),
    ("I first got \\boxed{7} but the answer is \\boxed{5}.", "7", False, "hand: last of several boxes"),
    ("\\boxed{5}, \\boxed{7}", "5, 7", False, "hand: last of several boxes"),
    ("\\fbox{42}", "42", True, "hand: fbox"),
    ("\\boxed{\\frac{270}{7}}", "\\frac{270}7\\text{ degrees}", True, "hand: units dropped"),
    ("\\boxed{4\\sqrt{2} \\text{ cm}}", "4\\sqrt{2}", True, "hand: units kept"),
    ("\\boxed{137\\frac{1}{2}}", "137.5", True, "hand: mixed number"),
    ("\\boxed{-4\\frac{2}{3}}", "-\\frac{14}{3}", True, "hand: mixed number"),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", True, "hand: polynomial"),
    ("\\boxed{x^2+1}", "(x+1)^2", False, "hand: polynomial"),
    ("\\boxed{\\frac{\\sqrt{6}+\\sqrt{2}}{4}}", "\\cos\\left(\\frac{\\pi}{12}\\right)", True,
     "hand: trigonometric value"),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", True, "hand: a name"),
    ("\\boxed{Evelyn}", "\\text{Navin}", False, "hand: a name"),
    ("\\boxed{\\varnothing}", "\\emptyset", True, "hand: empty set"),
    ("\\boxed{\\{1, 2\\}}", "1,2", True, "hand: set braces"),
    ("\\boxed{10^{10^{10}}}", "1", False, "hand: pathological"),
    # Forms found in real model outputs (issue 12), each with near misses that must stay rejected.
    ("\\boxed{\\beginpmatrix 1 \\\\ -2 \\endpmatrix}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", True,
     "hand: lost braces"),
    ("\\boxed{\\beginpmatrix -2 \\\\ 1 \\endpmatrix}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", False,
     "hand: lost braces"),
    ("\\boxed{12\\mboxcm}", "12", True, "hand: lost braces"),
    ("\\boxed{13\\mboxcm}", "12", False, "hand: lost braces"),
    ("\\boxed{\\fracab}", "\\frac{a}{b}", True, "hand: lost braces"),
    ("\\boxed{\\fracba}", "\\frac{a}{b}", False, "hand: lost braces"),
    ("$\\boxed{\frac{3}{4}}$", "0.75", True, "hand: lost escape"),
    ("$\boxed{\frac{3}{4}}$", "0.75", True, "hand: lost escape"),
    ("$\boxed{\frac{3}{5}}$", "0.75", False, "hand: lost escape"),
    ("\\boxed{2\\*\\sqrt{19}}", "2\\sqrt{19}", True, "hand: asterisk"),
    ("\\boxed{2*sqrt(19)}", "\\sqrt{76}", True, "hand: asterisk"),
    ("\\boxed{2*sqrt(17)}", "2\\sqrt{19}", False, "hand: asterisk"),
    ("\\boxed{*sqrt(19)}", "\\sqrt{19}", False, "hand: asterisk"),
    ("\\boxed{(0,36) \\setminus \\{9\\}}", "(0,9) \\cup (9,36)", True, "hand: set difference"),
    ("\\boxed{\\mathbb{R} \\setminus \\{-1, 1\\}}", "(-\\infty,-1)\\cup(-1,1)\\cup(1,\\infty)", True,
     "hand: set difference"),
    ("\\boxed{(0,36) \\setminus \\{9\\}}", "(0,36)", False, "hand: set difference"),
    ("\\boxed{(0,36) \\setminus \\{8\\}}", "(0,9) \\cup (9,36)", False, "hand: set difference"),
    ("\\boxed{[0,36] \\setminus \\{9\\}}", "(0,9) \\cup (9,36)", False, "hand: set difference"),
    ("\\boxed{(0,9) \\cup (9,36]}", "(0,9) \\cup (9,36)", False, "hand: set difference"),
    ("\\boxed{6.02e23}", "6.02 \\times 10^{23}", True, "hand: scientific notation"),
    ("\\boxed{1.5E-3}", "0.0015", True, "hand: scientific notation"),
    ("\\boxed{6.02e22}", "6.02 \\times 10^{23}", False, "hand: scientific notation"),
    ("\\boxed{6.02e23}", "6.02e22", False, "hand: scientific notation"),
    ("\\boxed{(1, -2)}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", True, "hand: column vector as a tuple"),
    ("\\boxed{\\begin{pmatrix} 3 \\\\ 0 \\\\ \\frac12 \\end{pmatrix}}", "(3, 0, 0.5)", True,
     "hand: column vector as a tuple"),
    ("\\boxed{(-2, 1)}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", False, "hand: column vector as a tuple"),
    ("\\boxed{[1, -2]}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", False, "hand: column vector as a tuple"),
    ("\\boxed{(1, -2, 0)}", "\\begin{pmatrix}1\\\\-2\\end{pmatrix}", False, "hand: column vector as a tuple"),
    ("\\boxed{\\text{an ellipse}}", "\\text{ellipse}", True, "hand: article"),
    ("\\boxed{\\text{a line}}", "\\text{parabola}", False, "hand: article"),
    ("\\boxed{\\text{a circle}}", "\\text{an ellipse}", False, "hand: article"),
    ("\\boxed{\\text{the hyperbola}}", "\\text{hyperbola}", True, "hand: article"),
    ("I computed it twice.\nThe answer is 4.", "4", True, "hand: unboxed final sentence"),
    ("**Final answer:** $\\frac{1}{2}$. Done after 3 steps.", "0.5", True, "hand: unboxed final sentence"),
    ("The answer is 5. It was 4 at first.", "4", False, "hand: unboxed final sentence"),
    ("\\boxed{52}", "52_8", True, "hand: base subscript, the problem asks for that base",
     "Convert $42_{10}$ to base 8."),
    ("\\boxed{52}", "52_8", False, "hand: base subscript, no problem text"),
    ("\\boxed{52}", "52_8", False, "hand: base subscript, the problem asks for another base",
     "Convert $42_{10}$ to base 9."),
    ("\\boxed{52_7}", "52_8", False, "hand: base subscript, the problem asks for that base", "Answer in base 8."),
    ("\\boxed{a-b}", "b-a", False, "hand: formulas in two variables"),
    ("\\boxed{\\frac{x}{y}}", "\\frac{y}{x}", False, "hand: formulas in two variables"),
    ("\\boxed{__import__('os').system('true')}", "0", False, "hand: code is not an answer"),
]


def row(prediction: str, reference: str, label: bool, rule: str, source: str, problem: str | None = None) -> dict:
    """One line of the file; ``problem`` only where the verdict depends on the problem's text."""
    out = {"prediction": prediction, "reference": reference, "label": label, "rule": rule, "id": source}
    return out | ({"problem": problem} if problem else {})


def main(path: Path = DEFAULT_MATH500) -> None:
    problems = json.loads(Path(path).read_text())
    rows = [row(pred, p["answer"], label, rule, p["unique_id"], *problem)
            for p in problems for pred, label, rule, *problem in rewrites(p["answer"], p["problem"])]
    rows += [row(pred, ref, label, rule, f"hand/{i}", *problem)
             for i, (pred, ref, label, rule, *problem) in enumerate(HANDWRITTEN)]
    (HERE / "verifier_pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} pairs ({sum(r['label'] for r in rows)} equivalent)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MATH500)
