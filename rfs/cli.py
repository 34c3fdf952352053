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

from rfs.settings import CRITIC_NAMES, METHODS, SCORER_NAMES, RunSettings  # no torch: checks flags at once

DEFAULT_MODEL = "pocket-base"
# Names the library defines, repeated here so that the parser needs no torch; tests/test_cli.py checks that they
# match rfs.qwen3.CONFIGS and the pocket presets (tests/test_multiple_choice.py: rfs.multiple_choice.SCORERS).
MC_SCORERS = ("letter", "generate", "answer-mean", "answer-sum")
BENCH_SIZES = ("0.6b", "1.7b", "4b", "8b", "14b", "32b", "tiny", "pocket")
POCKET_PRESETS = ("base", "reasoning")
GRPO_PRESETS = ("grpo", "dr-grpo", "dapo", "gspo", "cispo", "olmo3", "deepseek-v32")
GRPO_CHOICES = {"advantage": ("grpo", "dr-grpo", "gdpo"), "ratio": ("none", "token", "sequence", "cispo"),
                "aggregation": ("seq-sum", "seq-mean", "token-mean", "constant"),
                "lr_schedule": ("constant", "cosine"), "prompt": ("plain", "cot", "chat"),
                "dataset": ("pocket-math", "math")}
DTYPES = ("float32", "bfloat16", "float16")

GENERATE_EXAMPLES = """examples (on the pocket models that ship with rfs):
  rfs generate "What is 17 + 25?" --prompt cot                    a worked solution, then \\boxed{42}
  rfs generate "Compute (48+6)*3-27." --prompt cot                read as (48 + 6) \\times 3 - 27: 135
  rfs generate "What is 12*13?" --model pocket-reasoning --chat   it thinks, then \\boxed{156}
  rfs generate $'Problem: What is 17 + 25?\\nAnswer:'              raw text; bash's $'...' makes \\n a line break"""
EPILOG = """examples (on the pocket models that ship with rfs):
  rfs generate "What is 17 + 25?" --prompt cot
  rfs generate "What is 12*13?" --model pocket-reasoning --chat
  rfs chat
  rfs eval --method cot --limit 20
run `rfs COMMAND --help` for a command's options and examples"""
EVAL_EXAMPLES = """examples:
  rfs eval --method cot                                   greedy, step by step
  rfs eval --method self-consistency --samples 8          majority vote of 8 samples at T=0.8
  rfs eval --method best-of-n --samples 8 --scorer logprob
  rfs eval --method self-refine --rounds 2                the model checks its own steps and revises
  rfs eval --model qwen3-0.6b --method self-refine --critic prompt   it reviews its solution in words, rewrites it
  rfs eval --method self-refine --critic verifier         ORACLE critic: an upper bound, not a method
  rfs eval --method best-of-n --sweep                     accuracy at 1 2 4 8 16 samples: table and plot
  rfs eval --report results.jsonl                         regrade and summarize a results file"""
MC_EXAMPLES = """examples:
  rfs mc --scorer answer-mean                             whole answers scored on mc-pocket
  rfs mc --model pocket-reasoning --scorer generate --thinking on --hide-choices
  rfs mc --model qwen3-0.6b-base --dataset mmlu:high_school_mathematics --scorer letter"""
TRAIN_EXAMPLES = """examples:
  rfs train grpo --steps 60 --out runs/grpo                       chapter 6's GRPO on pocket-base
  rfs train grpo --preset dapo --lr 1e-4 --out runs/dapo          a chapter 7 variant, one option changed
  rfs train grpo --out runs/grpo                                  run again: resumes from the checkpoint
  torchrun --nproc_per_node 2 -m rfs.cli train grpo --out runs/ddp   data-parallel over 2 processes
  rfs train grpo --model qwen3-0.6b-base --dataset math --out runs/qwen   MATH's training split, on a GPU
  torchrun --nproc_per_node 8 -m rfs.cli train grpo --model qwen3-8b-base --dataset math --fsdp --out runs/fsdp
                                                                  sharded over 8 GPUs, one per process
  rfs plot runs/grpo/metrics.csv                                  reward, accuracy, length, KL against steps"""
# Help for the options of `rfs train grpo`; each is a field of rfs.rl.presets.GRPOSettings (read without torch).
GRPO_HELP = {
    "steps": "training steps", "prompts_per_step": "training problems per step",
    "group_size": "samples per problem (G)", "temperature": "sampling temperature of the rollouts",
    "top_p": "nucleus sampling of the rollouts", "max_new_tokens": "longest rollout",
    "prompt": "prompt style (rfs.prompts): cot, plain or chat",
    "dataset": "pocket-math, or math: MATH's training split (without MATH-500's problems) to train on and MATH-500 "
               "to evaluate, for real Qwen3 (from the Hugging Face cache)",
    "levels": "levels to train on (1-5 in both datasets)", "train_problems": "size of pocket-math's training pool",
    "lr": "peak learning rate",
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
    "device": "cuda, cuda:1, mps or cpu (default: this process's GPU if there is one, under torchrun one GPU per "
              "process, else the CPU); weights stay float32, as AdamW needs",
    "fsdp": "under torchrun, shard weights, gradients and optimizer states over the processes (FSDP2) instead of "
            "copying the model to each (DDP)",
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

def add_machine_args(p: argparse.ArgumentParser, model: str | None = DEFAULT_MODEL, with_compile: bool = True) -> None:
    """``--model`` (when the command loads one; default ``model``), ``--device``, ``--dtype``, ``--threads`` and,
    where it applies, ``--compile``."""
    if model:
        p.add_argument("--model", default=model,
                       help=f"model name or folder (default {model}; `rfs models` lists names)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--dtype", default=None, choices=DTYPES,
                   help="compute dtype (default: the checkpoint's, or bfloat16 for pocket training, where the device "
                        "computes it natively, else float32; the choice is said on stderr)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads (default: torch's choice, one per core; 1 in a pytest-xdist worker)")
    if with_compile:
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the model: the first steps compile (about a minute for a pocket "
                            "model on a CPU), later ones run faster")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    """How ``rfs generate`` and ``rfs chat`` pick each next token."""
    p.add_argument("--max-new-tokens", type=positive_int, default=None,
                   help="stop after this many new tokens (default: 384 for pocket models, 2048 for Qwen3)")
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


def say_dtype(args: argparse.Namespace, what: str) -> None:
    """One line on stderr saying which dtype a command computes in, and why."""
    why = "as --dtype asks" if args.dtype else "16-bit only where the device computes it natively; --dtype to choose"
    print(f"rfs: {what} ({why})", file=sys.stderr)


def load(args: argparse.Namespace):
    """The model and tokenizer that ``--model``, ``--device``, ``--dtype``, ``--compile`` (and ``--int8``) ask for."""
    import torch

    from rfs.generate import compile_model
    from rfs.hub import load_model, load_tokenizer

    set_threads(args)
    model = load_model(args.model, device=args.device, dtype=getattr(torch, args.dtype) if args.dtype else None)
    weight = next(model.parameters())
    say_dtype(args, f"{args.model} runs in {str(weight.dtype).removeprefix('torch.')} on {weight.device}")
    if getattr(args, "int8", False):  # rfs eval's option
        from rfs.quantize import quantize_int8

        model = quantize_int8(model)
    return compile_model(model) if args.compile else model, load_tokenizer(args.model)


# --- The commands ----------------------------------------------------------------------------------------------

def cmd_generate(args: argparse.Namespace) -> int:
    """Continue a prompt, or answer it as a math problem (--prompt) or a chat message (--chat), streaming the text."""
    from rfs.generate import generate, stream
    from rfs.prompts import build_prompt, defaults_for

    model, tokenizer = load(args)
    defaults = defaults_for(tokenizer)
    prompt = args.text
    if args.prompt:
        prompt = build_prompt(tokenizer, defaults.notation(prompt), args.prompt)
    elif args.chat:
        message = {"role": "user", "content": defaults.notation(prompt)}
        prompt = tokenizer.render_chat([message], thinking=args.thinking != "off")
    sampling = dict(max_new_tokens=args.max_new_tokens or defaults.max_new_tokens, temperature=args.temperature,
                    top_k=args.top_k, top_p=args.top_p, seed=args.seed)
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
    from rfs.prompts import defaults_for

    model, tokenizer = load(args)
    defaults = defaults_for(tokenizer)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    print(f"Chatting with {args.model} (thinking {args.thinking}). Empty line or Ctrl-D quits.")
    if defaults.understands:
        print(defaults.understands)
    while True:
        try:
            user = input("you> ").strip()
        except EOFError:
            break
        if not user:
            break
        messages.append({"role": "user", "content": defaults.notation(user)})
        prompt = tokenizer.render_chat(messages, thinking=args.thinking == "on")
        print("model> ", end="", flush=True)
        reply = ""
        for piece in stream(model, tokenizer, prompt, max_new_tokens=args.max_new_tokens or defaults.max_new_tokens,
                            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed):
            if args.thinking == "off":  # a model trained always to think may still close a thought it skipped
                piece = piece.replace("</think>", "")
            reply += piece
            print(piece, end="", flush=True)
        print()
        messages.append({"role": "assistant", "content": reply})
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List the known model names, their sizes and whether each is available offline; with --memory, the memory
    every Qwen3 size needs (appendix D)."""
    if args.memory:
        from rfs.memory import format_memory_table

        print(format_memory_table(args.tokens, checkpointing=not args.no_checkpointing))
        return 0
    from rfs.hub import list_models

    rows = list_models()
    print(f"{'name':<20} {'params':<8} {'available':<10} source")
    for r in rows:
        print(f"{r['name']:<20} {r['params']:<8} {'yes' if r['cached'] else 'no':<10} {r['source']}")
    print("\nFetch a hub model once with `rfs download NAME`; pocket models ship with rfs.")
    return 0


def cmd_mc(args: argparse.Namespace) -> int:
    """Evaluate a model on multiple-choice questions with one of three scorers (appendix F): the letter's
    log-probability, generate-then-parse, or the whole answer's log-probability. mc-pocket ships with rfs; MMLU
    comes from the Hugging Face hub (needs `pip install datasets`)."""
    from rfs.multiple_choice import evaluate_choices, load_questions, question_format, summarize_choices

    questions = load_questions(args.dataset, limit=args.limit)
    model, tokenizer = load(args)
    results = evaluate_choices(model, tokenizer, questions, args.scorer, question_format(args.dataset),
                               show_choices=not args.hide_choices, chat=args.thinking is not None,
                               thinking=args.thinking != "off", max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size)
    summary = summarize_choices(results)
    print(f"{args.model} on {args.dataset}, scorer {args.scorer}: accuracy {summary['accuracy']:.1%} on "
          f"{summary['questions']} questions (chance 25%)")
    if args.scorer == "generate":
        print(f"{summary['no_choice']} answers picked no choice (counted wrong)")
    print("by type: " + ", ".join(f"{k} {v:.1%}" for k, v in summary["by_type"].items()))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download a model from the Hugging Face hub into its local cache."""
    from rfs.hub import download

    print(download(args.name))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark: ``generate`` (rfs against transformers), ``samples`` (shared prefill against one call per
    sample), ``serve`` (clients of rfs serve all at once against one after another) or ``grpo`` (one GRPO step of
    rfs against TRL's GRPOTrainer)."""
    import torch

    from rfs.bench import bench_generate, bench_samples
    from rfs.hub import compute_dtype

    if args.device not in (None, "cpu"):
        raise ValueError("rfs bench measures decoding on the CPU (its memory bandwidth, oneDNN kernels and threads): "
                         "drop --device")
    set_threads(args)
    if args.what == "serve":
        from rfs.serve import bench_serve

        r = bench_serve(args.model, args.clients, args.new_tokens or 128)
        print(f"{r['clients']} clients, {r['max_tokens']} tokens each, over loopback HTTP ({args.model}):\n"
              f"  one after another: {r['sequential_tok_s']:.1f} tok/s ({r['sequential_s']:.1f} s)\n"
              f"  all at once:       {r['concurrent_tok_s']:.1f} tok/s ({r['concurrent_s']:.1f} s; batches of "
              f"{r['concurrent_batches']} rows)\n  ratio {r['ratio']:.2f}x")
        return 0
    if args.what == "grpo":
        from rfs.bench_grpo import bench_grpo, grpo_report

        if args.dtype not in (None, "float32"):
            raise ValueError("rfs bench grpo trains in float32, as rfs train grpo does: drop --dtype")
        rows = bench_grpo(args.model, args.problems or 16, args.samples or 8, args.new_tokens or 128,
                          repeats=args.repeats or 3, threads=args.threads or 1, ignore_eos=not args.stop_at_eos,
                          with_trl=not args.no_transformers, seed=args.seed)
        ends = "at the end token or" if args.stop_at_eos else "exactly"
        print(f"one GRPO step on {args.model}: {args.problems or 16} prompts x {args.samples or 8} samples, "
              f"{ends} {args.new_tokens or 128} new tokens at T=0.8, one update; float32, {args.threads or 1} "
              f"thread(s) each; median of {rows[0]['timed_steps']} steps after a warm-up step; load average "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print(grpo_report(rows))
        return 0
    dtype = getattr(torch, args.dtype) if args.dtype else compute_dtype(torch.bfloat16, torch.device("cpu"))
    say_dtype(args, f"benchmarking in {str(dtype).removeprefix('torch.')} on cpu")
    if args.what == "samples":
        bench_samples(args.size, args.problems or 4, args.samples or 8, args.prompt_tokens, args.new_tokens or 64,
                      dtype, args.seed)
    else:
        bench_generate(args.size, args.batch, args.samples or 1, args.prompt_tokens, args.new_tokens or 128,
                       args.temperature, dtype, args.int8, args.compile, args.repeats or 1, not args.no_transformers)
    return 0


def eval_settings(args: argparse.Namespace) -> RunSettings:
    """The :class:`rfs.settings.RunSettings` of ``rfs eval``'s flags (``--method cot`` is greedy with the cot
    prompt; ``--thinking`` implies the chat prompt)."""
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


def cmd_judge(args: argparse.Namespace) -> int:
    """Grade the solutions of an rfs eval results file with a judge model; its agreement with the verifier."""
    import json

    from rfs.evaluate import read_results
    from rfs.judge import agreement, ask_endpoint, ask_local_model, describe_agreement, judge_prompts, read_grade

    results = read_results(args.results)[:args.limit]
    if not results:
        raise FileNotFoundError(f"no results in {args.results}: write some with `rfs eval --out {args.results}`")
    judge = args.judge or os.environ.get("OPENAI_BASE_URL")
    prompts = judge_prompts(results)
    if judge.startswith(("http://", "https://")):
        print(f"asking {judge} to grade {len(prompts)} solutions, {args.concurrency} at a time", file=sys.stderr)
        replies = ask_endpoint(prompts, judge, args.api_key, args.judge_model, args.max_tokens or 1024,
                               args.concurrency)
    else:
        model, tokenizer = load(argparse.Namespace(**vars(args) | {"model": judge, "compile": False}))
        replies = ask_local_model(prompts, model, tokenizer, args.max_tokens, batch_size=args.batch_size)
    grades = [read_grade(reply) for reply in replies]
    if args.out:
        with open(args.out, "w") as f:
            for result, reply, grade in zip(results, replies, grades, strict=True):
                f.write(json.dumps(result | {"judge_reply": reply, "judge_grade": grade}) + "\n")
        print(f"judged results written to {args.out}", file=sys.stderr)
    print(describe_agreement(agreement(grades, [bool(r["correct"]) for r in results])))
    return 0


def judge_conflicts(args: argparse.Namespace) -> str | None:
    """What is wrong with ``rfs judge``'s flags, or None."""
    if not (args.judge or os.environ.get("OPENAI_BASE_URL")):
        return ("name the judge: --judge http://HOST:PORT/v1 (an OpenAI-compatible endpoint, such as rfs serve), "
                "--judge MODEL (a model name or folder, run here), or set OPENAI_BASE_URL")
    return None


def cmd_pocket(args: argparse.Namespace) -> int:
    """Rebuild the pocket data and models (see ``rfs pocket --help``)."""
    from rfs.pocket import train

    if args.pocket_command == "data":
        for path in train.write_data(args.out, args.train_size):
            print(f"wrote {path}")
        return 0
    import torch

    from rfs.generate import default_device
    from rfs.hub import compute_dtype

    set_threads(args)
    device = torch.device(args.device) if args.device else default_device()
    dtype = getattr(torch, args.dtype) if args.dtype else compute_dtype(torch.bfloat16, device)
    say_dtype(args, f"training on {device} with {str(dtype).removeprefix('torch.')} matrix products")
    folder = train.train(args.preset, args.out, args.work_dir, quick=args.quick, resume=not args.fresh,
                         seed=args.seed, init=args.init, device=device, dtype=dtype)
    print(f"model saved to {folder}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a model over the OpenAI HTTP API (chat and text completions, streaming); Ctrl-C stops."""
    from rfs.serve import ServeSettings, serve

    set_threads(args)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.api_key:
        print(f"warning: listening on {args.host} without --api-key: anyone who can reach this machine can use "
              "the model", file=sys.stderr)
    serve(ServeSettings(args.model, args.host, args.port, args.api_key, args.name, args.device, args.dtype,
                        args.max_rows, args.batch_window))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a model as a Hugging Face folder that transformers loads (and upload it with --push)."""
    from rfs.export import export_hf, push_to_hub

    out = export_hf(args.model, args.out)
    print(f"wrote {out}")
    if args.push:
        print(f"uploaded to {push_to_hub(out, args.push, private=not args.public)}")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    """Ask a teacher model to solve problems; keep its thinking, answer, verdict and token counts as JSONL."""
    from rfs.distill import TeacherSettings, TraceFilter, load_problems, write_traces

    set_threads(args)
    teacher = args.teacher or os.environ.get("OPENAI_BASE_URL")
    if not teacher:
        raise ValueError("name a teacher: --teacher pocket-reasoning (a model run here) or --teacher "
                         "http://127.0.0.1:8000/v1 (an OpenAI-compatible endpoint; or set OPENAI_BASE_URL)")
    settings = TeacherSettings(teacher, model_name=args.model_name, api_key=args.api_key,
                               thinking=args.thinking == "on", temperature=args.temperature,
                               max_new_tokens=args.max_new_tokens, seed=args.seed, concurrency=args.concurrency,
                               batch_size=args.batch_size, retries=args.retries)
    keep = TraceFilter(args.keep == "correct", args.max_trace_tokens)
    problems = load_problems(args.dataset, args.split, args.n)
    try:
        counts = write_traces(problems, settings, args.out, keep)
    except Exception as error:
        if type(error).__module__.startswith("openai"):  # the endpoint refused or could not be reached
            raise ValueError(f"the teacher at {teacher} failed: {error}. Answers so far are kept in {args.out}; "
                             "check the URL, --api-key and --model-name, then rerun to resume.") from None
        raise
    print(f"{args.out}: {counts['answers']} answers ({counts['asked']} asked now, {counts['seconds']:.0f} s, "
          f"{counts['cpu_seconds']:.0f} CPU s), "
          f"{counts['correct']} correct, {counts['kept']} kept by the filter")
    return 0


def cmd_train_sft(args: argparse.Namespace) -> int:
    """``rfs train sft``: fine-tune a student on a teacher's traces (chapter 8); a rerun resumes."""
    from rfs.sft import SFTSettings, train_sft

    settings = SFTSettings(
        model=args.model, data=tuple(args.data), thinking=args.thinking, correct_only=args.keep == "correct",
        max_trace_tokens=args.max_trace_tokens, pack=not args.no_pack, seq_len=args.seq_len,
        batch_size=args.batch_size, micro_batch=args.micro_batch, epochs=args.epochs, steps=args.steps, lr=args.lr,
        warmup=args.warmup, weight_decay=args.weight_decay, eval_every=args.eval_every,
        eval_problems=args.eval_problems, eval_max_new_tokens=args.max_new_tokens,
        checkpoint_every=args.checkpoint_every, seed=args.seed, threads=args.threads, device=args.device,
        fsdp=args.fsdp)
    out = train_sft(settings, args.out, fresh=args.fresh)
    print(f"model saved to {out} (metrics in {out / 'metrics.csv'}, {out / 'metrics.png'}); evaluate it with "
          f"`rfs eval --model {out} --thinking {'on' if args.thinking else 'off'}`")
    return 0


def cmd_train_grpo(args: argparse.Namespace) -> int:
    """``rfs train grpo``: reinforcement learning with GRPO and its variants (chapters 6-7); a rerun resumes."""
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
    if args.prompt and args.chat:
        return f"--prompt {args.prompt} and --chat are two ways to wrap PROMPT: choose one"
    return None


def eval_conflicts(args: argparse.Namespace) -> str | None:
    """What is wrong with ``rfs eval``'s flags taken together, or None."""
    if args.report:
        return None
    if args.method == "cot" and (args.prompt not in (None, "cot") or args.thinking):
        return ("--method cot is greedy decoding with the cot prompt: drop --prompt and --thinking, or use --method "
                "greedy --prompt ... (or --thinking ...)")
    if args.thinking is not None and args.prompt not in (None, "chat"):
        return (f"--thinking {args.thinking} uses the chat prompt, not the {args.prompt} prompt: drop --prompt "
                f"{args.prompt}, or drop --thinking")
    if args.sweep and args.samples is not None:
        return "--sweep chooses the numbers of samples itself: give them as --sweep-values"
    if args.sweep and args.method not in ("self-consistency", "best-of-n", "self-refine"):
        return "--sweep needs --method self-consistency, best-of-n or self-refine"
    if args.sweep_values and args.method != "self-refine" and min(args.sweep_values) < 1:
        return "--sweep-values of samples start at 1 (0 rounds is a self-refine value only)"
    try:
        eval_settings(args)
    except ValueError as error:  # settings that do not fit together, such as a greedy run with --samples 4
        return str(error)
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
    p.add_argument("--method", default=None, choices=["greedy", "cot", *list(METHODS)[1:]],
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
    p.add_argument("--scorer", default="mean-logprob", choices=SCORER_NAMES,
                   help="how best-of-n and self-refine rate a solution: logprob (sum of token log-probabilities), "
                        "mean-logprob (their mean; default) or heuristic (boxed, finished, short)")
    p.add_argument("--rounds", type=positive_int, default=2,
                   help="self-refine: most critique-and-revise rounds (default 2)")
    p.add_argument("--critic", default=None, choices=CRITIC_NAMES,
                   help="self-refine: prompt (the model reviews its solution in words against a rubric and rewrites "
                        "it; default for Qwen3), self-check (pocket models only: the model recomputes its own "
                        "arithmetic steps; their default) or verifier (an ORACLE that compares with the reference "
                        "answer: an upper bound, not a deployable method)")
    p.add_argument("--check-samples", type=positive_int, default=1,
                   help="self-refine with self-check: solve each claim's check this many times at T=0.8 and take "
                        "their vote (default 1: one greedy check, which tends to repeat the solution's mistake)")
    p.add_argument("--max-new-tokens", type=positive_int, default=None,
                   help="stop a solution after this many new tokens (default: 384 for pocket models, 2048 for Qwen3)")
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


def add_judge_parser(sub) -> None:
    """``rfs judge``."""
    p = sub.add_parser("judge", help="grade eval results with a judge model; its agreement with the verifier",
                       description=cmd_judge.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n"
                              "  rfs judge runs/results.jsonl --judge http://127.0.0.1:8000/v1 --limit 50   "
                              "an rfs serve (or any OpenAI-compatible) endpoint\n"
                              "  rfs judge runs/results.jsonl --judge qwen3-0.6b --limit 50                 "
                              "a model run here")
    p.add_argument("results", metavar="RESULTS", help="a results JSONL file written by rfs eval --out")
    p.add_argument("--judge", default=None, metavar="URL_OR_MODEL",
                   help="an OpenAI-compatible base URL (http://.../v1) or a model name or folder to run here "
                        "(default: OPENAI_BASE_URL)")
    p.add_argument("--judge-model", default=None,
                   help="with a URL: the model id to ask (default: the first the endpoint lists)")
    p.add_argument("--api-key", default=None, help="with a URL: the API key (default: OPENAI_API_KEY)")
    p.add_argument("--limit", type=positive_int, default=None, help="judge only the first N results")
    p.add_argument("--max-tokens", type=positive_int, default=None,
                   help="longest reply of the judge (default 1024 for an endpoint, the model's own for a model)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="with a model: prompts judged together")
    p.add_argument("--concurrency", type=positive_int, default=8, help="with a URL: requests in flight at a time")
    p.add_argument("--out", default=None, help="write each result with the judge's reply and grade to this JSONL")
    add_machine_args(p, model=None, with_compile=False)
    p.set_defaults(func=cmd_judge, conflicts=judge_conflicts)


def mc_dataset(text: str) -> str:
    """A multiple-choice set: mc-pocket, mmlu (every subject) or mmlu:SUBJECT."""
    if text == "mc-pocket" or text == "mmlu" or (text.startswith("mmlu:") and len(text) > 5):
        return text
    raise argparse.ArgumentTypeError(f"unknown multiple-choice set {text!r}: use mc-pocket (ships with rfs), mmlu "
                                     "or mmlu:SUBJECT (e.g. mmlu:high_school_mathematics)")


def mc_conflicts(args: argparse.Namespace) -> str | None:
    """What is wrong with ``rfs mc``'s flags taken together, or None."""
    if args.scorer != "generate" and (args.hide_choices or args.thinking is not None):
        return "--hide-choices and --thinking apply to --scorer generate only"
    return None


def add_mc_parser(sub) -> None:
    """``rfs mc``."""
    p = sub.add_parser("mc", help="evaluate a model on multiple-choice questions (mc-pocket, MMLU)",
                       description=" ".join(cmd_mc.__doc__.split()), epilog=MC_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_machine_args(p)
    p.add_argument("--dataset", type=mc_dataset, default="mc-pocket",
                   help="mc-pocket (default; 300 pocket-math questions, ships with rfs), mmlu or mmlu:SUBJECT")
    p.add_argument("--scorer", default="letter", choices=MC_SCORERS,
                   help="letter: log-probability of A-D after the lettered choices (default); generate: write an "
                        "answer, then parse the choice; answer-mean / answer-sum: mean or total log-probability "
                        "of each choice's text")
    p.add_argument("--hide-choices", action="store_true",
                   help="generate: ask the question without its choices and match the answer to them")
    p.add_argument("--thinking", choices=["on", "off"], default=None,
                   help="generate: use the chat format, thinking on or off (for chat models)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N questions")
    p.add_argument("--max-new-tokens", type=positive_int, default=256,
                   help="generate: most new tokens per answer (default 256; 2048 or more for real Qwen3 thinking)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="questions run together (default 16)")
    p.set_defaults(func=cmd_mc, conflicts=mc_conflicts)


def add_bench_parser(sub) -> None:
    """``rfs bench``."""
    p = sub.add_parser("bench", help="benchmarks against transformers", description=cmd_bench.__doc__)
    p.add_argument("what", choices=["generate", "samples", "serve", "grpo"],
                   help="generate: rfs against transformers; samples: n samples per problem sharing the prompt's "
                        "prefill against one generation per sample; serve: total tokens/s of --clients requests to "
                        "rfs serve sent at once against one after another (loopback, --new-tokens each); grpo: one "
                        "GRPO step (--problems x --samples rollouts, one update) of rfs against TRL's GRPOTrainer, "
                        "each in its own process (pip install -e .[bench])")
    add_machine_args(p, model=None)
    p.add_argument("--model", default="pocket-base", help="serve, grpo: the model (default pocket-base)")
    p.add_argument("--clients", type=positive_int, default=8, help="serve: clients (default 8)")
    p.add_argument("--size", default="0.6b", choices=BENCH_SIZES,
                   help="architecture with random weights: a Qwen3 size or 'pocket' (~5M parameters); default 0.6b")
    p.add_argument("--batch", type=positive_int, nargs="+", default=[1, 8],
                   help="generate: batch sizes (default 1 8)")
    p.add_argument("--problems", type=positive_int, default=None,
                   help="samples: prompts sampled together (default 4); grpo: prompts per step (default 16)")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="samples per prompt, sharing its prefill (default 1 for generate, 8 for samples and grpo)")
    p.add_argument("--prompt-tokens", type=positive_int, default=64, help="prompt length (default 64)")
    p.add_argument("--new-tokens", type=positive_int, default=None,
                   help="tokens to generate (default 128 for generate and grpo, 64 for samples)")
    p.add_argument("--temperature", type=temperature, default=0.0,
                   help="generate: 0 = greedy (default); >0 samples (samples and grpo always draw at 0.8)")
    p.add_argument("--no-transformers", action="store_true", help="time rfs alone (grpo: without TRL)")
    p.add_argument("--int8", action="store_true", help="int8 weight-only rfs model (reports the logit error)")
    p.add_argument("--repeats", type=positive_int, default=None,
                   help="generate: time each engine this many times, taking turns, and report its best run "
                        "(default 1); grpo: timed steps after a warm-up step, the median reported (default 3)")
    p.add_argument("--stop-at-eos", action="store_true",
                   help="grpo: completions end at the end token (default: every completion is --new-tokens long on "
                        "both sides, the same work whatever is sampled)")
    p.add_argument("--seed", type=int, default=0, help="samples, grpo: sampling seed (default 0)")
    p.set_defaults(func=cmd_bench)


def add_serve_parser(sub) -> None:
    """``rfs serve``."""
    p = sub.add_parser("serve", help="serve a model over the OpenAI HTTP API", description=cmd_serve.__doc__,
                       epilog="clients: OpenAI(base_url='http://127.0.0.1:8000/v1', api_key=KEY or 'unused')")
    add_machine_args(p, model="pocket-reasoning", with_compile=False)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to all)")
    p.add_argument("--port", type=positive_int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--api-key", default=None, help="require `Authorization: Bearer KEY` on every request")
    p.add_argument("--name", default=None, help="model id clients send (default: the --model name)")
    p.add_argument("--max-rows", type=positive_int, default=64,
                   help="most rows (prompts x n) generated in one batch (default 64)")
    p.add_argument("--batch-window", type=float, default=0.05, metavar="SECONDS",
                   help="how long an idle server waits for requests sent at the same moment (default 0.05)")
    p.set_defaults(func=cmd_serve)


def add_export_parser(sub) -> None:
    """``rfs export``."""
    p = sub.add_parser("export", help="write a model as a Hugging Face folder", description=cmd_export.__doc__)
    p.add_argument("model", help="model name, folder (e.g. a training run's output) or book .pth checkpoint")
    p.add_argument("--to", choices=["hf"], default="hf", help="format: hf (a transformers model folder)")
    p.add_argument("out", help="the folder to write")
    p.add_argument("--push", default=None, metavar="USER/REPO",
                   help="then upload it to this Hugging Face model repo (needs `hf auth login` or HF_TOKEN)")
    p.add_argument("--public", action="store_true", help="with --push: a public repo (default private)")
    p.set_defaults(func=cmd_export)


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
    add_machine_args(t, model=None, with_compile=False)
    p.set_defaults(func=cmd_pocket)


def add_distill_parser(sub) -> None:
    """``rfs distill data``."""
    p = sub.add_parser("distill", help="collect a teacher's reasoning traces", description=cmd_distill.__doc__)
    distill = p.add_subparsers(dest="distill_command", required=True, metavar="{data}")
    d = distill.add_parser("data", help="ask a teacher to solve problems; write verified traces as JSONL",
                           description=cmd_distill.__doc__,
                           epilog="examples:\n  rfs distill data --teacher pocket-reasoning --n 1000 --out traces.jsonl"
                                  "\n  rfs distill data --teacher http://127.0.0.1:8000/v1 --n 1000 --out t.jsonl",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--teacher", default=None,
                   help="a model name or folder (run in this process) or an OpenAI-compatible base URL "
                        "(default: $OPENAI_BASE_URL)")
    d.add_argument("--api-key", default=None, help="the endpoint's key (default: $OPENAI_API_KEY)")
    d.add_argument("--model-name", default=None, help="model id to ask the endpoint for (default: its first)")
    d.add_argument("--dataset", default="pocket-math",
                   help="pocket-math, math500, or a JSON/JSONL file of {problem, answer} (default pocket-math)")
    d.add_argument("--split", default="train", choices=["train", "test"], help="default train")
    d.add_argument("--n", type=positive_int, default=1000, help="problems to ask (default 1000)")
    d.add_argument("--out", required=True, help="JSONL file; an existing one is resumed")
    d.add_argument("--thinking", choices=["on", "off"], default="on", help="let the teacher think (default on)")
    d.add_argument("--temperature", type=temperature, default=0.0, help="0 means greedy (default 0)")
    d.add_argument("--max-new-tokens", type=positive_int, default=384, help="default 384")
    d.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    d.add_argument("--concurrency", type=positive_int, default=8, help="endpoint requests at once (default 8)")
    d.add_argument("--batch-size", type=positive_int, default=128,
                   help="problems generated together by a local teacher (default 128)")
    d.add_argument("--retries", type=natural, default=6,
                   help="retries of a request answered 429 or 5xx, waiting 1, 2, 4 ... s (default 6)")
    d.add_argument("--keep", choices=["correct", "all"], default="correct",
                   help="which answers the filter keeps (every answer is written, marked 'kept')")
    d.add_argument("--max-trace-tokens", type=positive_int, default=None, help="the filter drops longer answers")
    add_machine_args(d, model=None, with_compile=False)
    p.set_defaults(func=cmd_distill)


def add_grpo_parser(train) -> None:
    """``rfs train grpo``: every field of ``GRPOSettings`` is an option that overrides the preset."""
    import dataclasses

    from rfs.rl.presets import GRPOSettings

    p = train.add_parser("grpo", help="reinforcement learning: GRPO and its variants (chapters 6-7)",
                         description=cmd_train_grpo.__doc__, epilog=TRAIN_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
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
        elif field.name == "device":
            p.add_argument(flag, default=None, help=text)
        elif kind == "str":
            p.add_argument(flag, choices=GRPO_CHOICES[field.name], default=None, help=text)
        else:
            p.add_argument(flag, type=checks.get(field.name, positive_int if kind == "int" else non_negative),
                           default=None, help=text)
    p.set_defaults(func=cmd_train_grpo)


def add_train_parser(sub) -> None:
    """``rfs train sft`` (chapter 8) and ``rfs train grpo`` (chapters 6-7), and ``rfs plot`` for their metrics."""
    p = sub.add_parser("train", help="train a model: grpo (reinforcement learning) or sft (distillation)",
                       description="Train a model: `rfs train grpo` (chapters 6-7) or `rfs train sft` (chapter 8).")
    train = p.add_subparsers(dest="train_command", required=True, metavar="{grpo,sft}")
    add_grpo_parser(train)
    t = train.add_parser("sft", help="supervised fine-tuning on a teacher's traces (chapter 8)",
                         description="Fine-tune a student on traces from `rfs distill data`: the loss counts the "
                                     "reply's tokens only; a rerun resumes from the checkpoint in --out.",
                         epilog="example:\n  rfs train sft --model pocket-base --data traces.jsonl --out runs/sft "
                                "--thinking\n  torchrun --nproc_per_node 2 -m rfs.cli train sft ... (data parallel)"
                                "\n  torchrun --nproc_per_node 8 -m rfs.cli train sft ... --fsdp (sharded, GPUs)",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--model", default=DEFAULT_MODEL, help=f"the student (default {DEFAULT_MODEL})")
    t.add_argument("--data", nargs="+", required=True, help="trace files (JSONL, or the book's JSON)")
    t.add_argument("--out", required=True, help="folder of the trained model, metrics and checkpoint")
    t.add_argument("--thinking", action="store_true",
                   help="learn the teacher's thinking too (else the answers, with thinking off)")
    t.add_argument("--keep", choices=["correct", "all"], default="correct",
                   help="learn from verified-correct traces only (default) or from all")
    t.add_argument("--max-trace-tokens", type=positive_int, default=None, help="skip longer traces")
    t.add_argument("--no-pack", action="store_true", help="one example per row (default: pack several)")
    t.add_argument("--seq-len", type=positive_int, default=512, help="tokens per row (default 512)")
    t.add_argument("--batch-size", type=positive_int, default=16, help="rows per step (default 16)")
    t.add_argument("--micro-batch", type=positive_int, default=8,
                   help="rows per forward pass; the step accumulates gradients (default 8)")
    t.add_argument("--epochs", type=float, default=3.0, help="passes over the rows (default 3)")
    t.add_argument("--steps", type=positive_int, default=None, help="steps (overrides --epochs)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    t.add_argument("--warmup", type=natural, default=10, help="warm-up steps (default 10)")
    t.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default 0)")
    t.add_argument("--eval-every", type=natural, default=0, help="greedy test accuracy every N steps (0: at the end)")
    t.add_argument("--eval-problems", type=natural, default=100, help="test problems evaluated (default 100)")
    t.add_argument("--max-new-tokens", type=positive_int, default=384, help="evaluation answers (default 384)")
    t.add_argument("--checkpoint-every", type=positive_int, default=25, help="steps (default 25)")
    t.add_argument("--seed", type=int, default=0, help="default 0")
    t.add_argument("--fresh", action="store_true", help="ignore a checkpoint in --out and start over")
    t.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's choice)")
    t.add_argument("--device", default=None, help=GRPO_HELP["device"])
    t.add_argument("--fsdp", action="store_true", help=GRPO_HELP["fsdp"])
    t.set_defaults(func=cmd_train_sft)

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

    p = sub.add_parser("generate", help="generate text from a prompt", description=cmd_generate.__doc__,
                       epilog=GENERATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", type=prompt_text, metavar="PROMPT",
                   help="the text to continue, as it is (backslashes stay backslashes, as LaTeX needs them: "
                        "for a line break, press Enter inside the quotes, or write $'...\\n...' in bash)")
    add_machine_args(p)
    add_sampling_args(p)
    p.add_argument("--n", type=positive_int, default=1, help="number of samples (default 1, streamed)")
    p.add_argument("--prompt", choices=["plain", "cot"], default=None,
                   help="treat PROMPT as a math problem and wrap it in the model's template: plain asks for the "
                        "answer, cot for a worked solution (rfs.prompts)")
    p.add_argument("--chat", action="store_true", help="send PROMPT as a user message in the chat format")
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
    p.add_argument("--memory", action="store_true",
                   help="print parameters, weights per dtype, KV cache per 1k tokens and training memory of every "
                        "Qwen3 size instead")
    p.add_argument("--tokens", type=positive_int, default=4096,
                   help="--memory: tokens per training step, for the activations (default 4096)")
    p.add_argument("--no-checkpointing", action="store_true",
                   help="--memory: training without activation checkpointing (every activation kept)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("download", help="download a model from the Hugging Face hub", description=cmd_download.__doc__)
    p.add_argument("name", help="a name from `rfs models` (e.g. qwen3-0.6b) or a hub repo (Qwen/Qwen3-0.6B)")
    p.set_defaults(func=cmd_download)

    add_bench_parser(sub)
    add_eval_parser(sub)
    add_judge_parser(sub)
    add_mc_parser(sub)
    add_serve_parser(sub)
    add_export_parser(sub)
    add_pocket_parser(sub)
    add_distill_parser(sub)
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

        if isinstance(error, (CheckpointError, FileNotFoundError, ValueError, ConnectionError)):
            print(f"rfs: error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
