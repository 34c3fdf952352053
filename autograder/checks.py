"""Check functions called by the assignments' test cells.

Each check compares a learner's function with the ``rfs`` reference on fixed and random inputs, on CUDA when
it is available (or on the device named by ``RFS_DEVICE``), and raises ``AssertionError`` with a message that
says what was expected, what came back, and a hint. ``visible=True`` runs the cases learners see;
``visible=False`` the hidden ones used for grading.
"""

from __future__ import annotations

import math
import operator
import os
import re
from collections.abc import Callable
from contextlib import contextmanager
from fractions import Fraction

import torch

from rfs import generate as rfs_generate
from rfs import qwen3 as rfs_qwen3
from rfs import refine as rfs_refine
from rfs import scaling as rfs_scaling
from rfs import verify as rfs_verify

# The reference implementations a learner must not call from the function being graded.
REFERENCES = {
    "rms_norm": [(rfs_qwen3, "rms_norm"), (rfs_qwen3, "RMSNorm")],
    "rope": [(rfs_qwen3, "rope_cos_sin"), (rfs_qwen3, "apply_rope")],
    "top_p": [(rfs_generate, "filter_top_p"), (rfs_generate, "sample_next_token")],
    "decode": [(rfs_qwen3, "attention"), (rfs_generate, "decode_step")],
    "extract": [(rfs_verify, "extract_boxed"), (rfs_verify, "extract_answer")],
    "normalize": [(rfs_verify, "normalize_answer")],
    "grade": [(rfs_verify, "grade_answer"), (rfs_verify, "equivalent"), (rfs_verify, "scalars_equal")],
    "majority_vote": [(rfs_scaling, "majority_vote")],
    "pass_at_k": [(rfs_scaling, "pass_at_k")],
    "best_of_n": [(rfs_scaling, "best_of_n"), (rfs_scaling, "score_mean_logprob")],
    "find_claims": [(rfs_refine, "find_claims"), (rfs_refine, "CLAIM")],
    "revision_prefix": [(rfs_refine, "judge_claims")],
    "refine_round": [(rfs_refine, "refine_round"), (rfs_refine, "judge_claims"), (rfs_refine, "find_claims"),
                     (rfs_refine, "CLAIM"), (rfs_refine, "Claim")],
}


def device() -> torch.device:
    """Where checks run: ``RFS_DEVICE`` if set, else CUDA when available, else the CPU."""
    name = os.environ.get("RFS_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class ReferenceUsed(AssertionError):
    """The learner's function called the reference implementation instead of implementing it."""


# The self-test (``python -m autograder check``) passes the references themselves, so it switches this off.
FORBID_REFERENCES = True


class _Tripwire:
    """Stands in for a reference while the learner's code runs: calling it or reading from it fails the part."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _used(self) -> ReferenceUsed:
        return ReferenceUsed(f"your code calls rfs's {self._name}: implement it yourself (this part scores 0)")

    def __call__(self, *args, **kwargs):
        raise self._used()

    def __getattr__(self, attribute: str):  # a constant such as a compiled regex: rfs.refine.CLAIM.finditer
        raise self._used()


@contextmanager
def references_forbidden(part: str):
    """While the learner's function runs, calling the reference of ``part`` fails the check."""
    if not FORBID_REFERENCES:
        yield
        return
    saved = []
    for module, name in REFERENCES[part]:
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, _Tripwire(name))
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def own_function(fn: Callable, part: str) -> None:
    """Fail if ``fn`` is not a function written in the notebook (e.g. the reference itself, imported)."""
    if not callable(fn):
        raise AssertionError(f"expected a function for {part}, got {type(fn).__name__}")
    module = getattr(fn, "__module__", "") or ""
    if module.startswith(("rfs", "torch")):
        raise ReferenceUsed(f"{getattr(fn, '__name__', fn)} comes from {module}: write your own "
                            "(this part scores 0)")


def _close(got, expected, what: str, hint: str, atol: float = 1e-5) -> None:
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(got).__name__}. {hint}")
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}. {hint}")
    if got.dtype != expected.dtype:
        raise AssertionError(f"{what}: expected dtype {expected.dtype}, got {got.dtype}. {hint}")
    error = (got.float() - expected.float()).abs().max().item()
    if not error <= atol:
        raise AssertionError(f"{what}: largest difference from the reference is {error:.2e} "
                             f"(allowed {atol:.0e}). {hint}")


# --- Chapter 2 ------------------------------------------------------------------------------------------

def check_rms_norm(fn: Callable, visible: bool = True) -> None:
    """``fn(x, weight, eps)`` must equal ``rfs.qwen3.rms_norm``."""
    own_function(fn, "rms_norm")
    g = torch.Generator().manual_seed(1 if visible else 2)
    shapes = [(2, 8)] if visible else [(3, 5, 64), (1, 1, 7), (4, 128)]
    for shape in shapes:
        for dtype in ([torch.float32] if visible else [torch.float32, torch.bfloat16]):
            x = (torch.randn(shape, generator=g) * 3).to(device(), dtype)
            w = torch.rand(shape[-1], generator=g).to(device(), dtype)
            with references_forbidden("rms_norm"):
                got = fn(x, w, 1e-6)
            _close(got, rfs_qwen3.rms_norm(x, w, 1e-6), f"rms_norm on a {dtype} tensor of shape {shape}",
                   "Divide by sqrt(mean(x**2) over the last dim + eps), computed in float32, then multiply by the "
                   "weight and return the input's dtype.", atol=1e-5 if dtype == torch.float32 else 2e-2)


def check_rope(cos_sin_fn: Callable, apply_fn: Callable, visible: bool = True) -> None:
    """``cos_sin_fn(positions, head_dim, theta)`` and ``apply_fn(x, cos, sin)`` must equal rfs's rotary embedding."""
    own_function(cos_sin_fn, "rope")
    own_function(apply_fn, "rope")
    cases = [(8, 16, 10_000.0)] if visible else [(1, 64, 1_000_000.0), (33, 128, 10_000.0), (5, 8, 500.0)]
    g = torch.Generator().manual_seed(3 if visible else 4)
    for T, E, theta in cases:
        positions = torch.arange(T, device=device()) + (0 if visible else 7)
        with references_forbidden("rope"):
            cos, sin = cos_sin_fn(positions, E, theta)
        ref_cos, ref_sin = rfs_qwen3.rope_cos_sin(positions, E, theta)
        hint = ("Angles are position * theta ** (-2i / head_dim) for i < head_dim / 2, repeated twice along the "
                "last dimension (split halves).")
        _close(cos, ref_cos, f"cos for {T} positions, head_dim {E}", hint)
        _close(sin, ref_sin, f"sin for {T} positions, head_dim {E}", hint)
        x = torch.randn(2, 3, T, E, generator=g).to(device())
        with references_forbidden("rope"):
            got = apply_fn(x, ref_cos, ref_sin)
        _close(got, rfs_qwen3.apply_rope(x, ref_cos, ref_sin), f"apply_rope on shape {tuple(x.shape)}",
               "Rotate the first half of the last dimension against the second: x * cos + cat(-x2, x1) * sin.")


def check_top_p(fn: Callable, visible: bool = True) -> None:
    """``fn(logits, p)`` must keep exactly the top-p nucleus (other logits -inf), like ``filter_top_p``."""
    own_function(fn, "top_p")
    g = torch.Generator().manual_seed(5 if visible else 6)
    cases = [(torch.tensor([[2.0, 1.0, 0.5, -1.0]]), 0.7)]
    if not visible:
        cases += [(torch.randn(4, 50, generator=g) * 3, p) for p in (0.1, 0.5, 0.9, 0.999)]
        cases += [(torch.tensor([[5.0, 5.0, 0.0]]), 0.5), (torch.tensor([[0.0, 0.0, 0.0, 0.0]]), 0.5)]
    for logits, p in cases:
        logits = logits.to(device())
        with references_forbidden("top_p"):
            got = fn(logits.clone(), p)
        expected = rfs_generate.filter_top_p(logits, p)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            raise AssertionError(f"top-p with p={p}: expected a tensor of shape {tuple(expected.shape)}")
        kept, expected_kept = got.isfinite(), expected.isfinite()
        if not torch.equal(kept, expected_kept):
            raise AssertionError(
                f"top-p with p={p} on logits {logits.tolist()[0][:6]}...: expected to keep "
                f"{expected_kept.sum(-1).tolist()} tokens per row, you kept {kept.sum(-1).tolist()}. Hint: sort "
                "the probabilities, and drop a token when the tokens ranked above it already hold p or more.")
        _close(torch.where(kept, got, 0.0), torch.where(kept, expected, 0.0), f"top-p kept logits (p={p})",
               "Kept tokens keep their original logits.")


def check_decode_step(fn: Callable, visible: bool = True) -> None:
    """``fn(q, k, v, k_cache, v_cache, length)``: write k, v at slot ``length`` of the caches (in place) and
    return the attention of the new query over slots 0..length, with grouped-query attention."""
    own_function(fn, "decode")
    g = torch.Generator().manual_seed(7 if visible else 8)
    cases = [(1, 4, 2, 8, 5)] if visible else [(2, 8, 2, 16, 0), (3, 6, 3, 32, 11), (1, 4, 4, 8, 30)]
    for B, H, K, E, length in cases:
        dev = device()
        q, k, v = (torch.randn(B, n, 1, E, generator=g).to(dev) for n in (H, K, K))
        k_cache, v_cache = (torch.randn(B, K, 32, E, generator=g).to(dev) for _ in range(2))
        expected_k, expected_v = k_cache.clone(), v_cache.clone()
        expected_k[:, :, length], expected_v[:, :, length] = k[:, :, 0], v[:, :, 0]
        keys = expected_k[:, :, :length + 1].repeat_interleave(H // K, dim=1)
        values = expected_v[:, :, :length + 1].repeat_interleave(H // K, dim=1)
        expected = torch.nn.functional.scaled_dot_product_attention(q, keys, values)
        with references_forbidden("decode"):
            got = fn(q, k, v, k_cache, v_cache, length)
        what = f"decode step with {H} query heads, {K} key/value heads, {length} cached tokens"
        _close(k_cache, expected_k, f"{what}: the key cache after your step",
               "Write the new key into slot `length` of k_cache in place (k_cache[:, :, length] = ...).")
        _close(v_cache, expected_v, f"{what}: the value cache after your step", "Same for the value cache.")
        _close(got, expected, f"{what}: the attention output",
               "Attend over slots 0..length only; query head h uses key/value head h // (H // K); scale by "
               "1/sqrt(head_dim).", atol=1e-4)


# --- Chapter 3 ------------------------------------------------------------------------------------------

EXTRACT_CASES = {
    True: [("The answer is \\boxed{42}.", "42"), ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"), ("no box", None)],
    False: [("\\boxed{1} then \\boxed{2}", "2"), ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),
            ("\\boxed{unclosed", None), ("$\\boxed{(1, 2)}$ done", "(1, 2)"), ("", None),
            ("\\boxed{{x}}", "{x}")],
}
NORMALIZE_CASES = {
    True: [("\\dfrac{1}{2}", "\\frac{1}{2}"), (" 7 ", "7"), ("\\left( 1, 2 \\right)", "(1,2)")],
    False: [("\\tfrac{3}{4}", "\\frac{3}{4}"), ("50\\%", "50"), ("\\text{(B)}", "(B)"), ("1,000,000", "1000000"),
            ("$5$", "5"), ("\\left[ 0, 1 \\right)", "[0,1)")],
}
GRADE_CASES = {
    True: [("\\boxed{7}", "7", True), ("\\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}", True), ("\\boxed{8}", "7", False)],
    False: [("\\boxed{0.5}", "\\frac{1}{2}", True), ("\\boxed{0.333}", "\\frac{1}{3}", False),
            ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", True), ("\\boxed{(1,2)}", "(1, 2)", True),
            ("\\boxed{1.414}", "\\sqrt{2}", False), ("no answer here", "3", False), ("\\boxed{-7}", "7", False),
            ("\\boxed{1,000}", "1000", True)],
}


def _call(fn: Callable, part: str, args: tuple, describe: str, expected: object, hint: str) -> object:
    """``fn(*args)`` with ``part``'s references forbidden; an exception becomes a failure that says what to return."""
    with references_forbidden(part):
        try:
            return fn(*args)
        except ReferenceUsed:
            raise
        except Exception as error:
            raise AssertionError(f"{describe}{tuple(args)!r} raised {type(error).__name__}: {error}. "
                                 f"It should return {expected!r}. {hint}") from None


def _table_check(fn: Callable, part: str, cases: list[tuple], describe: str, hint: str,
                 same: Callable[[object, object], bool] = operator.eq) -> None:
    """Call ``fn(*args)`` for each case ``(*args, expected)``; fail unless ``same(got, expected)``."""
    own_function(fn, part)
    for *args, expected in cases:
        got = _call(fn, part, tuple(args), describe, expected, hint)
        if not same(got, expected):
            raise AssertionError(f"{describe}{tuple(args)!r} returned {got!r}, expected {expected!r}. {hint}")


def check_extract_boxed(fn: Callable, visible: bool = True) -> None:
    """``fn(text)`` must return the content of the last ``\\boxed{...}`` (braces matched) or None."""
    _table_check(fn, "extract", EXTRACT_CASES[visible], "extract_boxed",
                 "Find the last \\boxed{, then count braces until they balance; no closing brace means None.")


def check_normalize(fn: Callable, visible: bool = True) -> None:
    """``fn(answer)`` must apply the normalization rules of the assignment."""
    _table_check(fn, "normalize", NORMALIZE_CASES[visible], "normalize",
                 "Rules: \\dfrac/\\tfrac -> \\frac; drop \\left, \\right, \\%, $ and spaces; unwrap \\text{...}; "
                 "remove thousands separators.")


def check_grade(fn: Callable, visible: bool = True) -> None:
    """``fn(output, reference)`` must grade like ``rfs.verify.grade_answer`` on the assignment's cases."""
    _table_check(fn, "grade", GRADE_CASES[visible], "grade",
                 "Extract the boxed answer, normalize both, compare strings, then exact values via "
                 "rfs.verify.to_sympy (decimals are exact fractions, so 0.333 is not 1/3).")


# --- Chapter 4 ------------------------------------------------------------------------------------------

def same_last_char(a: str, b: str) -> bool:
    """An equivalence unlike grade_answer's, for the hidden tests: answers that end in the same character."""
    return a[-1:] == b[-1:]


HALF = "\\frac{1}{2}"
MAJORITY_CASES = {
    True: [(["7", "8", "7"], "7"), (["3", "0.5", HALF], "0.5"), (["4", "7", "7", "4"], "4"),
           ([None, "5", None], "5"), ([None, None], None), (["0.5", HALF, "3", "3"], operator.eq, "3")],
    False: [([], None), (["3", "4", "4", "3"], "3"), (["4", "3", "3", "4", "5", "3"], "3"),
            (["1", "2", "0.5", HALF], "0.5"), ([HALF, "2", "0.5", "2", "\\dfrac{1}{2}"], HALF),
            ([None, "9", None, "8", "8"], "8"), (["3", "12", "2"], same_last_char, "12"),
            (["5", "15", "25", "7", "7"], same_last_char, "5"), (["2", "2.0", "2.00", "1", "1"], operator.eq, "1")],
}


def check_majority_vote(fn: Callable, visible: bool = True) -> None:
    """``fn(answers)`` or ``fn(answers, equal)`` must return the majority answer like ``rfs.scaling.majority_vote``."""
    _table_check(fn, "majority_vote", MAJORITY_CASES[visible], "majority_vote",
                 "An answer joins the first candidate whose first spelling `equal` deems equal to it (None does not "
                 "vote). The candidate with most votes wins; on a tie, the one whose first vote came earliest. "
                 "Return the winner's first spelling, or None when nothing voted.")


def _exact_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed with exact fractions."""
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def _near(got: object, expected: float) -> bool:
    """Whether ``got`` is a number within a relative 1e-9 of ``expected`` (equal infinities count)."""
    return (isinstance(got, (int, float)) and not isinstance(got, bool)
            and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12))


PASS_AT_K_CASES = {
    True: [(2, 1, 1), (4, 2, 2), (5, 0, 3), (5, 3, 3), (10, 3, 2), (200, 10, 20)],
    False: [(1, 1, 1), (1, 0, 1), (10, 1, 1), (8, 4, 4), (8, 5, 4), (20, 7, 5), (200, 0, 50), (200, 1, 1),
            (200, 3, 100), (200, 37, 150), (200, 150, 60), (200, 199, 10), (200, 50, 200)],
}


def check_pass_at_k(fn: Callable, visible: bool = True) -> None:
    """``fn(n, c, k)`` must return the unbiased pass@k, 1 - C(n-c, k) / C(n, k), to a relative 1e-9."""
    cases = [(n, c, k, _exact_pass_at_k(n, c, k)) for n, c, k in PASS_AT_K_CASES[visible]]
    _table_check(fn, "pass_at_k", cases, "pass_at_k", "C(n-c, k) / C(n, k) is the chance that k of the n samples, "
                 "drawn without replacement, are all wrong; when n - c < k some draw is always right (1.0). For "
                 "large n, multiply the factors (1 - k / i) for i = n-c+1 .. n instead of computing factorials.",
                 same=_near)


def _sample(text: str, logprobs: list[float] | None, finish_reason: str = "stop") -> rfs_generate.Completion:
    """A completion with one token id per log-probability (ids 0, 1, 2, ...)."""
    return rfs_generate.Completion(text, list(range(len(logprobs or [0.0]))), finish_reason, logprobs)


MEAN_LOGPROB_CASES = {
    True: [(_sample("a", [-0.5, -1.5]), -1.0), (_sample("b", [-2.0]), -2.0)],
    False: [(_sample("c", [0.0, 0.0, 0.0]), 0.0), (_sample("d", [-0.25, -0.5, -0.75, -1.0]), -0.625),
            (_sample("e", None), float("-inf")), (_sample("f", [-30.0, -0.1]), -15.05)],
}
SHORT_SURE = _sample("So \\boxed{3}.", [-0.4, -0.4])
LONG_SURE = _sample("3 + 4 = 7, so \\boxed{7}.", [-0.2, -0.3, -0.1, -0.2, -0.2])
UNBOXED = _sample("I think 7", [-0.1, -0.1, -0.1], "length")
TWIN = _sample("7, so \\boxed{7}.", [-0.2, -0.3, -0.1, -0.2, -0.2])
BEST_OF_N_CASES = {
    True: [([SHORT_SURE, LONG_SURE], rfs_scaling.score_mean_logprob, LONG_SURE),
           ([SHORT_SURE, LONG_SURE], rfs_scaling.score_logprob, SHORT_SURE)],
    False: [([UNBOXED, SHORT_SURE, LONG_SURE], rfs_scaling.score_mean_logprob, UNBOXED),
            ([UNBOXED, SHORT_SURE, LONG_SURE], rfs_scaling.score_heuristic, SHORT_SURE),
            ([LONG_SURE, TWIN], rfs_scaling.score_mean_logprob, LONG_SURE),
            ([TWIN, LONG_SURE], rfs_scaling.score_mean_logprob, TWIN),
            ([LONG_SURE], rfs_scaling.score_logprob, LONG_SURE)],
}


def check_best_of_n(best_of_n_fn: Callable, mean_logprob_fn: Callable, visible: bool = True) -> None:
    """``mean_logprob_fn(completion)`` must average the token log-probabilities (-inf without any), and
    ``best_of_n_fn(completions, scorer)`` must return the first completion with the highest score."""
    _table_check(mean_logprob_fn, "best_of_n", MEAN_LOGPROB_CASES[visible], "mean_logprob",
                 "Average completion.logprobs: their sum divided by how many there are; None (no log-probabilities "
                 "were kept) scores float('-inf').", same=_near)
    _table_check(best_of_n_fn, "best_of_n", BEST_OF_N_CASES[visible], "best_of_n",
                 "Score every completion with scorer(completion) and return the completion itself (not its score) "
                 "with the highest score; on a tie, the earlier one.")


# --- Chapter 5 ------------------------------------------------------------------------------------------

SOLUTION_START = "First the parentheses.\n48 + 6 = 54.\n54 \\times 3 = 162."
SLIP = (SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 152.\n152 - 7 = 145.\n"
        "The answer is $\\boxed{145}$.")  # 162 - 20 is 142
STEPS = "483 + 275 = 758.\n11 - 129 = -118.\n-20 + 8 = -12, so 3x = -12.\n9 \\times 44 = 396."
EQUATION = "Subtract 6 from both sides.\n16 - 6 = 10, so 5x = 10.\nDivide both sides by 5.\nx = 2."
TWO_STEPS = "100 - 46 = 54, then 54 - 45 = 9"
CLAIM_CASES = {  # (text, its claims as (expression, value))
    True: [(SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")]), (EQUATION, [("16 - 6", "10")]),
           ("Half: 1.5 + 2 = 3.5, and 42 \\div 2 = 21.", []), ("3 + 4 + 5 = 12", [])],
    False: [("", []), ("x = -8.", []), ("0.5 + 2 = 2.5", []), ("1.25 + 3 = 4.25", []), ("48+6=54, 48  + 6 = 54", []),
            (STEPS, [("483 + 275", "758"), ("11 - 129", "-118"), ("-20 + 8", "-12"), ("9 \\times 44", "396")]),
            (TWO_STEPS, [("100 - 46", "54"), ("54 - 45", "9")]),
            ("In 2024 + 1 = 2025 we had 7 \\times 7 = 49.", [("2024 + 1", "2025"), ("7 \\times 7", "49")]),
            ("Tens: 8 + 2 + 1 = 11, carry 1.\nHundreds: 7 - 1 - 2 = 4.\n5 \\times 2 \\times 3 = 30", []),
            (SLIP, [("48 + 6", "54"), ("54 \\times 3", "162"), ("162 - 20", "152"), ("152 - 7", "145")])],
}


def _located(text: str, claims: list[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
    """``(expression, value, start, end)`` for claims listed in order as ``(expression, value)``."""
    located, position = [], 0
    for expression, value in claims:
        position = text.index(f"{expression} = {value}", position) + len(expression) + len(" = ")
        located.append((expression, value, position, position + len(value)))
    return located


def _as_tuples(claims: object) -> object:
    """Claims returned as lists or named tuples compare like plain tuples."""
    if isinstance(claims, (list, tuple)) and all(isinstance(c, (list, tuple)) for c in claims):
        return [tuple(c) for c in claims]
    return claims


def check_find_claims(fn: Callable, visible: bool = True) -> None:
    """``fn(text)`` must return the arithmetic claims of a solution as ``(expression, value, start, end)`` tuples."""
    _table_check(fn, "find_claims", [(text, _located(text, claims)) for text, claims in CLAIM_CASES[visible]],
                 "find_claims", "A claim is `A op B = C`: whole numbers with an optional minus sign, op one of +, - "
                 "or \\times, exactly one space on each side of op and of =, no digit or '.' just before A, and no "
                 "'+ ', '- ' or '\\times ' just before A (the tail of a longer sum is no claim). "
                 "Return (expression, value, start, end) with text[start:end] == value: re.finditer and "
                 "match.start(4) help.", same=lambda got, expected: _as_tuples(got) == expected)


PREFIX_CASES = {  # (text of CLAIM_CASES, the checked value of each of its claims, expected revision prefix)
    True: [(SOLUTION_START, ["54", "162"], None), (SOLUTION_START, ["54", "152"], SOLUTION_START[:-4] + "152."),
           (SOLUTION_START, [None, "152"], SOLUTION_START[:-4] + "152."),
           (EQUATION, ["0"], "Subtract 6 from both sides.\n16 - 6 = 0,")],
    False: [("x = -8.", [], None), (SOLUTION_START, [None, None], None), (STEPS, ["758", "-118", "-12", "396"], None),
            (STEPS, ["758", "118", "-12", "396"], "483 + 275 = 758.\n11 - 129 = 118."),
            (STEPS, [None, None, "-2", "306"], "483 + 275 = 758.\n11 - 129 = -118.\n-20 + 8 = -2,"),
            (STEPS, ["758.0", "-118", "\\frac{-24}{2}", "396"], None),
            (TWO_STEPS, ["54", "19"], "100 - 46 = 54, then 54 - 45 = 19"),
            (TWO_STEPS, ["64", "19"], "100 - 46 = 64,")],
}


def check_revision_prefix(fn: Callable, visible: bool = True) -> None:
    """``fn(text, claims, checked)`` must return where a revision starts (None when every check agrees)."""
    claims = {text: claims for cases in CLAIM_CASES.values() for text, claims in cases}
    cases = [(text, _located(text, claims[text]), checked, expected)
             for text, checked, expected in PREFIX_CASES[visible]]
    _table_check(fn, "revision_prefix", cases, "revision_prefix",
                 "Take the first claim whose checked value is not None and disagrees with the claimed value (not "
                 "grade_answer(checked, value): 42.0 agrees with 42), and return text[:start] + checked + "
                 "text[end:end + 1]. Return None when no claim disagrees.")


class FakeCheck:
    """The check of a claim, without a model: the true value of ``What is A op B?``, except where ``wrong`` says.

    Like the pocket model, it answers only questions shaped like pocket problems: a product must be asked with the
    larger factor first, and anything else gets no answer (None).
    """

    QUESTION = re.compile(r"What is (-?\d+) (\+|-|\\times) (-?\d+)\?")

    def __init__(self, wrong: dict[str, str | None]) -> None:
        self.wrong = wrong

    def __call__(self, question: str) -> str | None:
        if question in self.wrong:
            return self.wrong[question]
        match = self.QUESTION.fullmatch(question) if isinstance(question, str) else None
        if match is None or (match[2] == "\\times" and int(match[1]) < int(match[3])):
            return None
        left, right = int(match[1]), int(match[3])
        return str({"+": left + right, "-": left - right, "\\times": left * right}[match[2]])

    def __repr__(self) -> str:
        return f"a check that is right except on {self.wrong}" if self.wrong else "a check that is always right"


class FakeContinuation:
    """A model that continues any revision prefix with the text ``rest``; it records the prefixes it was given."""

    def __init__(self, rest: str) -> None:
        self.rest, self.prefixes = rest, []

    def __call__(self, prefix: str) -> str:
        self.prefixes.append(prefix)
        return self.rest

    def __repr__(self) -> str:
        return f"a model that continues with {self.rest!r}"


RIGHT = (SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 142.\n142 - 7 = 135.\n"
         "The answer is $\\boxed{135}$.")
PRODUCT_SLIP = ("Split 29 into 20 + 9.\n20 \\times 44 = 880.\n9 \\times 44 = 306.\n880 + 306 = 1186.\n"
                "The answer is $\\boxed{1186}$.")  # 9 x 44 is 396, and the check must be asked "44 \times 9"
RIGHT_PRODUCT = "First the parentheses.\n21 + 65 = 86.\n86 \\times 9 = 774.\nThen subtract.\n774 - 44 = 730."
ROUND_CASES = {  # (text, the check's wrong answers, the model's continuation, expected revision prefix)
    True: [(SLIP, {}, "\n142 - 7 = 135.\nThe answer is $\\boxed{135}$.",
            SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 142."),
           (RIGHT, {}, "", None),
           (PRODUCT_SLIP, {}, "\n880 + 396 = 1276.\nThe answer is $\\boxed{1276}$.",
            "Split 29 into 20 + 9.\n20 \\times 44 = 880.\n9 \\times 44 = 396.")],
    False: [(RIGHT_PRODUCT, {"What is 86 \\times 9?": "688"}, "\nThen subtract.\n688 - 44 = 644.",
             "First the parentheses.\n21 + 65 = 86.\n86 \\times 9 = 688."),
            ("8633 + 170 = 8703.\n8703 + 86 = 8799.", {"What is 8633 + 170?": None}, "\nThe answer is 8789.",
             "8633 + 170 = 8703.\n8703 + 86 = 8789."),
            ("The answer is $\\boxed{7}$.", {}, "", None),
            ("100 - 46 = 64.\n64 - 45 = 29.", {}, "\n54 - 45 = 9.", "100 - 46 = 54."),
            ("So 7 + 8 = 16", {}, ", and the answer is 15.", "So 7 + 8 = 15"),
            ("6 \\times 7 = 42.\nThe answer is $\\boxed{42}$.", {"What is 7 \\times 6?": "42.0"}, "", None),
            ("11 - 129 = -108.", {}, "\nThe answer is $\\boxed{-118}$.", "11 - 129 = -118."),
            ("12 \\times 12 = 134, so the area is 134.", {}, " so the area is 144.", "12 \\times 12 = 144,"),
            ("Subtract 6 from both sides.\n16 - 6 = 0, so 5x = 0.", {}, " so 5x = 10.",
             "Subtract 6 from both sides.\n16 - 6 = 10,")],
}


def check_refine_round(fn: Callable, visible: bool = True) -> None:
    """``fn(text, check, continue_solution)`` must run one round of self-check refinement.

    It asks ``check`` about every claim, and returns None when every check agrees; otherwise the revision prefix
    followed by what ``continue_solution(prefix)`` writes, called once with that prefix.
    """
    own_function(fn, "refine_round")
    hint = ("Ask each claim as 'What is A op B?', a product with the larger factor first (compared as numbers: "
            "'What is 44 \\times 9?'), build the prefix with your revision_prefix, and return None when it is None, "
            "else prefix + continue_solution(prefix).")
    for text, wrong, rest, prefix in ROUND_CASES[visible]:
        check, model = FakeCheck(wrong), FakeContinuation(rest)
        expected = None if prefix is None else prefix + rest
        got = _call(fn, "refine_round", (text, check, model), "refine_round", expected, hint)
        what = f"refine_round({text!r}, {check!r}, {model!r})"
        if got != expected:
            raise AssertionError(f"{what} returned {got!r}, expected {expected!r}. {hint}")
        if prefix is None and model.prefixes:
            raise AssertionError(f"{what} called continue_solution although every check agreed: a solution the "
                                 "critic accepts is not revised.")
        if prefix is not None and model.prefixes != [prefix]:
            raise AssertionError(f"{what} called continue_solution with {model.prefixes!r}; call it once, with the "
                                 f"revision prefix {prefix!r}.")
