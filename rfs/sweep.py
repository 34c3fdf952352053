"""Accuracy against compute: run a method once at its largest setting, read off every smaller one (chapter 4).

For self-consistency and best-of-N, sample ``j`` of a problem is drawn with the seed ``seed + j`` whatever else
is generated with it (``rfs.generate``), so the first ``k`` samples of an ``N``-sample run are exactly a
``k``-sample run: one run with 16 samples gives the accuracy at 1, 2, 4, 8 and 16 samples. For
self-refinement, round ``r`` does not depend on the rounds after it, so a run of ``R`` rounds records the
answer kept after each round and gives every run of 0 to ``R`` rounds. The results are a table (Markdown and
CSV) and a plot of accuracy against the compute knob and against the tokens spent.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

from rfs.scaling import majority_vote
from rfs.verify import grade_answer


def correct_at(record: dict, k: int) -> bool:
    """Whether a results record's problem is solved with only ``k`` samples (or after ``k`` refinement rounds)."""
    method = record["settings"]["method"]
    if method == "self-consistency":
        answer = majority_vote(record["answers"][:k])
        return answer is not None and grade_answer(answer, record["reference"])
    if method == "best-of-n":
        scores = record["scores"][:k]
        return record["verdicts"][scores.index(max(scores))]  # the first of equal scores, as best_of_n picks
    if method == "self-refine":  # a problem that stopped early keeps its last state
        return record["verdicts"][record["chosen_by_round"][min(k, len(record["chosen_by_round"]) - 1)]]
    raise ValueError(f"a sweep needs self-consistency, best-of-n or self-refine results, not {method}")


def tokens_at(record: dict, k: int) -> int:
    """Tokens spent on a record's problem with only ``k`` samples (or up to the end of round ``k``)."""
    if record["settings"]["method"] == "self-refine":
        return record["tokens_by_round"][min(k, len(record["tokens_by_round"]) - 1)]
    return sum(record["sample_tokens"][:k])


def sweep_rows(results: list[dict], values: list[int]) -> list[dict]:
    """One row per value: accuracy and mean tokens per problem when the method is cut down to that value."""
    knob = "rounds" if results[0]["settings"]["method"] == "self-refine" else "samples"
    return [{knob: k, "accuracy": sum(correct_at(r, k) for r in results) / len(results),
             "tokens_per_problem": sum(tokens_at(r, k) for r in results) / len(results)} for k in values]


def write_sweep(rows: list[dict], out_dir: str | Path, title: str) -> list[Path]:
    """Write the rows as ``sweep.md`` and ``sweep.csv`` and plot them into ``sweep.png``; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    knob = next(iter(rows[0]))
    lines = [f"# {title}", "", f"| {knob} | accuracy | tokens per problem |", "|---|---|---|"]
    lines += [f"| {r[knob]} | {r['accuracy']:.1%} | {r['tokens_per_problem']:.0f} |" for r in rows]
    (out_dir / "sweep.md").write_text("\n".join(lines) + "\n")
    with open(out_dir / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    values, tokens = [r[knob] for r in rows], [r["tokens_per_problem"] for r in rows]
    accuracy = [100 * r["accuracy"] for r in rows]
    fig, (by_knob, by_tokens) = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    by_knob.plot(values, accuracy, marker="o")
    by_knob.set(xlabel=knob, ylabel="accuracy (%)")
    by_tokens.plot(tokens, accuracy, marker="o")
    by_tokens.set(xlabel="tokens generated per problem")
    if knob == "samples":  # doubling the samples doubles the tokens: log axes space the points evenly
        by_knob.set_xscale("log")
        by_tokens.set_xscale("log")
        by_tokens.set_xticks(tokens, [f"{t:.0f}" for t in tokens], minor=False)
        by_tokens.xaxis.set_minor_formatter(NullFormatter())
        by_knob.xaxis.set_minor_formatter(NullFormatter())
    by_knob.set_xticks(values, [str(v) for v in values])
    fig.suptitle("\n".join(textwrap.fill(line, 120) for line in title.splitlines()), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "sweep.png", dpi=120)
    plt.close(fig)
    return [out_dir / "sweep.md", out_dir / "sweep.csv", out_dir / "sweep.png"]
