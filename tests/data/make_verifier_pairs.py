"""Build tests/data/verifier_pairs.jsonl: labeled (prediction, reference) pairs from MATH-500 answers.

Each MATH-500 gold answer is rewritten by rules whose verdict is known by construction: equivalent rewrites
(label true) and near misses (label false), including known weak spots of other verifiers. Deterministic:
run `python tests/data/make_verifier_pairs.py [MATH500_JSON]` to rebuild the file.
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


def rewrites(gold: str) -> list[tuple[str, bool, str]]:
    """(prediction, label, rule) triples for one gold answer."""
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
        out.append((re.sub(r"_\{?\d+\}?$", "", gold), False, "base subscript dropped"))
    return out


def main(path: Path = DEFAULT_MATH500) -> None:
    problems = json.loads(Path(path).read_text())
    rows = [{"prediction": pred, "reference": p["answer"], "label": label, "rule": rule, "id": p["unique_id"]}
            for p in problems for pred, label, rule in rewrites(p["answer"])]
    (HERE / "verifier_pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} pairs ({sum(r['label'] for r in rows)} equivalent)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MATH500)
