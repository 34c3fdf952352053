"""Score rfs.verify and HF's math-verify on the labeled pairs of tests/data/verifier_pairs.jsonl.

rfs also gets a pair's problem text where it has one (15 base-subscript pairs); math-verify takes none.

Run: `python tests/compare_math_verify.py` (needs `pip install "math-verify[antlr4_13_2]"`, a test oracle only).
"""

import json
import time
from collections import Counter
from pathlib import Path

PAIRS = Path(__file__).parent / "data" / "verifier_pairs.jsonl"


def math_verify_verdict(prediction: str, reference: str) -> bool:
    """math-verify's verdict, given the same inputs (the reference wrapped as LaTeX math)."""
    from math_verify import parse, verify

    try:
        wrapped = prediction if "\\boxed" in prediction else f"${prediction}$"
        return bool(verify(parse(f"${reference}$"), parse(wrapped)))
    except Exception:
        return False


def score(verdicts: list[bool], rows: list[dict]) -> tuple[float, Counter]:
    """Accuracy against the labels, and the rules of the pairs judged wrongly."""
    wrong = Counter(r["rule"] for v, r in zip(verdicts, rows, strict=True) if v != r["label"])
    return 1 - sum(wrong.values()) / len(rows), wrong


def compare() -> dict:
    """Both verifiers' accuracy and seconds on the labeled pairs."""
    from rfs.verify import grade_many

    rows = [json.loads(line) for line in PAIRS.read_text().splitlines()]
    start = time.perf_counter()
    ours = grade_many([(r["prediction"], r["reference"], r.get("problem")) for r in rows])
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [math_verify_verdict(r["prediction"], r["reference"]) for r in rows]  # it takes no problem text
    theirs_s = time.perf_counter() - start
    (ours_acc, ours_wrong), (theirs_acc, theirs_wrong) = score(ours, rows), score(theirs, rows)
    return {"pairs": len(rows), "rfs": ours_acc, "rfs_seconds": ours_s, "rfs_errors": dict(ours_wrong),
            "math_verify": theirs_acc, "math_verify_seconds": theirs_s, "math_verify_errors": dict(theirs_wrong)}


if __name__ == "__main__":
    print(json.dumps(compare(), indent=2))
