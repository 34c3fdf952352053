"""Pocket-math: a seeded generator of math problems with worked solutions, for the pocket models.

Every record has the MATH layout ``{problem, solution, answer, level, type, unique_id}``. Seven problem types
(``FAMILIES``) come in difficulty levels 1-5. Worked solutions are written step by step and take one of
several valid routes at random (splitting a number by place value, or not; one order of steps or another), and
a small fraction carry a random slip, as real reasoning text does. Both matter for chapter 4: a model trained
on such text makes mistakes that differ from sample to sample, which is what lets majority voting help.

The test split is 500 fixed problems; training problems are drawn from another seed and any problem whose
text is in the test split is skipped, so no test problem is ever trained on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

SLIP_RATE = 0.04  # fraction of worked solutions with one arithmetic slip that carries through to the answer
# How often a step that could be worked out in small pieces (columns of digits, place values, one sign rule or
# one prime at a time) is done in one go instead. One-go steps are harder for a small model, so its mistakes
# there vary from sample to sample, while the small pieces are reliable: the base model's text prefers the
# quick route (as hurried human text does); careful text works in pieces.
DIRECT_RATE = {"quick": 0.6, "careful": 0.1}
TEST_SEED, TRAIN_SEED = 1234, 42
TEST_SIZE = 500


@dataclass
class Work:
    """A worked solution under construction: its lines, and whether a slip may still be made."""

    rng: random.Random
    may_slip: bool
    direct_rate: float = DIRECT_RATE["quick"]
    lines: list[str] = field(default_factory=list)

    def direct(self) -> bool:
        """Whether this step takes the quick route (one go) rather than the careful one (split)."""
        return self.rng.random() < self.direct_rate

    def result(self, value: int) -> int:
        """The value written for a step: the true one, or (once per solution) a slightly wrong one."""
        if self.may_slip and self.rng.random() < 0.35:
            self.may_slip = False
            slip = self.rng.choice([-10, -2, -1, 1, 2, 10])
            return value + (abs(slip) if value >= 0 > value + slip else slip)  # a slip keeps the sign
        return value

    def say(self, line: str) -> None:
        """Add a line to the solution."""
        self.lines.append(line)


# --- Arithmetic with steps ------------------------------------------------------------------------------

def place_parts(n: int) -> list[int]:
    """Split a non-negative number by place value: 4821 -> [4000, 800, 20, 1] (zeros left out)."""
    digits = str(n)
    parts = [int(d) * 10 ** (len(digits) - i - 1) for i, d in enumerate(digits)]
    return [p for p in parts if p] or [0]


PLACES = ["Ones", "Tens", "Hundreds", "Thousands", "Ten thousands", "Hundred thousands"]


def digits_from_right(n: int, width: int) -> list[int]:
    """The digits of a non-negative ``n``, ones first, padded with zeros to ``width``: 483 -> [3, 8, 4]."""
    return [n // 10 ** i % 10 for i in range(width)]


def column_add(work: Work, a: int, b: int) -> int:
    """The careful route of ``a + b`` (both non-negative): column by column from the ones, with carries.

    Each line adds single digits, which a small model gets right far more often than a whole sum in one go.
    """
    width = len(str(max(a, b)))
    work.say(f"Add {a} + {b} column by column.")
    carry, total = 0, 0
    for i, (x, y) in enumerate(zip(digits_from_right(a, width), digits_from_right(b, width), strict=True)):
        column = x + y + carry
        work.say(f"{PLACES[i]}: {x} + {y}{' + 1' if carry else ''} = {column}"
                 + (", carry 1." if column >= 10 else "."))
        total += column % 10 * 10 ** i
        carry = column // 10
    total += carry * 10 ** width
    s = work.result(total)
    work.say(f"So {a} + {b} = {s}.")
    return s


def column_sub(work: Work, a: int, b: int) -> int:
    """The careful route of ``a - b`` for ``a >= b >= 0``: column by column from the ones, with borrows."""
    width = len(str(a))
    work.say(f"Subtract {a} - {b} column by column.")
    borrow, total = 0, 0
    for i, (x, y) in enumerate(zip(digits_from_right(a, width), digits_from_right(b, width), strict=True)):
        top = f"{x} - 1" if borrow else f"{x}"
        if x - borrow < y:
            work.say(f"{PLACES[i]}: {top} - {y} needs a borrow: 1{top} - {y} = {x - borrow + 10 - y}.")
            total, borrow = total + (x - borrow + 10 - y) * 10 ** i, 1
        else:
            work.say(f"{PLACES[i]}: {top} - {y} = {x - borrow - y}.")
            total, borrow = total + (x - borrow - y) * 10 ** i, 0
    s = work.result(total)
    work.say(f"So {a} - {b} = {s}.")
    return s


def add_steps(work: Work, a: int, b: int) -> int:
    """Write the steps of ``a + b`` for ``a >= 0`` (b may be negative); return the value reached."""
    if b < 0:
        return sub_steps(work, a, -b)
    if len(place_parts(b)) == 1 or work.direct():  # in one step: the quick route, or nothing to carry over
        s = work.result(a + b)
        work.say(f"{a} + {b} = {s}.")
        return s
    return column_add(work, a, b)


def sub_steps(work: Work, a: int, b: int) -> int:
    """Write the steps of ``a - b`` for ``a >= 0`` (b may be negative); return the value reached."""
    if b < 0:
        return add_steps(work, a, -b)
    if len(place_parts(b)) == 1 or a < b or work.direct():
        s = work.result(a - b)
        work.say(f"{a} - {b} = {s}.")
        return s
    return column_sub(work, a, b)


def mul_steps(work: Work, a: int, b: int) -> int:
    """Write the steps of ``a * b`` for non-negative a, b; return the value reached."""
    if a < b or (b >= 10 and work.rng.random() < 0.5):  # split the larger or, sometimes, the other factor
        a, b = b, a
    if len(place_parts(a)) == 1 or work.direct():  # 7 x 8, 40 x 3 ...: one step; or the quick route
        s = work.result(a * b)
        work.say(f"{a} \\times {b} = {s}.")
        return s
    parts = place_parts(a)
    work.say(f"Split {a} into {' + '.join(map(str, parts))}.")
    products = []
    for p in parts:
        s = work.result(p * b)
        work.say(f"{p} \\times {b} = {s}.")
        products.append(s)
    total = products[0]
    for p in products[1:]:
        s = work.result(total + p)
        work.say(f"{total} + {p} = {s}.")
        total = s
    return total


def signed_steps(work: Work, a: int, b: int) -> int:
    """Write the steps of ``a + b`` for any signs (``b`` negative subtracts); return the value reached.

    The quick route writes the signed result at once, which a small model gets wrong in varied ways (a borrow
    across zero, a lost sign). The careful route uses the sign rules to turn it into a problem about whole
    numbers, which ``add_steps`` and ``sub_steps`` do well: ``11 - 129`` is ``-(129 - 11)``.
    """
    true = a + b
    op = "+" if b >= 0 else "-"
    if a >= 0 and true >= 0:  # whole numbers throughout
        return add_steps(work, a, b)
    if work.direct():
        s = work.result(true)
        work.say(f"{a} {op} {abs(b)} = {s}.")
        return s
    if a >= 0:  # a - |b| with |b| > a
        work.say(f"{a} - {-b} is negative: it is -({-b} - {a}).")
        s = -sub_steps(work, -b, a)
    elif b < 0:  # -|a| - |b|
        work.say(f"{a} - {-b} is negative: it is -({-a} + {-b}).")
        s = -add_steps(work, -a, -b)
    elif true < 0:  # -|a| + b with b < |a|
        work.say(f"{a} + {b} is negative: it is -({-a} - {b}).")
        s = -sub_steps(work, -a, b)
    else:  # -|a| + b with b >= |a|
        work.say(f"{a} + {b} is {b} - {-a}.")
        s = sub_steps(work, b, -a)
    work.say(f"So {a} {op} {abs(b)} = {s}.")
    return s


def signed(n: int) -> str:
    """A number as written inside an expression: negative numbers in parentheses."""
    return f"({n})" if n < 0 else str(n)


# --- Problem families ------------------------------------------------------------------------------------
# Each takes (rng, level, work) and returns (problem text, true answer, value the worked solution reached);
# answers are ints or (numerator, denominator) pairs.

Answer = int | tuple[int, int]

def family_add_sub(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Add and subtract multi-digit whole numbers."""
    digits = [(2, 1), (2, 2), (3, 2), (3, 3), (4, 3)][level - 1]
    a = rng.randint(10 ** (digits[0] - 1), 10 ** digits[0] - 1)
    b = rng.randint(10 ** (digits[1] - 1), 10 ** digits[1] - 1)
    terms = [a, b] + ([rng.randint(10, 99)] if level >= 4 else [])
    ops = [rng.choice("+-") for _ in terms[1:]]
    problem = "What is " + str(terms[0]) + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:], strict=True)) + "?"
    value = terms[0]
    for op, t in zip(ops, terms[1:], strict=True):
        value = signed_steps(work, value, t if op == "+" else -t)
    true = terms[0]
    for op, t in zip(ops, terms[1:], strict=True):
        true = true + t if op == "+" else true - t
    return problem, true, value


def family_multiply(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Multiply whole numbers."""
    # No 1-digit x 1-digit level: there are only 64 such problems, so the test split's would go unseen.
    digits = [(2, 1), (2, 1), (3, 1), (4, 1), (2, 2)][level - 1]
    a = rng.randint(10, 29) if level == 1 else rng.randint(10 ** (digits[0] - 1), 10 ** digits[0] - 1)
    b = rng.randint(max(2, 10 ** (digits[1] - 1)), 10 ** digits[1] - 1)
    problem = f"What is {a} \\times {b}?"
    return problem, a * b, mul_steps(work, a, b)


def family_expression(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Evaluate an expression with parentheses, in the right order."""
    hi = [9, 20, 30, 50, 99][level - 1]
    a, b, c = rng.randint(2, hi), rng.randint(2, hi), rng.randint(2, 9)
    d = rng.randint(2, hi)
    op = rng.choice("+-")
    inner_true = a + b if op == "+" else a - b
    work.say("First the parentheses.")
    inner = signed_steps(work, a, b if op == "+" else -b)
    if level <= 2:
        problem = f"Compute ({a} {op} {b}) \\times {c}."
        value = mul_steps(work, abs(inner), c) * (1 if inner >= 0 else -1)
        if inner < 0:
            work.say(f"The product is negative: {value}.")
        return problem, inner_true * c, value
    problem = f"Compute ({a} {op} {b}) \\times {c} - {d}."
    product = mul_steps(work, abs(inner), c) * (1 if inner >= 0 else -1)
    if inner < 0:
        work.say(f"The product is negative: {product}.")
    work.say("Then subtract.")
    return problem, inner_true * c - d, signed_steps(work, product, -d)


def family_negatives(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Add and subtract with negative numbers."""
    hi = [9, 20, 50, 99, 200][level - 1]
    terms = [rng.randint(-hi, hi) for _ in range(2 + (level >= 3))]
    ops = [rng.choice("+-") for _ in terms[1:]]
    rest = "".join(f" {op} {signed(t)}" for op, t in zip(ops, terms[1:], strict=True))
    problem = f"What is {terms[0]}{rest}?"
    value = true = terms[0]
    for op, t in zip(ops, terms[1:], strict=True):
        step = t if op == "+" else -t
        if op == "-" and t < 0:
            work.say(f"Subtracting {signed(t)} is adding {-t}.")
        elif op == "+" and t < 0:
            work.say(f"Adding {signed(t)} is subtracting {-t}.")
        value, true = signed_steps(work, value, step), true + step
    return problem, true, value


PRIMES = [p for p in range(2, 150) if all(p % q for q in range(2, p))]


def simplify_steps(work: Work, n: int, d: int) -> tuple[int, int]:
    """Write the steps of simplifying n/d: by the greatest common divisor at once, or one prime at a time.

    Careful solutions divide by one common prime at a time; any common prime is a valid next step, so the
    order varies from solution to solution. Quick ones guess the greatest common divisor in one go.
    """
    g = math.gcd(n, d)
    if g > 1 and work.direct():  # the quick route: the greatest common divisor in one go, a hard guess
        top, bottom = work.result(n // g), d // g
        work.say(f"Both {n} and {d} are divisible by {g}: {n} \\div {g} = {top} and {d} \\div {g} = {bottom}.")
        return top, bottom
    while common := [p for p in PRIMES if n % p == 0 and d % p == 0]:
        p = work.rng.choice(common)
        top, bottom = work.result(n // p), d // p
        work.say(f"Both {n} and {d} are divisible by {p}: {n} \\div {p} = {top} and {d} \\div {p} = {bottom}.")
        n, d = top, bottom
    return n, d


def family_fractions(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Simplify a fraction, or add two fractions and simplify."""
    if level <= 2:
        n, d = rng.randint(1, 9), rng.randint(2, 12)
        k = rng.randint(2, [6, 12][level - 1])
        problem = f"Simplify \\frac{{{n * k}}}{{{d * k}}}."
        return problem, (n * k, d * k), simplify_steps(work, n * k, d * k)
    hi = [0, 0, 6, 9, 12][level - 1]
    a, b, c, d = rng.randint(1, hi), rng.randint(2, hi), rng.randint(1, hi), rng.randint(2, hi)
    problem = f"Compute \\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}."
    common = b * d if rng.random() < 0.5 else b * d // math.gcd(b, d)  # two valid routes
    work.say(f"Use the common denominator {common}.")
    numerators = []
    for numerator, denominator in [(a, b), (c, d)]:
        factor = common // denominator
        numerators.append(work.result(numerator * factor))
        work.say(f"{common} \\div {denominator} = {factor}, so \\frac{{{numerator}}}{{{denominator}}} = "
                 f"\\frac{{{numerators[-1]}}}{{{common}}}.")
    top = work.result(sum(numerators))
    work.say(f"{numerators[0]} + {numerators[1]} = {top}, so the sum is \\frac{{{top}}}{{{common}}}.")
    return problem, (a * d + c * b, b * d), simplify_steps(work, top, common)


def family_equation(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Solve a one-variable linear equation ``a x + b = c``."""
    hi = [5, 9, 12, 20, 30][level - 1]
    x, a = rng.randint(-hi, hi), rng.randint(2, [3, 5, 9, 9, 12][level - 1])
    b = rng.randint(-hi * 3, hi * 3) or 1
    c = a * x + b
    lhs = f"{a}x {'+' if b > 0 else '-'} {abs(b)}"
    problem = f"Solve for $x$: ${lhs} = {c}$."
    work.say(f"Subtract {b} from both sides." if b > 0 else f"Add {-b} to both sides.")
    rhs = signed_steps(work, c, -b)
    work.say(f"Now {a}x = {rhs}.")
    work.say(f"Divide both sides by {a}.")
    value = rhs // a if rhs % a == 0 else (rhs, a)
    work.say(f"x = {value if isinstance(value, int) else format_fraction(value)}.")
    return problem, x, value


WORD_TEMPLATES = [
    ("{name} has {a} marbles and buys {b} bags with {c} marbles in each. How many marbles does {name} have now?",
     "add_product"),
    ("A shop had {a} apples. It sold {b} boxes of {c} apples. How many apples are left?", "sub_product"),
    ("{name} reads {c} pages every day for {b} days, then {a} more pages. How many pages is that in all?",
     "add_product"),
]
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana"]


def family_word(rng: random.Random, level: int, work: Work) -> tuple[str, Answer, Answer]:
    """Short word problems: a product, then a sum or a difference."""
    template, kind = rng.choice(WORD_TEMPLATES)
    hi = [5, 9, 12, 20, 40][level - 1]
    b, c = rng.randint(2, hi), rng.randint(2, 9)
    a = rng.randint(b * c if kind == "sub_product" else 1, b * c + [20, 50, 99, 200, 500][level - 1])
    problem = template.format(name=rng.choice(NAMES), a=a, b=b, c=c)
    product = mul_steps(work, b, c)
    if kind == "add_product":
        return problem, a + b * c, add_steps(work, a, product)
    return problem, a - b * c, sub_steps(work, a, product)


FAMILIES = {
    "addition and subtraction": family_add_sub,
    "multiplication": family_multiply,
    "expressions": family_expression,
    "negative numbers": family_negatives,
    "fractions": family_fractions,
    "linear equations": family_equation,
    "word problems": family_word,
}


# --- Records ----------------------------------------------------------------------------------------------

def format_fraction(value: int | tuple[int, int]) -> str:
    """An exact answer in LaTeX: ``7``, ``-3``, ``\\frac{3}{4}`` or ``-\\frac{1}{2}``, always in lowest terms."""
    if isinstance(value, int):
        return str(value)
    n, d = value
    g = math.gcd(n, d)
    n, d = n // g, d // g
    if d < 0:
        n, d = -n, -d
    if d == 1:
        return str(n)
    return ("-" if n < 0 else "") + f"\\frac{{{abs(n)}}}{{{d}}}"


def make_problem(rng: random.Random, family: str, level: int, slips: bool = True, style: str = "quick") -> dict:
    """One problem of ``family`` at ``level`` (1-5) with a worked solution ending in ``\\boxed{...}``.

    The record's ``answer`` is always right; with ``slips``, the worked solution may contain one slip and then
    reaches (and boxes) a wrong value, as a careless human would. ``style`` ("quick" or "careful") sets how
    often steps are done in one go rather than split by place value.
    """
    work = Work(rng, may_slip=slips and rng.random() < SLIP_RATE, direct_rate=DIRECT_RATE[style])
    problem, true, reached = FAMILIES[family](rng, level, work)
    boxed = format_fraction(reached)
    work.say(f"The answer is $\\boxed{{{boxed}}}$.")
    return {"problem": problem, "solution": "\n".join(work.lines), "answer": format_fraction(true),
            "level": level, "type": family}


def generate_records(n: int, seed: int, exclude: set[str] = frozenset(), slips: bool = True, prefix: str = "pocket",
                     style: str = "quick", weights: dict[str, float] | None = None) -> list[dict]:
    """``n`` distinct problems, skipping problem texts in ``exclude``. Levels are drawn uniformly, and so are
    families unless ``weights`` (family -> relative weight, 1 for families it leaves out) says otherwise."""
    rng = random.Random(seed)
    seen, records = set(exclude), []
    families = list(FAMILIES)
    while len(records) < n:
        if weights is None:  # rng.choice keeps the random stream, and so the test split, as before weights
            family = rng.choice(families)
        else:
            [family] = rng.choices(families, [weights.get(f, 1.0) for f in families])
        level = rng.randint(1, 5)
        record = make_problem(rng, family, level, slips, style)
        if record["problem"] in seen:
            continue
        seen.add(record["problem"])
        records.append(record | {"unique_id": f"{prefix}/{len(records):06d}"})
    return records


def test_records() -> list[dict]:
    """The fixed pocket-math test split: 500 problems (their worked solutions carry no slips)."""
    return generate_records(TEST_SIZE, TEST_SEED, slips=False, prefix="pocket-test")


# Fractions take the most steps (conversions, then reductions, each a division), and a sampled solution that
# slips in any of them is wrong: training shows them twice as often as the other families (the test split
# stays uniform).
TRAIN_WEIGHTS = {"fractions": 2.0}


def train_records(n: int, seed: int = TRAIN_SEED, style: str = "quick") -> list[dict]:
    """``n`` training problems (fractions twice as often, ``TRAIN_WEIGHTS``), none of which appears in the test
    split; worked solutions in ``style``."""
    return generate_records(n, seed, exclude={r["problem"] for r in test_records()}, prefix=f"pocket-train-{seed}",
                            style=style, weights=TRAIN_WEIGHTS)
