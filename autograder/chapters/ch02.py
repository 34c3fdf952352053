"""Chapter 2's parts: RMSNorm, the rotary embedding, top-p filtering, a KV-cached decode step.

Each ``*_cases`` function builds cases from a few parameters; the visible cases below and the hidden ones
(``solutions/ch02/hidden_cases.py``, on the instructor's machine only) are built by the same functions.
Expected values come from the rfs references, computed in the process that judges.
"""

from __future__ import annotations

import torch

from autograder.part import Case, Outcome, Part, close_to, tensor_problem
from rfs import generate as rfs_generate
from rfs import qwen3 as rfs_qwen3


def rms_norm_cases(seed: int, shapes: list[tuple], dtypes: list[torch.dtype], eps: float = 1e-6,
                   scale: float = 3.0, unit_weight: bool = False) -> list[Case]:
    """rms_norm(x, weight, eps) on random inputs; bfloat16 results must match the float32 statistics."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for shape in shapes:
        for dtype in dtypes:
            x = (torch.randn(shape, generator=g) * scale).to(dtype)
            w = torch.ones(shape[-1], dtype=dtype) if unit_weight else torch.rand(shape[-1], generator=g).to(dtype)
            expected = rfs_qwen3.rms_norm(x, w, eps)
            what = f"rms_norm on a {dtype} tensor of shape {shape}, eps={eps}" + (", weight 1" if unit_weight else "")
            judge = bf16_matches(expected) if unit_weight and dtype != torch.float32 else \
                close_to(expected, atol=1e-5 if dtype == torch.float32 else 2e-2)
            cases.append(Case("rms_norm", (x, w, eps), judge, what))
    return cases


def bf16_matches(expected: torch.Tensor) -> callable:
    """A low-precision result computed from float32 statistics: at most 1% of its values may differ (by rounding
    alone); statistics computed in bfloat16 change about 40% of them."""
    def judge(outcome: Outcome) -> str | None:
        if problem := tensor_problem(outcome.value, expected, atol=0.05):
            return problem
        differ = (outcome.value != expected).float().mean().item()
        if differ > 0.01:
            return (f"{differ:.0%} of the values differ from statistics computed in float32 (at most 1% may, by "
                    "rounding): compute mean(x**2) and its square root in float32, then convert back")
        return None
    return judge


def rope_cases(seed: int, settings: list[tuple[int, int, float, int]]) -> list[Case]:
    """rope_cos_sin(positions, head_dim, theta) and apply_rope(x, cos, sin) for (T, head_dim, theta, offset)."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for T, E, theta, offset in settings:
        positions = torch.arange(T) + offset
        cos, sin = rfs_qwen3.rope_cos_sin(positions, E, theta)
        cases.append(Case("rope_cos_sin", (positions, E, theta), pair_close_to(cos, sin),
                          f"rope_cos_sin for {T} positions, head_dim {E}, theta {theta:g}"))
        x = torch.randn(2, 3, T, E, generator=g)
        cases.append(Case("apply_rope", (x, cos, sin), close_to(rfs_qwen3.apply_rope(x, cos, sin)),
                          f"apply_rope on shape {tuple(x.shape)}"))
    return cases


def pair_close_to(cos: torch.Tensor, sin: torch.Tensor) -> callable:
    """The value must be a pair (cos, sin) of tensors close to the expected ones."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "expected a pair (cos, sin)"
        for name, value, expected in (("cos", got[0], cos), ("sin", got[1], sin)):
            if problem := tensor_problem(value, expected, atol=1e-5):
                return f"{name}: {problem}"
        return None
    return judge


def top_p_cases(rows: list[tuple[list[list[float]], float]]) -> list[Case]:
    """filter_top_p(logits, p) for each (logits, p)."""
    return [Case("filter_top_p", (torch.tensor(logits), p), valid_nucleus(torch.tensor(logits), p),
                 f"top-p with p={p} on {len(logits)} row(s) of {len(logits[0])} logits")
            for logits, p in rows]


def random_top_p_rows(seed: int, ps: list[float]) -> list[tuple[list[list[float]], float]]:
    """Four rows of 50 random logits for each p."""
    g = torch.Generator().manual_seed(seed)
    return [((torch.randn(4, 50, generator=g) * 3).tolist(), p) for p in ps]


def valid_nucleus(logits: torch.Tensor, p: float) -> callable:
    """The result must keep, in each row, as many tokens as the rule keeps, none less likely than one it drops
    (so among tied tokens any choice is right), with their original logits, and -inf everywhere else."""
    expected_count = rfs_generate.filter_top_p(logits, p).isfinite().sum(-1)

    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, torch.Tensor) or got.shape != logits.shape:
            return f"expected a tensor of shape {tuple(logits.shape)}, got {plain_shape(got)}"
        kept = got.isfinite()
        if (got[~kept] != float("-inf")).any():
            return "dropped tokens must be -inf (found +inf or nan)"
        for row in range(logits.shape[0]):
            want, have = int(expected_count[row]), int(kept[row].sum())
            if want != have:
                return f"row {row}: expected to keep {want} tokens, you kept {have}"
            if kept[row].any() and (~kept[row]).any():
                weakest_kept, strongest_dropped = logits[row][kept[row]].min(), logits[row][~kept[row]].max()
                if weakest_kept < strongest_dropped:
                    return (f"row {row}: you kept a token of logit {weakest_kept.item():.3g} but dropped one of "
                            f"{strongest_dropped.item():.3g}, which is more likely")
        if not torch.equal(got[kept], logits[kept]):
            return "kept tokens must keep their original logits"
        return None
    return judge


def plain_shape(value: object) -> str:
    """The shape of a tensor, or the type of anything else, for messages."""
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def decode_cases(seed: int, settings: list[tuple[int, int, int, int, int]]) -> list[Case]:
    """attend_with_cache(q, k, v, k_cache, v_cache, length) for (B, H, K, E, length); the caches are judged too."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for B, H, K, E, length in settings:
        q, k, v = (torch.randn(B, n, 1, E, generator=g) for n in (H, K, K))
        k_cache, v_cache = (torch.randn(B, K, 32, E, generator=g) for _ in range(2))
        expected_k, expected_v = k_cache.clone(), v_cache.clone()
        expected_k[:, :, length], expected_v[:, :, length] = k[:, :, 0], v[:, :, 0]
        keys = expected_k[:, :, :length + 1].repeat_interleave(H // K, dim=1)
        values = expected_v[:, :, :length + 1].repeat_interleave(H // K, dim=1)
        expected = torch.nn.functional.scaled_dot_product_attention(q, keys, values)
        cases.append(Case("attend_with_cache", (q, k, v, k_cache, v_cache, length),
                          cached_attention(expected, expected_k, expected_v),
                          f"decode step with {H} query heads, {K} key/value heads, {length} cached tokens",
                          keep=(3, 4)))
    return cases


def cached_attention(expected: torch.Tensor, expected_k: torch.Tensor, expected_v: torch.Tensor) -> callable:
    """The caches must hold the new key and value at slot ``length``, and the output must match."""
    def judge(outcome: Outcome) -> str | None:
        for name, got, want in (("the key cache after your step", outcome.args.get(3), expected_k),
                                ("the value cache after your step", outcome.args.get(4), expected_v)):
            if problem := tensor_problem(got, want, atol=1e-6):
                return f"{name}: {problem} (write into slot `length` in place: k_cache[:, :, length] = ...)"
        if problem := tensor_problem(outcome.value, expected, atol=1e-4):
            return f"the attention output: {problem}"
        return None
    return judge


PARTS = [
    Part("rms_norm", 2, ("rms_norm",), ("rfs.qwen3.rms_norm", "rfs.qwen3.RMSNorm"),
         lambda: rms_norm_cases(1, [(2, 8)], [torch.float32]),
         "Divide by sqrt(mean(x**2) over the last dim + eps), computed in float32, then multiply by the weight "
         "and return the input's dtype."),
    Part("rope", 3, ("rope_cos_sin", "apply_rope"), ("rfs.qwen3.rope_cos_sin", "rfs.qwen3.apply_rope"),
         lambda: rope_cases(3, [(8, 16, 10_000.0, 0)]),
         "Angles are position * theta ** (-2i / head_dim) for i < head_dim / 2, repeated twice along the last "
         "dimension; apply_rope is x * cos + cat(-x2, x1) * sin."),
    Part("top_p", 3, ("filter_top_p",), ("rfs.generate.filter_top_p", "rfs.generate.sample_next_token"),
         lambda: top_p_cases([([[2.0, 1.0, 0.5, -1.0]], 0.7), ([[0.0, 0.0, 0.0, 0.0]], 0.3)]),
         "Sort the probabilities, and drop a token when the tokens ranked above it already hold p or more; "
         "among tied tokens any choice is right."),
    Part("decode", 4, ("attend_with_cache",),
         ("rfs.qwen3.attention", "rfs.cpu_decode.decode_attention", "rfs.generate.decode_step"),
         lambda: decode_cases(7, [(1, 4, 2, 8, 5)]),
         "Attend over slots 0..length only; query head h uses key/value head h // (H // K); scale by "
         "1/sqrt(head_dim)."),
]
