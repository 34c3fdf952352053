"""``python -m autograder grade NOTEBOOK`` and ``python -m autograder check`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F


def reference_solutions() -> dict:
    """The rfs references, wrapped as if written in a notebook, for the self-test."""
    from rfs.generate import Completion, filter_top_p
    from rfs.qwen3 import apply_rope, rms_norm, rope_cos_sin
    from rfs.refine import Claim, find_claims, judge_claims
    from rfs.scaling import majority_vote, pass_at_k, score_mean_logprob
    from rfs.verify import extract_boxed, grade_answer, normalize_answer

    def attend_with_cache(q, k, v, k_cache, v_cache, length):
        k_cache[:, :, length], v_cache[:, :, length] = k[:, :, 0], v[:, :, 0]
        group = q.shape[1] // k.shape[1]
        keys = k_cache[:, :, :length + 1].repeat_interleave(group, dim=1)
        return F.scaled_dot_product_attention(q, keys, v_cache[:, :, :length + 1].repeat_interleave(group, dim=1))

    def best_of_n(completions, scorer):  # rfs's best_of_n takes the name of a scorer, this one the scorer
        return max(completions, key=scorer)

    def claims_of(text):  # rfs's Claims as the (expression, value, start, end) tuples of the assignment
        return [(c.expression, c.value, c.start, c.end) for c in find_claims(text)]

    def revision_prefix(text, claims, checked):  # judge_claims reads each checked value from a check's solution
        checks = [Completion("" if value is None else f"\\boxed{{{value}}}", [], "stop") for value in checked]
        return judge_claims(text, [(Claim(e, v, 0, start, end), [check])
                                   for (e, v, start, end), check in zip(claims, checks, strict=True)]).fix

    def refine_round(text, check, continue_solution):
        prefix = revision_prefix(text, claims_of(text), [check(c.question) for c in find_claims(text)])
        return None if prefix is None else prefix + continue_solution(prefix)

    def wrap(fn):
        return lambda *args: fn(*args)

    return {"rms_norm": wrap(rms_norm), "rope_cos_sin": wrap(rope_cos_sin), "apply_rope": wrap(apply_rope),
            "filter_top_p": wrap(filter_top_p), "attend_with_cache": attend_with_cache,
            "extract_boxed": wrap(extract_boxed), "normalize": wrap(normalize_answer), "grade": wrap(grade_answer),
            "majority_vote": wrap(majority_vote), "pass_at_k": wrap(pass_at_k), "best_of_n": best_of_n,
            "mean_logprob": wrap(score_mean_logprob), "find_claims": claims_of, "revision_prefix": revision_prefix,
            "refine_round": refine_round}


def self_check(device: str | None) -> int:
    """Run every check, visible and hidden, against the references; print one line each."""
    import os

    from autograder import checks

    if device:
        os.environ["RFS_DEVICE"] = device
    checks.FORBID_REFERENCES = False  # the references may call their own helpers
    ref = reference_solutions()
    runs = {
        "rms_norm": lambda v: checks.check_rms_norm(ref["rms_norm"], v),
        "rope": lambda v: checks.check_rope(ref["rope_cos_sin"], ref["apply_rope"], v),
        "top_p": lambda v: checks.check_top_p(ref["filter_top_p"], v),
        "decode": lambda v: checks.check_decode_step(ref["attend_with_cache"], v),
        "extract": lambda v: checks.check_extract_boxed(ref["extract_boxed"], v),
        "normalize": lambda v: checks.check_normalize(ref["normalize"], v),
        "grade": lambda v: checks.check_grade(ref["grade"], v),
        "majority_vote": lambda v: checks.check_majority_vote(ref["majority_vote"], v),
        "pass_at_k": lambda v: checks.check_pass_at_k(ref["pass_at_k"], v),
        "best_of_n": lambda v: checks.check_best_of_n(ref["best_of_n"], ref["mean_logprob"], v),
        "find_claims": lambda v: checks.check_find_claims(ref["find_claims"], v),
        "revision_prefix": lambda v: checks.check_revision_prefix(ref["revision_prefix"], v),
        "refine_round": lambda v: checks.check_refine_round(ref["refine_round"], v),
    }
    failed = 0
    for name, run in runs.items():
        for visible in (True, False):
            try:
                run(visible)
                print(f"ok     {name} ({'visible' if visible else 'hidden'}) on {checks.device()}")
            except AssertionError as error:
                failed += 1
                print(f"FAILED {name} ({'visible' if visible else 'hidden'}): {error}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one submitted notebook and print a JSON report")
    g.add_argument("notebook", help="the submitted .ipynb")
    g.add_argument("--source", default=None, help="the instructor's notebook (default: found by chapter name)")
    g.add_argument("--device", default=None, help="cuda or cpu for the checks (default: cuda if available)")
    g.add_argument("--timeout", type=float, default=600, help="seconds for the whole notebook (default 600)")
    g.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default 60)")
    c = sub.add_parser("check", help="self-test: run every check against the rfs references")
    c.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    e = sub.add_parser("_execute", help=argparse.SUPPRESS)
    e.add_argument("in_path")
    e.add_argument("out_path")
    e.add_argument("cell_timeout", type=float)
    args = parser.parse_args(argv)
    if args.command == "check":
        if args.device == "cuda" and not torch.cuda.is_available():
            print("no CUDA device here", file=sys.stderr)
            return 2
        return self_check(args.device)
    from autograder import grade

    if args.command == "_execute":
        grade.execute(args.in_path, args.out_path, args.cell_timeout)
        return 0
    report = grade.grade_notebook(args.notebook, args.source, args.device, args.timeout, args.cell_timeout)
    grade.print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
