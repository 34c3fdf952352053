"""Evaluating a model on math problems: prompts in, graded answers out, one JSONL record per problem (chapter 3).

Long evaluations must survive interruptions, so results are appended to a JSONL file as each batch of
problems finishes; running the same command again skips the problems already in the file. Each record keeps
the settings that made it, and a rerun with other settings into the same file is refused rather than mixed.
A summary gives accuracy overall, per level and per problem type, plus tokens and speed.

Besides one greedy answer, a problem can be solved by the methods of chapter 4 (self-consistency, best-of-N,
``rfs.scaling``) and chapter 5 (self-refinement, ``rfs.refine``); every record counts the tokens spent on it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from contextlib import nullcontext
from pathlib import Path

from tqdm.auto import tqdm

from rfs.generate import COMPILE_HELP
from rfs.prompts import build_prompt
from rfs.qwen3 import Qwen3
from rfs.refine import CRITICS, self_refine
from rfs.scaling import SCORERS, majority_vote, sample_solutions
from rfs.tokenizer import Tokenizer
from rfs.verify import extract_answer, grade_answer

# How a problem's answer is chosen. On the command line, "cot" is short for greedy with the step-by-step prompt.
METHODS = {
    "greedy": "one greedy solution",
    "self-consistency": "a majority vote over sampled solutions",
    "best-of-n": "the sampled solution a scorer rates highest",
    "self-refine": "the greedy solution, critiqued and revised round by round",
}


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
    """Extract and grade the answer of each output; the problem's answer is output ``chosen``'s, or their vote."""
    answers = [extract_answer(o) for o in outputs]
    verdicts = [a is not None and grade_answer(a, record["answer"]) for a in answers]
    final = answers[chosen] if chosen is not None else majority_vote(answers)
    return {"answers": answers, "verdicts": verdicts, "answer": final,
            "correct": final is not None and grade_answer(final, record["answer"])}


def run_settings(method: str | None = None, prompt: str | None = None, thinking: bool | None = None,
                 samples: int | None = None, temperature: float | None = None, max_new_tokens: int = 384,
                 seed: int = 0, scorer: str = "mean-logprob", rounds: int = 2, critic: str = "self-check",
                 check_samples: int = 1) -> dict:
    """The settings that decide a run's results, as stored in each record: only those ``method`` uses.

    Defaults: without a method, one sample is greedy and several take a vote (self-consistency); self-consistency
    and best-of-n draw 8 samples at temperature 0.8 (they must differ); the prompt is cot for the methods of
    chapters 4-5 and plain otherwise.
    """
    prompt = prompt or ("plain" if method in (None, "greedy") else "cot")
    samples = samples or (8 if method in ("self-consistency", "best-of-n") else 1)
    method = method or ("self-consistency" if samples > 1 else "greedy")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {list(METHODS)}")
    if scorer not in SCORERS or critic not in CRITICS:
        raise ValueError(f"choose a scorer from {list(SCORERS)} and a critic from {list(CRITICS)}")
    if method in ("greedy", "self-refine") and samples != 1:
        raise ValueError(f"{method} gives one solution per problem: for several samples use --method "
                         f"self-consistency or best-of-n")
    settings = {"method": method, "prompt": prompt, "thinking": thinking is not False if prompt == "chat" else None,
                "max_new_tokens": max_new_tokens, "seed": seed}
    if method == "self-refine":
        if temperature:
            raise ValueError("self-refine decodes greedily (the first solution, the checks and the revisions): "
                             "drop the temperature")
        settings |= {"rounds": rounds, "critic": critic, "scorer": scorer}
        return settings | ({"check_samples": check_samples} if critic == "self-check" else {})
    if method == "greedy":  # greedy unless a temperature is given
        return settings | {"temperature": temperature or 0.0}
    settings |= {"temperature": 0.8 if temperature is None else temperature, "samples": samples}
    return settings | ({"scorer": scorer} if method == "best-of-n" else {})


def describe(settings: dict) -> str:
    """A one-line description of a run's settings; an oracle critic is named as one."""
    text = f"{settings['method']} ({METHODS[settings['method']]}); " + ", ".join(
        f"{k} {v}" for k, v in settings.items() if k != "method" and v is not None)
    if settings.get("critic") == "verifier":
        text += ("\nORACLE: the verifier critic reads the reference answers; this is an upper bound, "
                 "not a method that can be deployed")
    return text


def solve(model: Qwen3, tokenizer: Tokenizer, records: list[dict], settings: dict,
          batch_size: int | None = None) -> list[dict]:
    """Solve ``records`` by ``settings["method"]``; for each, its outputs, the one chosen and the tokens spent."""
    if settings["method"] == "self-refine":
        return solve_by_refining(model, tokenizer, records, settings, batch_size)
    completions = sample_solutions(model, tokenizer, [r["problem"] for r in records], settings.get("samples", 1),
                                   settings["temperature"], prompt=settings["prompt"], thinking=settings["thinking"],
                                   max_new_tokens=settings["max_new_tokens"], seed=settings["seed"],
                                   logprobs=settings["method"] == "best-of-n", batch_size=batch_size)
    solved = []
    for samples in completions:
        result = {"outputs": [c.text for c in samples], "chosen": 0 if settings["method"] == "greedy" else None,
                  "sample_tokens": [len(c.token_ids) for c in samples]}  # None: a majority vote chooses
        if settings["method"] == "best-of-n":
            result["scores"] = [SCORERS[settings["scorer"]](c) for c in samples]
            result["chosen"] = result["scores"].index(max(result["scores"]))  # the first of equal scores
        solved.append(result | {"tokens": sum(result["sample_tokens"])})
    return solved


def solve_by_refining(model: Qwen3, tokenizer: Tokenizer, records: list[dict], settings: dict,
                      batch_size: int | None = None) -> list[dict]:
    """Self-refine ``records``: every attempt, the one kept after each round, and the tokens spent by then."""
    references = [r["answer"] for r in records] if settings["critic"] == "verifier" else None  # the oracle's alone
    refined = self_refine(model, tokenizer, [r["problem"] for r in records], settings["rounds"], settings["critic"],
                          references, settings["scorer"], settings["prompt"], settings["thinking"],
                          settings["max_new_tokens"], settings["seed"], batch_size,
                          check_samples=settings.get("check_samples", 1))
    return [{"outputs": [a.text for a in r.attempts], "chosen": r.kept_by_round[-1],
             "chosen_by_round": r.kept_by_round, "tokens_by_round": r.tokens_by_round,
             "scores": [a.score for a in r.attempts], "feedback": [a.feedback for a in r.attempts],
             "stopped": r.stopped, "tokens": r.tokens} for r in refined]


def check_settings(path: Path, done: dict[str, dict], settings: dict) -> None:
    """Refuse to resume a results file written with other settings (the two runs' results would mix)."""
    for record in done.values():
        if record.get("settings") != settings:
            raise ValueError(f"{path} holds results made with other settings ({record.get('settings')}); this run "
                             f"uses {settings}. Pass another --out (or delete the file) to start afresh.")


def evaluate(model, tokenizer: Tokenizer, records: list[dict], prompt: str | None = None,
             thinking: bool | None = None, samples: int | None = None, temperature: float | None = None,
             max_new_tokens: int = 384, batch_size: int = 32, seed: int = 0, out: str | Path | None = None,
             progress: bool = True, method: str | None = None, scorer: str = "mean-logprob", rounds: int = 2,
             critic: str = "self-check", check_samples: int = 1) -> list[dict]:
    """Solve and grade each record (``{unique_id, problem, answer, level, type}``) by ``method`` (see ``METHODS``).

    Without ``method``, one sample is greedy (or sampled at ``temperature``) and several take a majority vote;
    :func:`run_settings` gives the defaults. ``scorer`` (an ``rfs.scaling.SCORERS`` name) rates the samples of
    best-of-n and the attempts of self-refine; ``rounds``, ``critic`` (``rfs.refine.CRITICS``) and
    ``check_samples`` (sampled checks per claim that vote, for self-check) are self-refine's. With ``out``, each
    finished problem is appended to that JSONL file at once and problems already there are skipped, so an
    interrupted run resumes where it stopped; a file written with other settings is refused.
    Returns all result records, in order.
    """
    settings = run_settings(method, prompt, thinking, samples, temperature, max_new_tokens, seed, scorer, rounds,
                            critic, check_samples)
    method = settings["method"]
    out = Path(out) if out else None
    done = {r["id"]: r for r in read_results(out)} if out else {}
    if out:
        check_settings(out, done, settings)
        out.parent.mkdir(parents=True, exist_ok=True)
        _rewrite(out, list(done.values()))  # drops a half-written last line
    todo = [r for r in records if r["unique_id"] not in done]
    correct = sum(r["correct"] for r in done.values())
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=f"evaluating ({method})", unit="problem",
               disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        began = time.perf_counter()
        solved = solve(model, tokenizer, batch, settings, batch_size)
        seconds = (time.perf_counter() - began) / len(batch)
        with open(out, "a") if out else nullcontext() as f:
            for record, result in zip(batch, solved, strict=True):
                text = build_prompt(tokenizer, record["problem"], settings["prompt"], settings["thinking"])
                result = {"id": record["unique_id"], "level": record.get("level"), "type": record.get("type"),
                          "reference": record["answer"], "settings": settings, "prompt": text, **result,
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``rfs eval``."""
    p.add_argument("--model", default="pocket-base", help="model name or folder (default pocket-base)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    p.add_argument("--dataset", default="pocket-math", choices=["pocket-math", "math500"], help="problems to solve")
    p.add_argument("--data", default=None, help="a local MATH-500 JSON/JSONL file (instead of the hub)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N problems")
    p.add_argument("--method", default=None, choices=["greedy", "cot", *list(METHODS)[1:]],
                   help="greedy: one greedy answer (plain prompt); cot: greedy, step by step; self-consistency: "
                        "majority vote of --samples; best-of-n: the sample --scorer rates highest; self-refine: "
                        "critique and revise for --rounds (default: greedy, or a vote when --samples > 1)")
    p.add_argument("--prompt", default=None, choices=["plain", "cot", "chat"],
                   help="plain: ask for the answer; cot: ask to think step by step; chat: the chat format "
                        "(default: cot for the chapter 4-5 methods, else plain)")
    p.add_argument("--thinking", choices=["on", "off"], default=None,
                   help="use the chat format with thinking on or off (implies --prompt chat)")
    p.add_argument("--samples", type=int, default=None,
                   help="samples per problem (default 8 for self-consistency and best-of-n, else 1; "
                        "without --method, >1 takes a majority vote)")
    p.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature (default 0.8 for self-consistency and best-of-n, else 0: greedy)")
    p.add_argument("--scorer", default="mean-logprob", choices=list(SCORERS),
                   help="how best-of-n and self-refine rate a solution: logprob (sum of token log-probabilities), "
                        "mean-logprob (their mean; default) or heuristic (boxed, finished, short)")
    p.add_argument("--rounds", type=int, default=2, help="self-refine: most critique-and-revise rounds (default 2)")
    p.add_argument("--critic", default="self-check", choices=list(CRITICS),
                   help="self-refine: self-check (the model recomputes its own steps; default) or verifier (an "
                        "ORACLE that compares with the reference answer: an upper bound, not a deployable method)")
    p.add_argument("--check-samples", type=int, default=1,
                   help="self-refine with self-check: solve each claim's check this many times at T=0.8 and take "
                        "their vote (default 1: one greedy check, which tends to repeat the solution's mistake)")
    p.add_argument("--max-new-tokens", type=int, default=384, help="default 384")
    p.add_argument("--batch-size", type=int, default=32, help="problems generated together (default 32)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", default=None, help="results JSONL; an existing file is resumed")
    p.add_argument("--report", default=None, metavar="RESULTS", help="regrade a results file and summarize it")
    p.add_argument("--plot", default=None, metavar="PNG", help="save a bar chart of accuracy by level")
    p.add_argument("--int8", action="store_true", help="int8 weight-only model (see rfs.quantize)")
    p.add_argument("--sweep", action="store_true",
                   help="accuracy against compute: run the largest of --sweep-values once and score every smaller "
                        "one (samples of self-consistency and best-of-n, rounds of self-refine)")
    p.add_argument("--sweep-values", type=int, nargs="+", default=None, metavar="N",
                   help="samples (default 1 2 4 8 16) or rounds (default 0 to --rounds) to report")
    p.add_argument("--out-dir", default=None,
                   help="--sweep: folder for results.jsonl, sweep.md, sweep.csv and sweep.png "
                        "(default runs/sweep-METHOD)")


def settings_from_args(args: argparse.Namespace) -> dict:
    """The run settings of ``rfs eval``'s arguments (``--method``, or the older ``--prompt``/``--samples``)."""
    method, prompt = args.method, "chat" if args.thinking else args.prompt
    if method == "cot":
        if prompt not in (None, "cot"):
            raise ValueError("--method cot is greedy decoding with the cot prompt: drop --prompt, or use "
                             "--method greedy --prompt ...")
        method, prompt = "greedy", "cot"
    thinking = None if args.thinking is None else args.thinking == "on"
    return run_settings(method, prompt, thinking, args.samples, args.temperature, args.max_new_tokens, args.seed,
                        args.scorer, args.rounds, args.critic, args.check_samples)


SWEEP_SAMPLES = [1, 2, 4, 8, 16]


def sweep_settings(settings: dict, values: list[int] | None) -> tuple[dict, list[int]]:
    """The settings of a sweep's one run (the largest value) and the values to report (samples or rounds)."""
    knob = "rounds" if settings["method"] == "self-refine" else "samples"
    if knob not in settings:
        raise ValueError("--sweep needs --method self-consistency, best-of-n or self-refine")
    values = sorted(values or (range(settings["rounds"] + 1) if knob == "rounds" else SWEEP_SAMPLES))
    return settings | {knob: values[-1]}, values


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

        settings, out = settings_from_args(args), args.out
        if args.sweep:
            if args.samples is not None:
                raise ValueError("--sweep chooses the numbers of samples itself: give them as --sweep-values")
            settings, values = sweep_settings(settings, args.sweep_values)
            out_dir = Path(args.out_dir or f"runs/sweep-{settings['method']}")
            out = out or out_dir / "results.jsonl"
        records = load_dataset(args.dataset, limit=args.limit, path=args.data)
        model, tokenizer = load_model(args.model, device=args.device), load_tokenizer(args.model)
        if args.int8:
            from rfs.quantize import quantize_int8

            model = quantize_int8(model)
        if args.compile:
            from rfs.generate import compile_model

            model = compile_model(model)
        results = evaluate(model, tokenizer, records, **settings, batch_size=args.batch_size, out=out)
        title = f"{args.model}: {describe(settings)}"
        if args.sweep:
            from rfs.sweep import sweep_rows, write_sweep

            paths = write_sweep(sweep_rows(results, values), out_dir, title)
            print(paths[0].read_text() + "written: " + ", ".join(map(str, paths)))
    summary = summarize(results)
    print_summary(summary)
    if args.plot:
        print(f"plot saved to {plot_by_level(summary, args.plot, title)}")
    return 0
