"""Evaluating a model on math problems: prompts in, graded answers out, one JSONL record per problem (chapter 3).

Long evaluations must survive interruptions, so results are appended to a JSONL file as each batch of
problems finishes; running the same command again skips the problems already in the file. Each record keeps
the settings that made it, and a rerun with other settings into the same file is refused rather than mixed.
A summary gives accuracy overall, per level and per problem type, plus tokens and speed.

Besides one greedy answer, a problem can be solved by the methods of chapter 4 (self-consistency, best-of-N,
``rfs.scaling``) and chapter 5 (self-refinement, ``rfs.refine``); every record counts the tokens spent on it.
A run's method and knobs are one :class:`rfs.settings.RunSettings` (importable from here too).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from rfs.prompts import build_prompt, defaults_for
from rfs.qwen3 import Qwen3
from rfs.refine import choose_critic, self_refine
from rfs.scaling import SCORERS, majority_vote, sample_solutions
from rfs.settings import METHODS, RunSettings
from rfs.tokenizer import Tokenizer
from rfs.verify import extract_answer, grade_answer


def read_results(path: str | Path) -> list[dict]:
    """Records of a results file. A last line cut short by an interrupt is dropped (it is redone on resume)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _rewrite(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def grade_problem(record: dict, outputs: list[str], chosen: int | None = None) -> dict:
    """Extract and grade the answer of each output; the problem's answer is output ``chosen``'s, or their vote.

    The problem text, where the record has it, lets the verifier accept an answer in a requested base written
    without its subscript (see :func:`rfs.verify.grade_answer`).
    """
    reference, problem = record["answer"], record.get("problem")
    answers = [extract_answer(o) for o in outputs]
    verdicts = [a is not None and grade_answer(a, reference, problem) for a in answers]
    final = answers[chosen] if chosen is not None else majority_vote(answers)
    return {"answers": answers, "verdicts": verdicts, "answer": final,
            "correct": final is not None and grade_answer(final, reference, problem)}


def describe(stored: dict) -> str:
    """A one-line description of a run's settings as a record stores them; an oracle critic is named as one."""
    text = f"{stored['method']} ({METHODS[stored['method']]}); " + ", ".join(
        f"{k} {v}" for k, v in stored.items() if k != "method" and v is not None)
    if stored.get("critic") == "verifier":
        text += ("\nORACLE: the verifier critic reads the reference answers; this is an upper bound, "
                 "not a method that can be deployed")
    return text


def solve(model: Qwen3, tokenizer: Tokenizer, records: list[dict], settings: RunSettings,
          batch_size: int | None = None) -> list[dict]:
    """Solve ``records`` by ``settings.method``; for each, its outputs, the one chosen and the tokens spent."""
    if settings.method == "self-refine":
        return solve_by_refining(model, tokenizer, records, settings, batch_size)
    completions = sample_solutions(model, tokenizer, [r["problem"] for r in records], settings.samples,
                                   settings.temperature, prompt=settings.prompt, thinking=settings.thinking,
                                   max_new_tokens=settings.max_new_tokens, seed=settings.seed,
                                   logprobs=settings.method == "best-of-n", batch_size=batch_size)
    solved = []
    for samples in completions:
        result = {"outputs": [c.text for c in samples], "chosen": 0 if settings.method == "greedy" else None,
                  "sample_tokens": [len(c.token_ids) for c in samples]}  # None: a majority vote chooses
        if settings.method == "best-of-n":
            result["scores"] = [SCORERS[settings.scorer](c) for c in samples]
            result["chosen"] = result["scores"].index(max(result["scores"]))  # the first of equal scores
        solved.append(result | {"tokens": sum(result["sample_tokens"])})
    return solved


def solve_by_refining(model: Qwen3, tokenizer: Tokenizer, records: list[dict], settings: RunSettings,
                      batch_size: int | None = None) -> list[dict]:
    """Self-refine ``records``: every attempt, the one kept after each round, and the tokens spent by then."""
    references = [r["answer"] for r in records] if settings.critic == "verifier" else None  # the oracle's alone
    refined = self_refine(model, tokenizer, [r["problem"] for r in records], settings.rounds, settings.critic,
                          references, settings.scorer, settings.prompt, settings.thinking,
                          settings.max_new_tokens, settings.seed, batch_size, check_samples=settings.check_samples)
    return [{"outputs": [a.text for a in r.attempts], "chosen": r.kept_by_round[-1],
             "chosen_by_round": r.kept_by_round, "tokens_by_round": r.tokens_by_round,
             "scores": [a.score for a in r.attempts], "feedback": [a.feedback for a in r.attempts],
             "stopped": r.stopped, "tokens": r.tokens} for r in refined]


def check_settings(path: Path, done: dict[str, dict], stored: dict) -> None:
    """Refuse to resume a results file written with other settings (the two runs' results would mix)."""
    for record in done.values():
        if record.get("settings") != stored:
            raise ValueError(f"{path} holds results made with other settings ({record.get('settings')}); this run "
                             f"uses {stored}. Pass another --out (or delete the file) to start afresh.")


def evaluate(model: Qwen3, tokenizer: Tokenizer, records: list[dict], settings: RunSettings | None = None,
             out: str | Path | None = None, batch_size: int = 32, progress: bool = True) -> list[dict]:
    """Solve and grade each record (``{unique_id, problem, answer, level, type}``) as ``settings`` say.

    ``settings`` default to ``RunSettings()``: one greedy answer to the plain prompt; for instance
    ``evaluate(model, tokenizer, records, RunSettings(method="self-consistency", samples=4))`` takes a vote
    of 4 samples. Each result record stores ``settings.record()``. With ``out``, each finished problem is
    appended to that JSONL file at once and problems already there are skipped, so an interrupted run resumes
    where it stopped; a file written with other settings is refused. Returns all result records, in order.
    """
    settings = settings or RunSettings()
    if settings.max_new_tokens is None:
        settings = replace(settings, max_new_tokens=defaults_for(tokenizer).max_new_tokens)
    if settings.method == "self-refine":  # the model's critic, refused where it cannot judge this model
        settings = replace(settings, critic=choose_critic(tokenizer, settings.critic))
    stored = settings.record()
    out = Path(out) if out else None
    done = {r["id"]: r for r in read_results(out)} if out else {}
    if out:
        check_settings(out, done, stored)
        out.parent.mkdir(parents=True, exist_ok=True)
        _rewrite(out, list(done.values()))  # drops a half-written last line
    todo = [r for r in records if r["unique_id"] not in done]
    correct = sum(r["correct"] for r in done.values())
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=f"evaluating ({settings.method})",
               unit="problem", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        began = time.perf_counter()
        solved = solve(model, tokenizer, batch, settings, batch_size)
        seconds = (time.perf_counter() - began) / len(batch)
        with open(out, "a") if out else nullcontext() as f:
            for record, result in zip(batch, solved, strict=True):
                text = build_prompt(tokenizer, record["problem"], settings.prompt, settings.thinking)
                result = {"id": record["unique_id"], "level": record.get("level"), "type": record.get("type"),
                          "problem": record["problem"], "reference": record["answer"], "settings": stored,
                          "prompt": text, **result,
                          **grade_problem(record, result["outputs"], result["chosen"]), "seconds": seconds}
                done[result["id"]] = result
                correct += result["correct"]
                if f is not None:  # written at once, so an interrupt loses at most this batch
                    f.write(json.dumps(result) + "\n")
                    f.flush()
        bar.update(len(batch))
        bar.set_postfix(accuracy=f"{correct / max(len(done), 1):.1%}")
    bar.close()
    return [done[r["unique_id"]] for r in records if r["unique_id"] in done]


def wrong_answer_agreement(results: list[dict]) -> float | None:
    """Among pairs of wrong samples of the same problem, the fraction that give the same answer.

    Near 1, mistakes are systematic and majority voting cannot fix them; low, they are independent slips.
    """
    agree = pairs = 0
    for r in results:
        wrong = [a for a, ok in zip(r["answers"], r["verdicts"], strict=True) if not ok and a is not None]
        for i in range(len(wrong)):
            for j in range(i + 1, len(wrong)):
                pairs += 1
                agree += wrong[i] == wrong[j]
    return agree / pairs if pairs else None


def summarize(results: list[dict]) -> dict:
    """Accuracy overall, per level and per type; mean per-sample accuracy; the run's settings; tokens and speed.

    For self-refine, "samples" are the attempts, and ``stopped`` counts why refinement ended.
    """
    def accuracy(rows: list[dict]) -> float:
        return sum(r["correct"] for r in rows) / len(rows) if rows else 0.0

    by_level, by_type = defaultdict(list), defaultdict(list)
    for r in results:
        by_level[str(r.get("level"))].append(r)
        by_type[str(r.get("type"))].append(r)
    tokens = sum(r["tokens"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    verdicts = [v for r in results for v in r["verdicts"]]
    return {"problems": len(results), "settings": results[0].get("settings") if results else None,
            "accuracy": accuracy(results),
            "sample_accuracy": sum(verdicts) / len(verdicts) if verdicts else 0.0,
            "wrong_answer_agreement": wrong_answer_agreement(results),
            "by_level": {k: accuracy(v) for k, v in sorted(by_level.items())},
            "by_type": {k: accuracy(v) for k, v in sorted(by_type.items())},
            "tokens": tokens, "tokens_per_problem": tokens / len(results) if results else 0.0,
            "tokens_per_s": tokens / seconds if seconds else 0.0, "seconds": seconds,
            "stopped": dict(Counter(r["stopped"] for r in results if "stopped" in r))}


def regrade(results: list[dict]) -> list[dict]:
    """Grade a results file again from its stored outputs (after the verifier changed, say)."""
    return [r | grade_problem({"answer": r["reference"]}, r["outputs"], r.get("chosen")) for r in results]


def print_summary(summary: dict) -> None:
    """Print a summary as a short report."""
    refined = bool(summary["stopped"])
    if summary["settings"]:
        print(describe(summary["settings"]))
    print(f"accuracy {summary['accuracy']:.1%} on {summary['problems']} problems"
          f" (per {'attempt' if refined else 'sample'} {summary['sample_accuracy']:.1%})")
    if refined:
        print("refinement stopped: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["stopped"].items())))
    elif summary["wrong_answer_agreement"] is not None:
        print(f"wrong samples agree with each other {summary['wrong_answer_agreement']:.1%} of the time")
    for key in ("by_level", "by_type"):
        print(f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v:.1%}" for k, v in summary[key].items()))
    print(f"{summary['tokens']} tokens generated ({summary['tokens_per_problem']:.0f} per problem), "
          f"{summary['tokens_per_s']:.0f} tokens/s, {summary['seconds']:.1f} s")


def plot_by_level(summary: dict, path: str | Path, title: str = "") -> Path:
    """Bar chart of accuracy per difficulty level, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(summary["by_level"])
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(levels, [100 * summary["by_level"][k] for k in levels], color="tab:blue")
    ax.set(xlabel="level", ylabel="accuracy (%)", ylim=(0, 100), title=title or "accuracy by level")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


SWEEP_SAMPLES = [1, 2, 4, 8, 16]


def sweep_settings(settings: RunSettings, values: list[int] | None) -> tuple[RunSettings, list[int]]:
    """The settings of a sweep's one run (the largest value) and the values to report (samples or rounds)."""
    if settings.method not in ("self-consistency", "best-of-n", "self-refine"):
        raise ValueError("a sweep needs the method self-consistency, best-of-n or self-refine")
    knob = "rounds" if settings.method == "self-refine" else "samples"
    values = sorted(values or (range(settings.rounds + 1) if knob == "rounds" else SWEEP_SAMPLES))
    return replace(settings, **{knob: values[-1]}), values
