"""Check functions called by the assignments' test cells.

Each check compares a learner's function with the ``rfs`` reference on fixed and random inputs, on CUDA when
it is available (or on the device named by ``RFS_DEVICE``), and raises ``AssertionError`` with a message that
says what was expected, what came back, and a hint. ``visible=True`` runs the cases learners see;
``visible=False`` the hidden ones used for grading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager

import torch

from rfs import generate as rfs_generate
from rfs import qwen3 as rfs_qwen3
from rfs import verify as rfs_verify

# The reference implementations a learner must not call from the function being graded.
REFERENCES = {
    "rms_norm": [(rfs_qwen3, "rms_norm"), (rfs_qwen3, "RMSNorm")],
    "rope": [(rfs_qwen3, "rope_cos_sin"), (rfs_qwen3, "apply_rope")],
    "top_p": [(rfs_generate, "filter_top_p"), (rfs_generate, "sample_next_token")],
    "decode": [(rfs_qwen3, "decode_attention"), (rfs_generate, "decode_step")],
    "extract": [(rfs_verify, "extract_boxed"), (rfs_verify, "extract_answer")],
    "normalize": [(rfs_verify, "normalize_answer")],
    "grade": [(rfs_verify, "grade_answer"), (rfs_verify, "equivalent"), (rfs_verify, "scalars_equal")],
}


def device() -> torch.device:
    """Where checks run: ``RFS_DEVICE`` if set, else CUDA when available, else the CPU."""
    name = os.environ.get("RFS_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class ReferenceUsed(AssertionError):
    """The learner's function called the reference implementation instead of implementing it."""


# The self-test (``python -m autograder check``) passes the references themselves, so it switches this off.
FORBID_REFERENCES = True


@contextmanager
def references_forbidden(part: str):
    """While the learner's function runs, calling the reference of ``part`` fails the check."""
    if not FORBID_REFERENCES:
        yield
        return
    saved = []
    for module, name in REFERENCES[part]:
        saved.append((module, name, getattr(module, name)))

        def tripwire(*args, _name=name, **kwargs):
            raise ReferenceUsed(f"your code calls rfs's {_name}: implement it yourself (this part scores 0)")

        setattr(module, name, tripwire)
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


def _table_check(fn: Callable, part: str, cases: list[tuple], describe: str, hint: str) -> None:
    own_function(fn, part)
    for *args, expected in cases:
        with references_forbidden(part):
            try:
                got = fn(*args)
            except ReferenceUsed:
                raise
            except Exception as error:
                raise AssertionError(f"{describe}{tuple(args)!r} raised {type(error).__name__}: {error}. "
                                     f"It should return {expected!r}. {hint}") from None
        if got != expected:
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

