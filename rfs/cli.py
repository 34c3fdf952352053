"""The ``rfs`` command: thin front ends over the library (run ``rfs --help`` or ``rfs COMMAND --help``).

Every command does its work through the same functions the lessons teach; this file only parses arguments,
checks them and prints. It is the one place that parses arguments: library functions take plain arguments or
a settings dataclass. Bad or conflicting flags are refused by the parser with a message that says what to use
instead. Heavy imports (torch) happen inside the commands, so that ``rfs --help`` and argument errors answer at
once.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_MODEL = "pocket-base"
# Names the library defines, repeated here so that the parser needs no torch; tests/test_cli.py checks that they
# match rfs.evaluate.METHODS, rfs.scaling.SCORERS, rfs.refine.CRITICS, rfs.qwen3.CONFIGS and the pocket presets.
METHODS = ("greedy", "self-consistency", "best-of-n", "self-refine")
SCORERS = ("logprob", "mean-logprob", "heuristic")
CRITICS = ("verifier", "self-check")
BENCH_SIZES = ("0.6b", "1.7b", "4b", "8b", "14b", "32b", "tiny", "pocket")
POCKET_PRESETS = ("base", "reasoning")
GRPO_PRESETS = ("grpo", "dr-grpo", "dapo", "gspo", "cispo", "olmo3", "deepseek-v32")
GRPO_CHOICES = {"advantage": ("grpo", "dr-grpo", "gdpo"), "ratio": ("none", "token", "sequence", "cispo"),
                "aggregation": ("seq-sum", "seq-mean", "token-mean", "constant"),
                "lr_schedule": ("constant", "cosine"), "prompt": ("plain", "cot", "chat")}
DTYPES = ("float32", "bfloat16", "float16")

EPILOG = """examples (on the pocket models that ship with rfs):
  rfs generate "What is 17 + 25?" --chat --thinking off
  rfs chat
  rfs eval --method cot --limit 50
run `rfs COMMAND --help` for a command's options"""
EVAL_EXAMPLES = """examples:
  rfs eval --method cot                                   greedy, step by step
  rfs eval --method self-consistency --samples 8          majority vote of 8 samples at T=0.8
  rfs eval --method best-of-n --samples 8 --scorer logprob
  rfs eval --method self-refine --rounds 2                the model checks its own steps and revises
  rfs eval --method self-refine --critic verifier         ORACLE critic: an upper bound, not a method
  rfs eval --method best-of-n --sweep                     accuracy at 1 2 4 8 16 samples: table and plot
  rfs eval --report results.jsonl                         regrade and summarize a results file"""
TRAIN_EXAMPLES = """examples:
  rfs train grpo --steps 60 --out runs/grpo                       chapter 6's GRPO on pocket-base
  rfs train grpo --preset dapo --lr 1e-4 --out runs/dapo          a chapter 7 variant, one option changed
  rfs train grpo --out runs/grpo                                  run again: resumes from the checkpoint
  torchrun --nproc_per_node 2 -m rfs.cli train grpo --out runs/ddp   data-parallel over 2 processes
  rfs plot runs/grpo/metrics.csv                                  reward, accuracy, length, KL against steps"""
# Help for the options of `rfs train grpo`; each is a field of rfs.rl.presets.GRPOSettings (read without torch).
GRPO_HELP = {
    "steps": "training steps", "prompts_per_step": "training problems per step",
    "group_size": "samples per problem (G)", "temperature": "sampling temperature of the rollouts",
    "top_p": "nucleus sampling of the rollouts", "max_new_tokens": "longest rollout",
    "prompt": "prompt style (rfs.prompts): cot, plain or chat", "levels": "pocket-math levels to train on",
    "train_problems": "size of the training pool", "lr": "peak learning rate",
    "lr_schedule": "constant or cosine", "warmup_steps": "linear warm-up steps",
    "min_lr_ratio": "cosine: final learning rate as a share of --lr", "weight_decay": "AdamW weight decay",
    "max_grad_norm": "gradient clipping", "updates_per_batch": "optimizer steps per batch of rollouts",
    "micro_batch": "rows per forward/backward pass", "advantage": "grpo, dr-grpo or gdpo",
    "ratio": "none, token, sequence or cispo", "eps_low": "clip below 1 - eps_low",
    "eps_high": "clip above 1 + eps_high", "aggregation": "seq-sum, seq-mean, token-mean or constant",
    "tis_cap": "truncated importance sampling cap (off by default)", "kl_coef": "k3 KL to the reference",
    "kl_reweight": "weight the KL by the ratio (DeepSeek-V3.2)",
    "offpolicy_delta": "off-policy sequence masking threshold", "overlong_filter": "leave truncated rollouts out",
    "dynamic_sampling": "replace zero-signal groups by fresh prompts", "max_sampling_rounds": "dynamic sampling",
    "eval_every": "greedy test evaluation every N steps (0: never)", "eval_problems": "test problems evaluated",
    "eval_max_new_tokens": "longest greedy test answer", "checkpoint_every": "checkpoint every N steps",
    "seed": "random seed of the run", "threads": "CPU threads",
}


# --- Checking values as they are parsed -----------------------------------------------------------------------

def number(text: str, kind: type[int] | type[float]) -> int | float:
    """``text`` read as an ``int`` or ``float``, or an argparse error that says so."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None


def positive_int(text: str) -> int:
    """A whole number of 1 or more (counts: samples, tokens, problems, threads)."""
    value = number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use a whole number of 1 or more")
    return value


def natural(text: str) -> int:
    """A whole number of 0 or more (rounds of refinement)."""
    value = number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0: use a whole number of 0 or more")
    return value


def temperature(text: str) -> float:
    """A sampling temperature: 0 (greedy) or more."""
    value = number(text, float)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} is not 0 or more: use 0 for greedy decoding, or a positive "
                                         "temperature such as 0.8 to sample")
    return value


def probability_mass(text: str) -> float:
    """A top-p value: a share of the probability in (0, 1]."""
    value = number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 1]: use a share of the probability such as "
                                         "0.9 (1 keeps every token)")
    return value


def non_negative(text: str) -> float:
    """A number of 0 or more (learning rates, coefficients, clipping ranges)."""
    value = number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0: use a number of 0 or more")
    return value


def prompt_text(text: str) -> str:
    """A prompt: some text for the model to continue."""
    if not text.strip():
        raise argparse.ArgumentTypeError('the prompt is empty: give the text to continue, e.g. "What is 2 + 3?"')
    return text


# --- Flags every command that runs a model shares --------------------------------------------------------------

def add_machine_args(p: argparse.ArgumentParser, model: str | None = DEFAULT_MODEL, compile: bool = True) -> None:
    """``--model`` (when the command loads one; default ``model``), ``--device``, ``--dtype``, ``--threads`` and,
    where it applies, ``--compile``."""
    if model:
        p.add_argument("--model", default=model,
                       help=f"model name or folder (default {model}; `rfs models` lists names)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--dtype", default=None, choices=DTYPES,
                   help="compute dtype (default: bfloat16 where the device computes it natively, else float32)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads (default: torch's choice, one per core; 1 in a pytest-xdist worker)")
    if compile:
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the model: the first steps compile (about a minute for a pocket "
                            "model on a CPU), later ones run faster")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    """How ``rfs generate`` and ``rfs chat`` pick each next token."""
    p.add_argument("--max-new-tokens", type=positive_int, default=256,
                   help="stop after this many new tokens (default 256)")
    p.add_argument("--temperature", type=temperature, default=0.0, help="0 means greedy decoding (default 0)")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--top-p", type=probability_mass, default=None,
                   help="sample only within the nucleus of probability p, in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="random seed for sampling (default 0)")


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads``; without it, a pytest-xdist worker takes one thread so that workers do not compete."""
    import torch

    threads = args.threads or (1 if os.environ.get("PYTEST_XDIST_WORKER") else None)
    if threads:
        torch.set_num_threads(threads)


def load(args: argparse.Namespace):
    """The model and tokenizer that ``--model``, ``--device``, ``--dtype``, ``--compile`` (and ``--int8``) ask for."""
    import torch

    from rfs.generate import compile_model
    from rfs.hub import load_model, load_tokenizer

    set_threads(args)
    dtype = getattr(torch, args.dtype) if args.dtype else None
    model = load_model(args.model, device=args.device, dtype=dtype)
    if getattr(args, "int8", False):  # rfs eval's option
        from rfs.quantize import quantize_int8

        model = quantize_int8(model)
    return compile_model(model) if args.compile else model, load_tokenizer(args.model)


# --- The commands ----------------------------------------------------------------------------------------------

def cmd_generate(args: argparse.Namespace) -> int:
    """Continue a prompt (or answer it as a chat message with --chat), streaming the text."""
    from rfs.generate import generate, stream

    model, tokenizer = load(args)
    prompt = args.prompt
    if args.chat:
        prompt = tokenizer.render_chat([{"role": "user", "content": prompt}], thinking=args.thinking != "off")
    sampling = dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                    top_p=args.top_p, seed=args.seed)
    if args.n == 1:
        for piece in stream(model, tokenizer, prompt, **sampling):
            print(piece, end="", flush=True)
        print()
        return 0
    for i, completion in enumerate(generate(model, tokenizer, [prompt], n=args.n, **sampling)[0]):
        print(f"--- sample {i + 1} ({len(completion.token_ids)} tokens, {completion.finish_reason})")
        print(completion.text)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """A multi-turn chat in the terminal; the model's reply streams as it is generated."""
    from rfs.generate import stream

    model, tokenizer = load(args)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    print(f"Chatting with {args.model} (thinking {args.thinking}). Empty line or Ctrl-D quits.")
    while True:
        try:
            user = input("you> ").strip()
        except EOFError:
            break
        if not user:
            break
        messages.append({"role": "user", "content": user})
        prompt = tokenizer.render_chat(messages, thinking=args.thinking == "on")
        print("model> ", end="", flush=True)
        reply = ""
        for piece in stream(model, tokenizer, prompt, max_new_tokens=args.max_new_tokens,
                            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed):
            reply += piece
            print(piece, end="", flush=True)
        print()
        messages.append({"role": "assistant", "content": reply})
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List the known model names, their sizes and whether each is available offline."""
    from rfs.hub import list_models

    rows = list_models()
    print(f"{'name':<20} {'params':<8} {'available':<10} source")
    for r in rows:
        print(f"{r['name']:<20} {r['params']:<8} {'yes' if r['cached'] else 'no':<10} {r['source']}")
    print("\nFetch a hub model once with `rfs download NAME`; pocket models ship with rfs.")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download a model from the Hugging Face hub into its local cache."""
    from rfs.hub import download

    print(download(args.name))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark: ``generate`` (rfs against transformers) or ``samples`` (shared prefill against one call per
    sample)."""
    import torch

    from rfs.bench import bench_generate, bench_samples

    set_threads(args)
    dtype = getattr(torch, args.dtype or "bfloat16")
    if args.what == "samples":
        bench_samples(args.size, args.problems, args.samples or 8, args.prompt_tokens, args.new_tokens or 64, dtype,
                      args.seed)
    else:
        bench_generate(args.size, args.batch, args.samples or 1, args.prompt_tokens, args.new_tokens or 128,
                       args.temperature, dtype, args.int8, args.compile, args.repeats, not args.no_transformers)
    return 0


def eval_settings(args: argparse.Namespace):
    """The :class:`rfs.evaluate.RunSettings` of ``rfs eval``'s flags (``--method cot`` is greedy with the cot
    prompt; ``--thinking`` implies the chat prompt)."""
    from rfs.evaluate import RunSettings

    method, prompt = args.method, args.prompt
    if method == "cot":
        method, prompt = "greedy", "cot"
    return RunSettings(method=method, prompt=prompt, thinking=None if args.thinking is None else args.thinking == "on",
                       samples=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                       seed=args.seed, scorer=args.scorer, rounds=args.rounds, critic=args.critic,
                       check_samples=args.check_samples)


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model on a math dataset, by greedy decoding or by a method of chapters 4-5; results resume."""
    from pathlib import Path

    from rfs.evaluate import describe, evaluate, plot_by_level, print_summary, read_results, regrade, summarize

    if args.report:
        results = regrade(read_results(args.report))
        if not results:
            raise FileNotFoundError(f"no results in {args.report}")
        title = Path(args.report).stem
    else:
        from rfs.datasets import load_dataset
        from rfs.evaluate import sweep_settings

        settings, out = eval_settings(args), args.out
        if args.sweep:
            settings, values = sweep_settings(settings, args.sweep_values)
            out_dir = Path(args.out_dir or f"runs/sweep-{settings.method}")
            out = out or out_dir / "results.jsonl"
        records = load_dataset(args.dataset, limit=args.limit, path=args.data)
        model, tokenizer = load(args)
        results = evaluate(model, tokenizer, records, settings, out=out, batch_size=args.batch_size)
        title = f"{args.model}: {describe(settings.record())}"
        if args.sweep:
            from rfs.sweep import sweep_rows, write_sweep

            paths = write_sweep(sweep_rows(results, values), out_dir, title)
            print(paths[0].read_text() + "written: " + ", ".join(map(str, paths)))
    summary = summarize(results)
    print_summary(summary)
    if args.plot:
        print(f"plot saved to {plot_by_level(summary, args.plot, title)}")
    return 0


def cmd_pocket(args: argparse.Namespace) -> int:
    """Rebuild the pocket data and models (see ``rfs pocket --help``)."""
    from rfs.pocket import train

    if args.pocket_command == "data":
        for path in train.write_data(args.out, args.train_size):
            print(f"wrote {path}")
        return 0
    set_threads(args)
    folder = train.train(args.preset, args.out, args.work_dir, quick=args.quick, resume=not args.fresh,
                         seed=args.seed, init=args.init)
    print(f"model saved to {folder}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model with reinforcement learning: GRPO and its variants (chapters 6-7); a rerun resumes."""
    from rfs.rl.presets import settings_for
    from rfs.rl.trainer import TrainingStopped, train_grpo

    overrides = {name: getattr(args, name) for name in GRPO_HELP if getattr(args, name, None) is not None}
    if "levels" in overrides:
        overrides["levels"] = tuple(overrides["levels"])
    if args.format_reward:
        overrides["rewards"] = {"correctness": 1.0, "format": args.format_reward}
    settings = settings_for(args.preset, model=args.model, **overrides)
    try:
        out = train_grpo(settings, args.out, fresh=args.fresh)
    except TrainingStopped as error:
        print(f"rfs train grpo: stopped: {error}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the first process reports
        print(f"model saved to {out}; evaluate it with `rfs eval --model {out} --method cot`; "
              f"curves in {out / 'metrics.png'}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw a training run's metrics.csv (reward, accuracy, length, KL, entropy against steps) as a PNG."""
    from rfs.plot import plot_metrics

    print(f"plot saved to {plot_metrics(args.metrics, args.out)}")
    return 0


# --- Flags that do not fit together ------------------------------------------------------------------------------

def generate_conflicts(args: argparse.Namespace) -> str | None:
    """What is wrong with ``rfs generate``'s flags taken together, or None."""
    if args.thinking is not None and not args.chat:
        return "--thinking applies to the chat format: add --chat, or drop --thinking"
    return None


def eval_conflicts(args: argparse.Namespace) -> str | None:
    """What is wrong with ``rfs eval``'s flags taken together, or None."""
    if args.report:
        return None
    if args.method == "cot" and args.prompt not in (None, "cot"):
        return "--method cot is greedy decoding with the cot prompt: drop --prompt, or use --method greedy --prompt ..."
    if args.thinking is not None and args.prompt not in (None, "chat"):
        return (f"--thinking {args.thinking} uses the chat prompt, not the {args.prompt} prompt: drop --prompt "
                f"{args.prompt}, or drop --thinking")
    if args.sweep and args.samples is not None:
        return "--sweep chooses the numbers of samples itself: give them as --sweep-values"
    if args.sweep and args.method not in ("self-consistency", "best-of-n", "self-refine"):
        return "--sweep needs --method self-consistency, best-of-n or self-refine"
    if args.sweep_values and args.method != "self-refine" and min(args.sweep_values) < 1:
        return "--sweep-values of samples start at 1 (0 rounds is a self-refine value only)"
    return None


# --- The parser --------------------------------------------------------------------------------------------------

def add_eval_parser(sub) -> None:
    """``rfs eval``."""
    p = sub.add_parser("eval", help="evaluate a model on pocket-math or MATH-500", description=cmd_eval.__doc__,
                       epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_machine_args(p)
    p.add_argument("--dataset", default="pocket-math", choices=["pocket-math", "math500"], help="problems to solve")
    p.add_argument("--data", default=None, help="a local MATH-500 JSON/JSONL file (instead of the hub)")
    p.add_argument("--limit", type=positive_int, default=None, help="evaluate only the first N problems")
    p.add_argument("--method", default=None, choices=["greedy", "cot", *METHODS[1:]],
                   help="greedy: one greedy answer (plain prompt); cot: greedy, step by step; self-consistency: "
                        "majority vote of --samples; best-of-n: the sample --scorer rates highest; self-refine: "
                        "critique and revise for --rounds (default: greedy, or a vote when --samples > 1)")
    p.add_argument("--prompt", default=None, choices=["plain", "cot", "chat"],
                   help="plain: ask for the answer; cot: ask to think step by step; chat: the chat format "
                        "(default: cot for the chapter 4-5 methods, else plain)")
    p.add_argument("--thinking", choices=["on", "off"], default=None,
                   help="use the chat format with thinking on or off (implies --prompt chat)")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="samples per problem (default 8 for self-consistency and best-of-n, else 1; "
                        "without --method, >1 takes a majority vote)")
    p.add_argument("--temperature", type=temperature, default=None,
                   help="sampling temperature (default 0.8 for self-consistency and best-of-n, else 0: greedy)")
    p.add_argument("--scorer", default="mean-logprob", choices=SCORERS,
                   help="how best-of-n and self-refine rate a solution: logprob (sum of token log-probabilities), "
                        "mean-logprob (their mean; default) or heuristic (boxed, finished, short)")
    p.add_argument("--rounds", type=positive_int, default=2,
                   help="self-refine: most critique-and-revise rounds (default 2)")
    p.add_argument("--critic", default="self-check", choices=CRITICS,
                   help="self-refine: self-check (the model recomputes its own steps; default) or verifier (an "
                        "ORACLE that compares with the reference answer: an upper bound, not a deployable method)")
    p.add_argument("--check-samples", type=positive_int, default=1,
                   help="self-refine with self-check: solve each claim's check this many times at T=0.8 and take "
                        "their vote (default 1: one greedy check, which tends to repeat the solution's mistake)")
    p.add_argument("--max-new-tokens", type=positive_int, default=384, help="default 384")
    p.add_argument("--batch-size", type=positive_int, default=32, help="problems generated together (default 32)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", default=None, help="results JSONL; an existing file is resumed")
    p.add_argument("--report", default=None, metavar="RESULTS", help="regrade a results file and summarize it")
    p.add_argument("--plot", default=None, metavar="PNG", help="save a bar chart of accuracy by level")
    p.add_argument("--int8", action="store_true", help="int8 weight-only model (see rfs.quantize)")
    p.add_argument("--sweep", action="store_true",
                   help="accuracy against compute: run the largest of --sweep-values once and score every smaller "
                        "one (samples of self-consistency and best-of-n, rounds of self-refine)")
    p.add_argument("--sweep-values", type=natural, nargs="+", default=None, metavar="N",
                   help="samples (default 1 2 4 8 16) or rounds (default 0 to --rounds) to report")
    p.add_argument("--out-dir", default=None,
                   help="--sweep: folder for results.jsonl, sweep.md, sweep.csv and sweep.png "
                        "(default runs/sweep-METHOD)")
    p.set_defaults(func=cmd_eval, conflicts=eval_conflicts)


def add_bench_parser(sub) -> None:
    """``rfs bench``."""
    p = sub.add_parser("bench", help="benchmarks against transformers", description=cmd_bench.__doc__)
    p.add_argument("what", choices=["generate", "samples"],
                   help="generate: rfs against transformers; samples: n samples per problem sharing the prompt's "
                        "prefill against one generation per sample")
    add_machine_args(p, model=None)
    p.add_argument("--size", default="0.6b", choices=BENCH_SIZES,
                   help="architecture with random weights: a Qwen3 size or 'pocket' (~5M parameters); default 0.6b")
    p.add_argument("--batch", type=positive_int, nargs="+", default=[1, 8],
                   help="generate: batch sizes (default 1 8)")
    p.add_argument("--problems", type=positive_int, default=4, help="samples: prompts sampled together (default 4)")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="samples per prompt, sharing its prefill (default 1 for generate, 8 for samples)")
    p.add_argument("--prompt-tokens", type=positive_int, default=64, help="prompt length (default 64)")
    p.add_argument("--new-tokens", type=positive_int, default=None,
                   help="tokens to generate (default 128 for generate, 64 for samples)")
    p.add_argument("--temperature", type=temperature, default=0.0,
                   help="generate: 0 = greedy (default); >0 samples (samples always draws at 0.8)")
    p.add_argument("--no-transformers", action="store_true", help="time rfs alone")
    p.add_argument("--int8", action="store_true", help="int8 weight-only rfs model (reports the logit error)")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="generate: time each engine this many times, taking turns, and report its best run")
    p.add_argument("--seed", type=int, default=0, help="samples: sampling seed (default 0)")
    p.set_defaults(func=cmd_bench)


def add_pocket_parser(sub) -> None:
    """``rfs pocket data`` and ``rfs pocket train``."""
    p = sub.add_parser("pocket", help="rebuild the pocket data and models", description=cmd_pocket.__doc__)
    pocket = p.add_subparsers(dest="pocket_command", required=True, metavar="{data,train}")
    d = pocket.add_parser("data", help="write the pocket-math test split (500 problems) and a training sample")
    d.add_argument("--out", default="runs/pocket-math", help="output folder (default runs/pocket-math)")
    d.add_argument("--train-size", type=positive_int, default=10_000,
                   help="training problems to write (default 10000)")
    t = pocket.add_parser("train", help="train a pocket model (base: ~25 min, reasoning: ~10 min on 2 cores)")
    t.add_argument("--preset", choices=POCKET_PRESETS, required=True, help="base (from scratch) or reasoning")
    t.add_argument("--out", default=None, help="model folder (default runs/pocket-PRESET/model)")
    t.add_argument("--work-dir", default=None, help="checkpoint, log and plot (default runs/pocket-PRESET)")
    t.add_argument("--init", default=None, help="model to start from (reasoning: default pocket-base)")
    t.add_argument("--quick", action="store_true", help="a toy model in a few seconds (for tests)")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_machine_args(t, model=None, compile=False)
    p.set_defaults(func=cmd_pocket)


def add_train_parser(sub) -> None:
    """``rfs train grpo``: every field of ``GRPOSettings`` is an option that overrides the preset."""
    import dataclasses

    from rfs.rl.presets import GRPOSettings

    p = sub.add_parser("train", help="reinforcement learning: GRPO and its variants", description=cmd_train.__doc__,
                       epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("algorithm", choices=["grpo"], help="grpo (with --preset for the variants of chapter 7)")
    p.add_argument("--preset", default="grpo", choices=GRPO_PRESETS, help="named variant (default grpo, chapter 6)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name or folder to train (default {DEFAULT_MODEL})")
    p.add_argument("--out", required=True, help="output model folder (metrics, plot and checkpoint go there too)")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint in --out and start over")
    p.add_argument("--format-reward", type=float, default=0.0,
                   help="weight of a format reward (a boxed answer; thinking for --prompt chat) beside correctness")
    defaults = GRPOSettings()
    checks = {"temperature": temperature, "top_p": probability_mass, "seed": int, "eval_every": natural,
              "checkpoint_every": natural, "warmup_steps": natural}
    for field in dataclasses.fields(GRPOSettings):
        if field.name not in GRPO_HELP:
            continue
        flag, default = "--" + field.name.replace("_", "-"), getattr(defaults, field.name)
        text = f"{GRPO_HELP[field.name]} (default: the preset's, else {default})"
        kind = field.type.split(" ")[0]  # "float | None" -> "float"
        if kind == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif field.name == "levels":
            p.add_argument(flag, type=positive_int, nargs="+", default=None, help=text)
        elif kind == "str":
            p.add_argument(flag, choices=GRPO_CHOICES[field.name], default=None, help=text)
        else:
            p.add_argument(flag, type=checks.get(field.name, positive_int if kind == "int" else non_negative),
                           default=None, help=text)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("plot", help="draw a training run's metrics.csv", description=cmd_plot.__doc__)
    p.add_argument("metrics", help="a metrics.csv written by rfs train")
    p.add_argument("--out", default=None, help="PNG to write (default: beside the CSV, metrics.png)")
    p.set_defaults(func=cmd_plot)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rfs`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="rfs", description="Reasoning from scratch: Qwen3 models, generation, evaluation and training.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("generate", help="generate text from a prompt", description=cmd_generate.__doc__)
    p.add_argument("prompt", type=prompt_text, help="the text to continue")
    add_machine_args(p)
    add_sampling_args(p)
    p.add_argument("--n", type=positive_int, default=1, help="number of samples (default 1, streamed)")
    p.add_argument("--chat", action="store_true", help="wrap the prompt as a user message in the chat format")
    p.add_argument("--thinking", choices=["on", "off"], default=None,
                   help="with --chat: let the model think first (default on)")
    p.set_defaults(func=cmd_generate, conflicts=generate_conflicts)

    p = sub.add_parser("chat", help="chat with a model in the terminal", description=cmd_chat.__doc__)
    add_machine_args(p, model="pocket-reasoning")
    add_sampling_args(p)
    p.add_argument("--thinking", choices=["on", "off"], default="on", help="think before answering (default on)")
    p.add_argument("--system", default=None, help="an optional system message")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("models", help="list model names and what is available offline", description=cmd_models.__doc__)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("download", help="download a model from the Hugging Face hub", description=cmd_download.__doc__)
    p.add_argument("name", help="a name from `rfs models` (e.g. qwen3-0.6b) or a hub repo (Qwen/Qwen3-0.6B)")
    p.set_defaults(func=cmd_download)

    add_bench_parser(sub)
    add_eval_parser(sub)
    add_pocket_parser(sub)
    add_train_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rfs`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = args.conflicts(args) if "conflicts" in args else None
    if problem:
        parser.exit(2, f"rfs {args.command}: error: {problem}\n")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        return 0
    except Exception as error:  # report library errors as one clear line, not a traceback
        from rfs.hub import CheckpointError

        if isinstance(error, (CheckpointError, FileNotFoundError, ValueError)):
            print(f"rfs: error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
