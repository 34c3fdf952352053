"""The ``rfs`` command: thin front ends over the library (run ``rfs --help`` or ``rfs COMMAND --help``).

Every command does its work through the same functions the lessons teach; this file only parses arguments
and prints. Heavy imports happen inside the commands so that ``rfs --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_MODEL = "pocket-base"
EVAL_EXAMPLES = """examples:
  rfs eval --method cot                                   greedy, step by step
  rfs eval --method self-consistency --samples 8          majority vote of 8 samples at T=0.8
  rfs eval --method best-of-n --samples 8 --scorer logprob
  rfs eval --method self-refine --rounds 2                the model checks its own steps and revises
  rfs eval --method self-refine --critic verifier         ORACLE critic: an upper bound, not a method
  rfs eval --method best-of-n --sweep                     accuracy at 1 2 4 8 16 samples: table and plot
  rfs eval --report results.jsonl                         regrade and summarize a results file"""


def _add_model_args(p: argparse.ArgumentParser, default: str = DEFAULT_MODEL) -> None:
    from rfs.generate import COMPILE_HELP

    p.add_argument("--model", default=default,
                   help=f"model name or folder (default {default}; `rfs models` lists names)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                   help="weight dtype (default: as stored in the checkpoint)")
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP)


def _add_sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-new-tokens", type=int, default=256, help="stop after this many new tokens (default 256)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 means greedy decoding (default 0)")
    p.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--top-p", type=float, default=None, help="sample only within the nucleus of probability p")
    p.add_argument("--seed", type=int, default=0, help="random seed for sampling (default 0)")


def _load(args: argparse.Namespace):
    import torch

    from rfs.generate import compile_model
    from rfs.hub import load_model, load_tokenizer

    dtype = getattr(torch, args.dtype) if args.dtype else None
    model = load_model(args.model, device=args.device, dtype=dtype)
    return compile_model(model) if args.compile else model, load_tokenizer(args.model)


def cmd_generate(args: argparse.Namespace) -> int:
    """Continue a prompt (or answer it as a chat message with --chat), streaming the text."""
    from rfs.generate import generate, stream

    model, tokenizer = _load(args)
    prompt = args.prompt
    if args.chat:
        prompt = tokenizer.render_chat([{"role": "user", "content": prompt}], thinking=args.thinking == "on")
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

    model, tokenizer = _load(args)
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
    from rfs import bench

    return bench.main(args)


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model on a math dataset, by greedy decoding or by a method of chapters 4-5; results resume."""
    from rfs import evaluate

    return evaluate.main(args)


def cmd_pocket(args: argparse.Namespace) -> int:
    """Rebuild the pocket data and models (see ``rfs pocket --help``)."""
    from rfs.pocket import train

    return train.main(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rfs`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="rfs", description="Reasoning from scratch: Qwen3 models, generation, evaluation and training.",
        epilog="Start with `rfs generate \"Q: What is 17+25?\\nA:\"` (runs on the shipped pocket model).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("generate", help="generate text from a prompt", description=cmd_generate.__doc__)
    p.add_argument("prompt", help="the text to continue")
    _add_model_args(p)
    _add_sampling_args(p)
    p.add_argument("--n", type=int, default=1, help="number of samples (default 1, streamed)")
    p.add_argument("--chat", action="store_true", help="wrap the prompt as a user message in the chat format")
    p.add_argument("--thinking", choices=["on", "off"], default="on", help="with --chat: let the model think first")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("chat", help="chat with a model in the terminal", description=cmd_chat.__doc__)
    _add_model_args(p, default="pocket-reasoning")
    _add_sampling_args(p)
    p.add_argument("--thinking", choices=["on", "off"], default="on", help="think before answering (default on)")
    p.add_argument("--system", default=None, help="an optional system message")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("models", help="list model names and what is available offline", description=cmd_models.__doc__)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("download", help="download a model from the Hugging Face hub", description=cmd_download.__doc__)
    p.add_argument("name", help="a name from `rfs models` (e.g. qwen3-0.6b) or a hub repo (Qwen/Qwen3-0.6B)")
    p.set_defaults(func=cmd_download)

    from rfs.bench import add_arguments as add_bench_arguments
    from rfs.evaluate import add_arguments as add_eval_arguments

    p = sub.add_parser("bench", help="benchmarks against transformers", description=cmd_bench.__doc__)
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("eval", help="evaluate a model on pocket-math or MATH-500", description=cmd_eval.__doc__,
                       epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    from rfs.pocket.train import add_arguments as add_pocket_arguments

    p = sub.add_parser("pocket", help="rebuild the pocket data and models", description=cmd_pocket.__doc__)
    add_pocket_arguments(p)
    p.set_defaults(func=cmd_pocket)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rfs`` command."""
    args = build_parser().parse_args(argv)
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
