"""Appendix C's and D's assignments: the instructor's solutions pass every case, visible and hidden, and each
typical slip fails exactly the parts it should. Judged in this process, through the same checks a learner's test
cells call (no kernel: the whole-notebook grading is in test_hostile_submissions.py)."""

import functools

import nbformat
import pytest
from test_assignments import ROOT

from autograder import checks
from autograder.assignments import ASSIGNMENTS, NOT_GRADED, hidden_cases


def solution_functions(assignment: str, changes: list[tuple[str, str]]) -> dict:
    """The instructor's notebook's functions, defined here, after each ``(old, new)`` of ``changes`` has replaced
    its one occurrence in the solution cells."""
    notebook = nbformat.read(ROOT / f"solutions/{assignment}/{assignment}_exercises.ipynb", as_version=4)
    namespace, applied = {}, []
    for cell in notebook.cells:
        info = cell.metadata["nbgrader"]
        if cell.cell_type != "code" or info["grade"] or info["grade_id"] in NOT_GRADED:
            continue
        source = cell.source
        for old, new in changes if info["solution"] else []:
            if old in source:
                assert source.count(old) == 1, old
                source = source.replace(old, new)
                applied.append(old)
        exec(source, namespace)
    assert sorted(applied) == sorted(old for old, _ in changes), "a change no longer matches the solution"
    return namespace


hidden_once = functools.cache(hidden_cases)  # judges are pure, so every test may share the cases


def failures(assignment: str, changes: list[tuple[str, str]], monkeypatch) -> dict[str, str]:
    """Part -> its failure message, for the solution with ``changes``; the hidden cases are built once."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(checks, "hidden_cases", hidden_once)
    functions = solution_functions(assignment, changes)
    failed = {}
    for part in ASSIGNMENTS[assignment]:
        try:
            checks.check_part(assignment, part.name, {name: functions[name] for name in part.functions})
        except AssertionError as error:
            failed[part.name] = str(error)
    return failed


@pytest.mark.parametrize("assignment", ["appendix_c", "appendix_d"])
def test_the_instructor_solutions_pass_every_case(assignment, monkeypatch):
    assert failures(assignment, [], monkeypatch) == {}


ATTENTION = {"self_attention", "block"}  # the block calls the learner's attention
QUERY_NORM = 'apply_rope(rms_norm(q, weights["self_attn.q_norm.weight"], eps), cos, sin)'
KEY_NORM = 'apply_rope(rms_norm(k, weights["self_attn.k_norm.weight"], eps), cos, sin)'
GROUPS = "k.repeat_interleave(H // K, dim=1), v.repeat_interleave(H // K, dim=1)"
FIRST_HALF = ('normed = rms_norm(x, weights["input_layernorm.weight"], eps)\n'
              "    x = x + self_attention(normed, weights, cos, sin, config)")
SLIPS_C = {
    "SiLU on up, not on the gate": ([("F.silu(gate) * up", "gate * F.silu(up)")], {"feed_forward", "block"}),
    "key/value heads repeated as a whole stack": ([(GROUPS, "k.repeat(1, H // K, 1, 1), v.repeat(1, H // K, 1, 1)")],
                                                  ATTENTION),
    "no causal mask": ([('    scores = scores.masked_fill(later, float("-inf"))\n', "")], ATTENTION),
    "no query and key norms": ([(QUERY_NORM, "apply_rope(q, cos, sin)"), (KEY_NORM, "apply_rope(k, cos, sin)")],
                               ATTENTION),
    "the key norm after the rotation": ([(KEY_NORM, 'rms_norm(apply_rope(k, cos, sin), '
                                                    'weights["self_attn.k_norm.weight"], eps)')], ATTENTION),
    "no 1/sqrt(E)": ([(" / E**0.5", "")], ATTENTION),
    "eps fixed at 1e-6": ([('    eps = config["rms_norm_eps"]\n    q = (', "    eps = 1e-6\n    q = (")], ATTENTION),
    "no residual around attention": ([("x = x + self_attention(", "x = self_attention(")], {"block"}),
    "no residual around the feed-forward": ([("return x + feed_forward(", "return feed_forward(")], {"block"}),
    "the norm after the residual": ([(FIRST_HALF, 'x = rms_norm(x + self_attention(x, weights, cos, sin, config), '
                                                  'weights["input_layernorm.weight"], eps)')], {"block"}),
    "the first norm's weight twice": ([('weights["post_attention_layernorm.weight"]',
                                        'weights["input_layernorm.weight"]')], {"block"}),
}


@pytest.mark.parametrize("slip", list(SLIPS_C))
def test_appendix_c_slips_fail_their_parts(slip, monkeypatch):
    changes, parts = SLIPS_C[slip]
    failed = failures("appendix_c", changes, monkeypatch)
    assert set(failed) == parts, failed
    if slip == "eps fixed at 1e-6":  # the visible cases use 1e-6: a hidden case catches it, keeping its input
        assert failed["self_attention"].startswith("hidden case 'a larger eps': wrong result. Hint:")


COUNTED = {"weight_bytes", "training"}  # training bytes use the learner's parameter count
HEADS = 'q, kv = config["num_attention_heads"] * e, config["num_key_value_heads"] * e'
MASTER = 'master = 0 if dtype == "float32" else params * DTYPE_BYTES["float32"]'
SLIPS_D = {
    "a tied head counted twice": ([('head = 0 if config["tie_word_embeddings"] else vocab * d', "head = vocab * d")],
                                  COUNTED),
    "query heads for k and v": ([(HEADS, 'q = kv = config["num_attention_heads"] * e')], COUNTED),
    "no q/k norms": ([("+ 2 * e  # q, k, v, o and the q/k norms", "")], COUNTED),
    "no final norm": ([("* layer + d + head", "* layer + head")], COUNTED),
    "head_dim as hidden_size / heads": ([('config["head_dim"], config["vocab_size"]',
                                          'config["hidden_size"] // config["num_attention_heads"], '
                                          'config["vocab_size"]')], COUNTED),
    "query heads in the KV cache": ([('config["num_key_value_heads"] * config["head_dim"]  # key and value',
                                      'config["num_attention_heads"] * config["head_dim"]')], {"kv_cache"}),
    "keys only, no factor 2": ([("numbers = 2 * config", "numbers = config")], {"kv_cache"}),
    "AdamW moments in the training dtype": ([('"AdamW moments": 2 * params * DTYPE_BYTES["float32"]',
                                              '"AdamW moments": 2 * params * size')], {"training"}),
    "master weights in float32 training too": ([(MASTER, 'master = params * DTYPE_BYTES["float32"]')], {"training"}),
    "no master weights": ([(MASTER, "master = 0")], {"training"}),
    "a model built to count": ([('    d, e, vocab = config["hidden_size"]',
                                 "    import torch\n    from rfs.qwen3 import Qwen3, Qwen3Config\n"
                                 '    with torch.device("meta"):\n'
                                 "        return sum(p.numel() for p in Qwen3(Qwen3Config(**config)).parameters())\n"
                                 '    d, e, vocab = config["hidden_size"]')], COUNTED),
}


@pytest.mark.parametrize("slip", list(SLIPS_D))
def test_appendix_d_slips_fail_their_parts(slip, monkeypatch):
    changes, parts = SLIPS_D[slip]
    failed = failures("appendix_d", changes, monkeypatch)
    assert set(failed) == parts, failed
    if slip == "a model built to count":
        assert all("calls rfs.qwen3.Qwen3" in failed[part] for part in parts)
