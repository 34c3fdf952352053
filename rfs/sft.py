"""Supervised fine-tuning of a student on a teacher's traces: distillation's training half (chapter 8).

Each trace becomes one chat example: the problem as the user's message (the *prompt*) and the teacher's
thinking and answer as the assistant's reply (the *completion*). The student learns to predict the completion
only: the prompt's tokens, and any padding, are masked out of the loss, since the student should learn to
answer, not to ask.

Short examples waste a padded batch, so several are *packed* into one row; each token then attends only to its
own example (a block-diagonal causal mask) and positions restart with each example, so a packed row computes
exactly what its examples compute one by one (:func:`rfs.qwen3.packed_positions_and_mask`).

The loop: rows are shuffled each epoch, a step sums the gradients of ``micro_batch`` rows at a time
(gradient accumulation) and divides by the step's completion tokens, AdamW follows a warm-up and cosine
schedule. ``metrics.csv`` and ``metrics.png`` record the loss and the periodic greedy test accuracy; the
checkpoint (:mod:`rfs.checkpoint`, shared with the RL trainer) makes a rerun resume exactly. Under
``torchrun --nproc_per_node N`` each process takes its share of every step's rows and DDP averages gradients.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from rfs.checkpoint import (
    append_metrics,
    load_checkpoint,
    read_metrics,
    save_checkpoint,
    start_metrics,
)
from rfs.distill import TraceFilter, read_traces
from rfs.distributed import full_state, spread_over_processes, start_run, whole_weights
from rfs.hub import load_model, load_tokenizer, model_dir, save_model
from rfs.tokenizer import Tokenizer

IGNORE = -100  # the target of a masked token: F.cross_entropy skips it
METRICS = ["step", "loss", "tokens", "grad_norm", "lr", "seconds", "cpu_seconds", "eval_accuracy", "eval_length"]


@dataclass(frozen=True)
class SFTSettings:
    """What ``rfs train sft`` trains and how.

    ``data`` are trace files (:func:`rfs.distill.read_traces`), filtered by ``correct_only`` and
    ``max_trace_tokens``. ``thinking`` trains on the teacher's thinking too (the reply is ``<think>...</think>``
    then the answer); without it the student learns the answers with an empty thinking block. A step takes
    ``batch_size`` rows of at most ``seq_len`` tokens (several examples each with ``pack``), ``micro_batch``
    rows at a time. ``steps`` defaults to ``epochs`` passes over the rows.
    """

    model: str = "pocket-base"
    data: tuple[str, ...] = ()
    thinking: bool = False
    correct_only: bool = True
    max_trace_tokens: int | None = None
    pack: bool = True
    seq_len: int = 512
    batch_size: int = 16
    micro_batch: int = 8
    epochs: float = 3.0
    steps: int | None = None
    lr: float = 1e-3
    warmup: int = 10
    weight_decay: float = 0.0
    eval_every: int = 0  # steps; 0 evaluates only at the end
    eval_problems: int = 100
    eval_max_new_tokens: int = 384
    checkpoint_every: int = 25
    seed: int = 0
    threads: int | None = None
    device: str | None = None  # default: this process's GPU if there is one, else the CPU (training_device)
    fsdp: bool = False  # under torchrun: shard weights, gradients and optimizer states (FSDP2) instead of DDP


# --- Examples: prompt and completion as token ids ---------------------------------------------------------------

def sft_example(tokenizer: Tokenizer, record: dict, thinking: bool = True) -> tuple[list[int], list[int]]:
    """The prompt ids and completion ids of one trace in the chat format.

    With ``thinking`` the completion is ``<think>\\n{thinking}\\n</think>\\n\\n{answer}<|im_end|>``, exactly what
    the model writes after the chat prompt with thinking on; without, the prompt ends in an empty thinking
    block (thinking off) and the completion is the answer alone.
    """
    prompt = tokenizer.render_chat([{"role": "user", "content": record["problem"]}], thinking=thinking)
    reply = (f"<think>\n{record['message_thinking']}\n</think>\n\n" if thinking else "") + record["message_content"]
    return tokenizer.encode(prompt), tokenizer.encode(reply) + [tokenizer.im_end_id]


def pack_examples(lengths: list[int], seq_len: int) -> list[list[int]]:
    """Group example indices into rows of at most ``seq_len + 1`` tokens, first fit in the given order.

    (A row of ``seq_len + 1`` tokens gives ``seq_len`` inputs and ``seq_len`` targets.) An example longer
    than a row gets a row of its own and is cut to fit.
    """
    rows, room = [], []
    for i, length in enumerate(lengths):
        fits = next((r for r, free in enumerate(room) if free >= length), None)
        if fits is None:
            rows.append([i])
            room.append(seq_len + 1 - length)
        else:
            rows[fits].append(i)
            room[fits] -= length
    return rows


def collate(examples: list[tuple[list[int], list[int]]], rows: list[list[int]], seq_len: int,
            pad_id: int) -> dict[str, torch.Tensor]:
    """Inputs, targets and example numbers (each (R, T)) for ``rows`` of ``examples`` (prompt ids, completion ids).

    A row is its examples' tokens one after another, right-padded. ``targets`` are the next tokens, with
    ``IGNORE`` wherever the next token is part of a prompt, padding, or another example. ``document_ids`` numbers
    the examples of a row from 0 (padding gets its own number) for :func:`rfs.qwen3.packed_positions_and_mask`.
    """
    width = min(seq_len + 1, max(sum(len(p) + len(c) for p, c in (examples[i] for i in row)) for row in rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    learn = torch.zeros(len(rows), width, dtype=torch.bool)  # whether a token is a completion token to predict
    document = torch.full((len(rows), width), len(max(rows, key=len)), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for d, i in enumerate(row):
            prompt, completion = examples[i]
            tokens = (prompt + completion)[:width - at]
            ids[r, at:at + len(tokens)] = torch.tensor(tokens)
            learn[r, at + len(prompt):at + len(tokens)] = True
            document[r, at:at + len(tokens)] = d
            at += len(tokens)
    # A token is a target only if it is a completion token and its predecessor is in the same example.
    same = document[:, 1:] == document[:, :-1]
    targets = torch.where(learn[:, 1:] & same, ids[:, 1:], IGNORE)
    return {"input_ids": ids[:, :-1], "targets": targets, "document_ids": document[:, :-1]}


def sft_loss_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor], packed: bool = True) -> torch.Tensor:
    """The summed cross-entropy of the completion tokens in ``batch`` (masked tokens add nothing).

    Divide by the number of completion tokens (``(targets != IGNORE).sum()``) for the mean loss.
    """
    logits = model(batch["input_ids"], document_ids=batch["document_ids"] if packed else None)  # (R, T, V)
    return F.cross_entropy(logits.float().flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE,
                           reduction="sum")


def sft_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], packed: bool = True) -> torch.Tensor:
    """The mean cross-entropy over the completion tokens of ``batch``: the masked SFT loss."""
    return sft_loss_sum(model, batch, packed) / (batch["targets"] != IGNORE).sum()


# --- The loop ----------------------------------------------------------------------------------------------------

def learning_rate(step: int, steps: int, settings: SFTSettings) -> float:
    """Linear warm-up over ``settings.warmup`` steps, then cosine decay to a tenth of the peak at ``steps``."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, steps - settings.warmup)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def step_rows(num_rows: int, step: int, batch_size: int, seed: int) -> list[int]:
    """The rows step ``step`` trains on: consecutive slices of a fresh shuffle of all rows in each epoch.

    It depends only on (seed, step), so a resumed run trains on exactly the rows the uninterrupted one would.
    """
    picked = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, index = divmod(position, num_rows)
        order = torch.randperm(num_rows, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        picked.append(int(order[index]))
    return picked


def prepare_rows(settings: SFTSettings, tokenizer: Tokenizer) -> tuple[list, list[list[int]]]:
    """The filtered traces as (prompt ids, completion ids) examples and the rows they are packed into."""
    records = read_traces(list(settings.data), TraceFilter(settings.correct_only, settings.max_trace_tokens))
    if not records:
        raise ValueError(f"no trace in {', '.join(settings.data)} passes the filter (correct_only="
                         f"{settings.correct_only}, max_trace_tokens={settings.max_trace_tokens}): check the file "
                         "with `rfs distill data`'s summary, or train on all traces")
    # Concurrent teacher requests write answers as they arrive; in id order the rows do not depend on that
    # (the book's files have no ids and keep their order).
    if all("id" in r for r in records):
        records.sort(key=lambda r: str(r["id"]))
    examples = [sft_example(tokenizer, r, settings.thinking) for r in records]
    lengths = [len(p) + len(c) for p, c in examples]
    rows = pack_examples(lengths, settings.seq_len) if settings.pack else [[i] for i in range(len(examples))]
    return examples, rows


def accumulate_step(model: torch.nn.Module, examples: list, rows: list[list[int]], settings: SFTSettings,
                    pad_id: int, world: int) -> tuple[float, int]:
    """Sum the gradients of ``rows`` ``micro_batch`` at a time, scaled so that they equal the gradient of the
    mean loss over all completion tokens of the step (on every process together); returns (loss, tokens)."""
    batches = [collate(examples, rows[i:i + settings.micro_batch], settings.seq_len, pad_id)
               for i in range(0, len(rows), settings.micro_batch)]
    tokens = torch.tensor(sum(int((b["targets"] != IGNORE).sum()) for b in batches))
    if world > 1:
        dist.all_reduce(tokens)
    total = 0.0
    for batch in batches:
        loss_sum = sft_loss_sum(model, batch, settings.pack)
        (loss_sum * world / tokens).backward()  # DDP averages over processes, so * world gives the global mean
        total += loss_sum.item()
    summed = torch.tensor(total)
    if world > 1:
        dist.all_reduce(summed)
    return summed.item() / max(1, int(tokens)), int(tokens)


def greedy_test_accuracy(model, tokenizer: Tokenizer, settings: SFTSettings) -> tuple[float, float]:
    """Greedy accuracy on the first ``eval_problems`` pocket-math test problems in the chat format, and the mean
    answer length in tokens."""
    from rfs.evaluate import RunSettings, evaluate
    from rfs.pocket.data import test_records

    results = evaluate(model.eval(), tokenizer, test_records()[:settings.eval_problems],
                       RunSettings(prompt="chat", thinking=settings.thinking,
                                   max_new_tokens=settings.eval_max_new_tokens), batch_size=64, progress=False)
    model.train()
    return sum(r["correct"] for r in results) / len(results), sum(r["tokens"] for r in results) / len(results)


def train_sft(settings: SFTSettings, out_dir: str | Path, progress: bool = True, fresh: bool = False) -> Path:
    """Fine-tune ``settings.model`` on the traces and save it as a model folder ``out_dir``; return it.

    ``out_dir`` also receives ``metrics.csv``, ``metrics.png``, ``settings.json`` and ``checkpoint.safetensors``;
    a run whose checkpoint is there resumes from it (``fresh=True`` starts over). ``rfs.load_model(out_dir)``
    loads the result.
    """
    rank, world, out, device = start_run(out_dir, settings.threads, settings.batch_size, "--batch-size",
                                         settings.device)
    checkpoint, metrics_path = out / "checkpoint.safetensors", out / "metrics.csv"
    tokenizer = load_tokenizer(settings.model)
    examples, rows = prepare_rows(settings, tokenizer)
    steps = settings.steps or max(1, math.ceil(settings.epochs * len(rows) / settings.batch_size))
    torch.manual_seed(settings.seed)
    model = load_model(settings.model, device=device, dtype=torch.float32).train()
    trained = spread_over_processes(model, world, settings.fsdp)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.95),
                                  weight_decay=settings.weight_decay)
    identity = {"trainer": "sft", "model": str(settings.model), "data": [Path(d).name for d in settings.data],
                "thinking": settings.thinking, "pack": settings.pack, "seed": settings.seed}
    # Training time alone (not evaluation), on the wall clock and in CPU seconds (which a busy machine inflates less).
    start, clock = 0, {"train_s": 0.0, "train_cpu_s": 0.0}
    if checkpoint.is_file() and not fresh:
        restored = load_checkpoint(checkpoint, model, optimizer, identity)
        start, clock = restored["step"], {k: restored["state"][k] for k in clock}
        if rank == 0:
            print(f"resuming from step {start} ({checkpoint})")
    if rank == 0:
        (out / "settings.json").write_text(json.dumps(dataclasses.asdict(settings) | {"steps": steps}, indent=2))
        start_metrics(metrics_path, start, METRICS)

    def write_row(row: dict) -> None:
        append_metrics(metrics_path, row, METRICS)

    def evaluate_row() -> dict:
        accuracy, length = greedy_test_accuracy(model, tokenizer, settings)
        return {"eval_accuracy": accuracy, "eval_length": length}

    bar = tqdm(range(start, steps), initial=start, total=steps, desc="SFT", disable=not progress or rank > 0)
    for step in bar:
        lr = learning_rate(step, steps, settings)
        for group in optimizer.param_groups:
            group["lr"] = lr
        row = {"step": step, "lr": lr}
        if settings.eval_every and step % settings.eval_every == 0:
            with whole_weights(model):
                row |= evaluate_row() if rank == 0 else {}  # the weights at the start of this step
        began, cpu_began = time.perf_counter(), time.process_time()
        mine = step_rows(len(rows), step, settings.batch_size, settings.seed)[rank::world]
        loss, tokens = accumulate_step(trained, examples, [rows[i] for i in mine], settings, tokenizer.pad_id, world)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clock["train_s"] += time.perf_counter() - began
        clock["train_cpu_s"] += time.process_time() - cpu_began
        if rank == 0:
            write_row(row | {"loss": loss, "tokens": tokens, "grad_norm": float(grad_norm),
                             "seconds": clock["train_s"], "cpu_seconds": clock["train_cpu_s"]})
            bar.set_postfix(loss=f"{loss:.3f}", **({"eval": f"{row['eval_accuracy']:.1%}"}
                                                   if "eval_accuracy" in row else {}))
        if (step + 1) % settings.checkpoint_every == 0 or step + 1 == steps:
            save_checkpoint(checkpoint, model, optimizer, step + 1, identity,
                            {"data_position": (step + 1) * settings.batch_size} | clock)
    weights, _ = full_state(model, None)  # every process takes part in gathering a sharded model
    with whole_weights(model):
        if rank == 0 and start < steps and settings.eval_problems:  # the final weights, as step `steps`
            write_row({"step": steps, "seconds": clock["train_s"], "cpu_seconds": clock["train_cpu_s"]}
                      | evaluate_row())
    if rank == 0:
        save_model(model.eval(), out, tokenizer_json=model_dir(settings.model) / "tokenizer.json",
                   kind=tokenizer.kind, weights=weights)
        plot_sft_metrics(metrics_path)
    if world > 1:
        dist.barrier()
    return out


def plot_sft_metrics(csv_path: str | Path) -> Path:
    """Draw the training loss and the greedy test accuracy against the step; save ``metrics.png`` beside the CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    csv_path = Path(csv_path)
    rows = read_metrics(csv_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    trained = [r for r in rows if r["loss"] is not None]
    left.plot([r["step"] + 1 for r in trained], [r["loss"] for r in trained])
    left.set(xlabel="step", ylabel="loss (completion tokens)", yscale="log", title="training loss")
    evaluated = [r for r in rows if r["eval_accuracy"] is not None]
    right.plot([r["step"] for r in evaluated], [r["eval_accuracy"] for r in evaluated], marker="o")
    right.set(xlabel="step", ylabel="greedy accuracy", ylim=(0, 1), title="test accuracy")
    fig.suptitle(csv_path.parent.name)
    fig.tight_layout()
    png = csv_path.with_suffix(".png")
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
