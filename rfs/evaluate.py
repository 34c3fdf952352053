"""Evaluating a model on math problems: prompts in, graded answers out, one JSONL record per problem (chapter 3).

Long evaluations must survive interruptions, so results are appended to a JSONL file as each batch of
problems finishes; running the same command again skips the problems already in the file. A summary gives
accuracy overall, per level and per problem type, plus tokens and speed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path

from tqdm.auto import tqdm

from rfs.generate import generate
from rfs.prompts import build_prompt
from rfs.scaling import majority_vote
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


def grade_problem(record: dict, outputs: list[str]) -> dict:
    """Extract and grade the answer of each sample; the problem's answer is their majority vote."""
    answers = [extract_answer(o) for o in outputs]
    verdicts = [a is not None and grade_answer(a, record["answer"]) for a in answers]
    final = majority_vote(answers) if len(answers) > 1 else answers[0]
    return {"answers": answers, "verdicts": verdicts, "answer": final,
            "correct": final is not None and grade_answer(final, record["answer"])}


def evaluate(model, tokenizer: Tokenizer, records: list[dict], prompt: str = "plain", thinking: bool | None = None,
             samples: int = 1, temperature: float = 0.0, max_new_tokens: int = 384, batch_size: int = 32,
             seed: int = 0, out: str | Path | None = None, progress: bool = True) -> list[dict]:
    """Generate and grade an answer for each record (``{unique_id, problem, answer, level, type}``).

    With ``out``, each finished problem is appended to that JSONL file at once and problems already there
    are skipped, so an interrupted run resumes where it stopped. Returns all result records, in order.
    """
    out = Path(out) if out else None
    done = {r["id"]: r for r in read_results(out)} if out else {}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        _rewrite(out, list(done.values()))  # drops a half-written last line
    todo = [r for r in records if r["unique_id"] not in done]
    correct = sum(r["correct"] for r in done.values())
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="evaluating", unit="problem",
               disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        prompts = [build_prompt(tokenizer, r["problem"], prompt, thinking) for r in batch]
        began = time.perf_counter()
        completions = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, temperature=temperature,
                               n=samples, seed=seed)
        seconds = (time.perf_counter() - began) / len(batch)
        with open(out, "a") if out else nullcontext() as f:
            for record, text, samples_of_problem in zip(batch, prompts, completions, strict=True):
                result = {"id": record["unique_id"], "level": record.get("level"), "type": record.get("type"),
                          "reference": record["answer"], "prompt": text,
                          "outputs": [c.text for c in samples_of_problem],
                          **grade_problem(record, [c.text for c in samples_of_problem]),
                          "tokens": sum(len(c.token_ids) for c in samples_of_problem), "seconds": seconds}
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
    """Accuracy overall, per level and per type; mean per-sample accuracy; tokens and speed."""
    def accuracy(rows: list[dict]) -> float:
        return sum(r["correct"] for r in rows) / len(rows) if rows else 0.0

    by_level, by_type = defaultdict(list), defaultdict(list)
    for r in results:
        by_level[str(r.get("level"))].append(r)
        by_type[str(r.get("type"))].append(r)
    tokens = sum(r["tokens"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    verdicts = [v for r in results for v in r["verdicts"]]
    return {"problems": len(results), "accuracy": accuracy(results),
            "sample_accuracy": sum(verdicts) / len(verdicts) if verdicts else 0.0,
            "wrong_answer_agreement": wrong_answer_agreement(results),
            "by_level": {k: accuracy(v) for k, v in sorted(by_level.items())},
            "by_type": {k: accuracy(v) for k, v in sorted(by_type.items())},
            "tokens": tokens, "tokens_per_s": tokens / seconds if seconds else 0.0, "seconds": seconds}


def regrade(results: list[dict]) -> list[dict]:
    """Grade a results file again from its stored outputs (after the verifier changed, say)."""
    return [r | grade_problem({"answer": r["reference"]}, r["outputs"]) for r in results]


def print_summary(summary: dict) -> None:
    """Print a summary as a short report."""
    print(f"accuracy {summary['accuracy']:.1%} on {summary['problems']} problems"
          f" (per sample {summary['sample_accuracy']:.1%})")
    if summary["wrong_answer_agreement"] is not None:
        print(f"wrong samples agree with each other {summary['wrong_answer_agreement']:.1%} of the time")
    for key in ("by_level", "by_type"):
        print(f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v:.1%}" for k, v in summary[key].items()))
    print(f"{summary['tokens']} tokens, {summary['tokens_per_s']:.0f} tokens/s, {summary['seconds']:.1f} s")


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


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``rfs eval``."""
    p.add_argument("--model", default="pocket-base", help="model name or folder (default pocket-base)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--dataset", default="pocket-math", choices=["pocket-math", "math500"], help="problems to solve")
    p.add_argument("--data", default=None, help="a local MATH-500 JSON/JSONL file (instead of the hub)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N problems")
    p.add_argument("--prompt", default="plain", choices=["plain", "cot", "chat"],
                   help="plain: ask for the answer; cot: ask to think step by step; chat: the chat format")
    p.add_argument("--thinking", choices=["on", "off"], default=None,
                   help="use the chat format with thinking on or off (implies --prompt chat)")
    p.add_argument("--samples", type=int, default=1, help="samples per problem; >1 takes a majority vote")
    p.add_argument("--temperature", type=float, default=None, help="default 0 (greedy) for 1 sample, else 0.8")
    p.add_argument("--max-new-tokens", type=int, default=384, help="default 384")
    p.add_argument("--batch-size", type=int, default=32, help="problems generated together (default 32)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", default=None, help="results JSONL; an existing file is resumed")
    p.add_argument("--report", default=None, metavar="RESULTS", help="regrade a results file and summarize it")
    p.add_argument("--plot", default=None, metavar="PNG", help="save a bar chart of accuracy by level")
    p.add_argument("--int8", action="store_true", help="int8 weight-only model (see rfs.quantize)")


def main(args: argparse.Namespace) -> int:
    """Entry point of ``rfs eval``."""
    if args.report:
        results = regrade(read_results(args.report))
        if not results:
            raise FileNotFoundError(f"no results in {args.report}")
        title = Path(args.report).stem
    else:
        from rfs.datasets import load_dataset
        from rfs.hub import load_model, load_tokenizer

        records = load_dataset(args.dataset, limit=args.limit, path=args.data)
        model, tokenizer = load_model(args.model, device=args.device), load_tokenizer(args.model)
        if args.int8:
            from rfs.quantize import quantize_int8

            model = quantize_int8(model)
        temperature = args.temperature if args.temperature is not None else (0.0 if args.samples == 1 else 0.8)
        prompt = "chat" if args.thinking else args.prompt
        results = evaluate(model, tokenizer, records, prompt=prompt, thinking=args.thinking != "off",
                           samples=args.samples, temperature=temperature, max_new_tokens=args.max_new_tokens,
                           batch_size=args.batch_size, seed=args.seed, out=args.out)
        title = f"{args.model}, {prompt}"
    summary = summarize(results)
    print_summary(summary)
    if args.plot:
        print(f"plot saved to {plot_by_level(summary, args.plot, title)}")
    return 0
