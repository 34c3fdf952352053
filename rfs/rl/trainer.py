"""The GRPO training loop: sample, score, compare, update; with metrics, evaluation and resume (chapters 6-7).

One step:

1. take the next ``prompts_per_step`` training problems (never a test problem);
2. sample ``group_size`` solutions of each (:func:`rfs.rl.rollouts.sample_rollouts`);
3. reward them with the verifier and compute group advantages; groups whose samples all agree carry no signal
   and, with dynamic sampling, are replaced by fresh prompts;
4. update the policy with :func:`rfs.rl.losses.grpo_loss`, ``updates_per_batch`` times.

Every step appends a row to ``metrics.csv`` (reward, accuracy, lengths, entropy, clip fraction, KL, gradient
norm, seconds...); every ``eval_every`` steps the model answers a fixed slice of the pocket-math *test* split
greedily. Every ``checkpoint_every`` steps, and on Ctrl-C, the whole state goes to ``checkpoint.safetensors``
(``rfs.checkpoint``); running the same command again resumes from it, exactly. The output folder is a model
folder: ``rfs.load_model(DIR)`` and ``rfs eval --model DIR`` accept it.

Under ``torchrun --nproc_per_node N`` each process samples its share of the prompts and the gradients are
averaged by PyTorch's DistributedDataParallel, so N processes make the update one process would make on the
whole batch.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import signal
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from rfs.checkpoint import (
    append_metrics,
    load_checkpoint,
    save_checkpoint,
    start_metrics,
)
from rfs.distributed import full_state, spread_over_processes, start_run, whole_weights
from rfs.hub import load_model, load_tokenizer, model_dir, save_model
from rfs.prompts import build_prompt
from rfs.rl.advantages import group_advantages, zero_signal_groups
from rfs.rl.losses import completion_logprobs, grpo_loss
from rfs.rl.presets import GRPOSettings
from rfs.rl.rewards import combine_rewards, compute_rewards, correctness_reward
from rfs.rl.rollouts import Rollouts, sample_rollouts
from rfs.scaling import sample_solutions

METRICS = ["step", "reward", "accuracy", "zero_signal_groups", "groups", "mean_length", "max_length",
           "truncation_rate", "entropy", "clip_fraction", "kl", "ratio", "loss", "grad_norm", "lr", "rollout_s",
           "update_s", "tokens_per_s", "eval_accuracy", "eval_length", "train_s", "train_cpu_s"]


class TrainingStopped(ValueError):
    """A run that cannot go on (a NaN loss, no reward at all); the message says why and what to do."""


# --- Data -------------------------------------------------------------------------------------------------

class PromptStream:
    """Training problems in a seeded random order, ``position`` counting how many were handed out.

    Each pass over the problems (an epoch) is shuffled with its own seed, so the order after any position is
    fixed by ``(seed, position)``: a resumed run continues with exactly the problems it would have seen.
    """

    def __init__(self, records: list[dict], seed: int, position: int = 0):
        self.records, self.seed, self.position = records, seed, position

    def take(self, n: int) -> list[dict]:
        """The next ``n`` problems."""
        out = []
        for _ in range(n):
            epoch, index = divmod(self.position, len(self.records))
            order = list(range(len(self.records)))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            out.append(self.records[order[index]])
            self.position += 1
        return out


def level_number(record: dict) -> int | None:
    """A record's difficulty as a number: pocket-math stores 3, MATH's files 3 or "Level 3" (None if unknown)."""
    level = str(record.get("level", "")).removeprefix("Level ").strip()
    return int(level) if level.isdigit() else None


def training_problems(settings: GRPOSettings) -> list[dict]:
    """Training problems of the chosen levels: pocket-math's generated ones (the generator never yields a test
    problem), or MATH's training split without the MATH-500 problems (:func:`rfs.datasets.load_math_train`)."""
    from rfs.datasets import load_dataset

    pool = settings.train_problems if settings.dataset == "pocket-math" else None
    records = [r for r in load_dataset(settings.dataset, "train", pool) if level_number(r) in settings.levels]
    if not records:
        raise ValueError(f"no training problems at levels {settings.levels}: {settings.dataset} has levels 1-5")
    return records


def evaluation_problems(settings: GRPOSettings) -> list[dict]:
    """The fixed test problems of the periodic greedy evaluation: the first ``eval_problems`` of the test split
    (pocket-math's, or MATH-500 for ``dataset="math"``); none when evaluation is off."""
    from rfs.datasets import load_dataset

    if not (settings.eval_every and settings.eval_problems):
        return []
    return load_dataset(settings.dataset, "test")[:settings.eval_problems]


# --- One step ---------------------------------------------------------------------------------------------

def learning_rate(step: int, settings: GRPOSettings) -> float:
    """Linear warm-up over ``warmup_steps``, then constant or cosine decay to ``lr * min_lr_ratio``."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    if settings.lr_schedule == "constant":
        return settings.lr
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    floor = settings.min_lr_ratio
    return settings.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def step_seed(settings: GRPOSettings, step: int, stream: int = 0) -> int:
    """The sampling seed of a step's ``stream`` (a dynamic-sampling round of one process): fresh noise each step,
    fixed by the run's seed. Sample j draws with seed + j (``rfs.generate``), so seeds are 1009 apart."""
    return (settings.seed * 100_003 + step * 101 + stream) * 1009 % 2**62


def collect_rollouts(model, tokenizer, stream: PromptStream, settings: GRPOSettings, step: int, share: int,
                     rank: int = 0, world: int = 1) -> tuple[Rollouts, list[dict], torch.Tensor, dict]:
    """Sample and reward this process's ``share`` of a step's groups; refill zero-signal groups if asked.

    With dynamic sampling, groups whose samples all agree are dropped and another round of prompts is sampled,
    up to ``max_sampling_rounds`` rounds (the last round's groups are kept whatever they are). Every process
    takes the same number of prompts from the stream each round, so the streams stay in step.
    Returns the rollouts, their problems (one per group), the reward columns (B, R) and counts for the metrics.
    """
    kept: list[tuple[Rollouts, list[dict], torch.Tensor]] = []
    counts = {"groups": 0, "zero_signal_groups": 0}
    needed = share
    rounds = settings.max_sampling_rounds if settings.dynamic_sampling else 1
    for round_ in range(rounds):
        problems = stream.take(share * world)[rank::world]
        if needed > 0:
            prompts = [build_prompt(tokenizer, p["problem"], settings.prompt) for p in problems]
            rollouts = sample_rollouts(model, tokenizer, prompts, settings.group_size, settings.temperature,
                                       settings.max_new_tokens, top_p=settings.top_p,
                                       seed=step_seed(settings, step, round_ * world + rank))
            references = [p["answer"] for p in problems for _ in range(settings.group_size)]
            rewards = compute_rewards(rollouts.texts, references, settings.rewards,
                                      thinking=settings.prompt == "chat")
            zero = zero_signal_groups(combine_rewards(rewards, settings.rewards), settings.group_size)
            counts["groups"] += len(problems)
            counts["zero_signal_groups"] += int(zero.sum())
            last_round = round_ + 1 == rounds
            keep = [i for i in range(len(problems)) if last_round or not zero[i]][:needed]
            kept.append(select_groups(rollouts, problems, rewards, keep))
            needed -= len(keep)
        still_needed = torch.tensor(needed)
        if world > 1:
            dist.all_reduce(still_needed, op=dist.ReduceOp.MAX)
        if still_needed <= 0:
            break
    return (concat_rollouts([k[0] for k in kept]), [p for k in kept for p in k[1]],
            torch.cat([k[2] for k in kept]), counts)


def select_groups(rollouts: Rollouts, problems: list[dict], rewards: torch.Tensor,
                  keep: list[int]) -> tuple[Rollouts, list[dict], torch.Tensor]:
    """Keep only the groups ``keep`` (indices of prompts) of a batch."""
    G = rollouts.group_size
    rows = torch.tensor([g * G + j for g in keep for j in range(G)], dtype=torch.long)
    fields = {f.name: getattr(rollouts, f.name) for f in dataclasses.fields(rollouts)}
    picked = {k: (v[rows] if torch.is_tensor(v) else [v[i] for i in rows.tolist()] if isinstance(v, list) else v)
              for k, v in fields.items()}
    return Rollouts(**picked), [problems[g] for g in keep], rewards[rows]


def concat_rollouts(parts: list[Rollouts]) -> Rollouts:
    """Join rollouts sampled in several rounds (re-padding prompts on the left and completions on the right)."""
    if len(parts) == 1:
        return parts[0]
    P = max(p.prompt_ids.shape[1] for p in parts)
    C = max(p.completion_ids.shape[1] for p in parts)

    def left(t: torch.Tensor, width: int, value) -> torch.Tensor:
        return torch.nn.functional.pad(t, (width - t.shape[1], 0), value=value)

    def right(t: torch.Tensor, width: int, value) -> torch.Tensor:
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    pad_id = 0  # padding is masked out everywhere, so any valid token id will do
    return Rollouts(torch.cat([left(p.prompt_ids, P, pad_id) for p in parts]),
                    torch.cat([left(p.prompt_mask, P, 0) for p in parts]),
                    torch.cat([right(p.completion_ids, C, pad_id) for p in parts]),
                    torch.cat([right(p.completion_mask, C, 0) for p in parts]),
                    torch.cat([right(p.sampler_logprobs, C, 0.0) for p in parts]),
                    torch.cat([p.truncated for p in parts]), [t for p in parts for t in p.texts], parts[0].group_size)


def micro_batches(rollouts: Rollouts, rows: torch.Tensor, size: int,
                  device: torch.device | str = "cpu") -> list[tuple[torch.Tensor, tuple]]:
    """``rows`` sorted by length and cut into chunks of ``size``; each chunk's tensors lose their all-padding
    columns, so short completions are not padded to the longest of the whole batch.

    Returns ``(chunk_rows, (prompt_ids, prompt_mask, completion_ids, completion_mask))`` per chunk, the tensors
    on ``device``.
    """
    lengths = rollouts.prompt_mask[rows].sum(1) + rollouts.completion_mask[rows].sum(1)
    chunks = []
    for chunk in rows[lengths.argsort(descending=True, stable=True)].split(size):
        prompt_mask, completion_mask = rollouts.prompt_mask[chunk], rollouts.completion_mask[chunk]
        start = prompt_mask.shape[1] - int(prompt_mask.sum(1).max())  # prompts are left-padded
        width = int(completion_mask.sum(1).max())  # completions are right-padded
        tensors = (rollouts.prompt_ids[chunk, start:], prompt_mask[:, start:],
                   rollouts.completion_ids[chunk, :width], completion_mask[:, :width])
        chunks.append((chunk, tuple(t.to(device) for t in tensors)))
    return chunks


def make_optimizer(policy: torch.nn.Module, settings: GRPOSettings) -> torch.optim.Optimizer:
    """The trainer's optimizer: AdamW over the policy's weights at ``settings.lr`` (``rfs bench grpo`` times the same
    one)."""
    return torch.optim.AdamW(policy.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=settings.weight_decay)


def update_policy(policy: torch.nn.Module, optimizer: torch.optim.Optimizer, rollouts: Rollouts,
                  advantages: torch.Tensor, settings: GRPOSettings, reference: torch.nn.Module | None = None,
                  world: int = 1) -> dict[str, float]:
    """``updates_per_batch`` optimizer steps on one batch of rollouts; returns the update's metrics.

    The batch is processed in micro-batches of ``micro_batch`` rows whose gradients add up: the loss's
    normalisers count the whole batch, so the sum over micro-batches is the loss of the whole batch. Rows with
    zero advantage add nothing to the gradient (without a KL term) and are skipped in a single process.
    ``policy`` may be wrapped in DistributedDataParallel; then ``world`` is the number of processes and the
    normalisers count the sequences and tokens of all of them.
    """
    device = next(policy.parameters()).device
    mask = rollouts.completion_mask.float()
    if settings.overlong_filter:
        mask = mask * ~rollouts.truncated[:, None]
    counts = torch.tensor([float(mask.shape[0]), float(mask.sum())])
    if world > 1:
        dist.all_reduce(counts)
    num_sequences, num_tokens = (counts.clamp(min=1) / world).tolist()
    rows = torch.arange(mask.shape[0])
    if world == 1 and not settings.kl_coef:  # rows that add nothing: zero advantage, or every token filtered
        rows = rows[(advantages != 0) & (mask.sum(1) > 0)]
    if len(rows) == 0:  # nothing to learn from: no step (Adam's momentum would still move the weights)
        return {"loss": 0.0, "grad_norm": 0.0}
    chunks = micro_batches(rollouts, rows, settings.micro_batch, device)
    temperature = settings.temperature
    with torch.no_grad():  # the policy before this batch's updates, and the reference
        olds = [completion_logprobs(policy, *batch, temperature=temperature)[0]
                if settings.updates_per_batch > 1 else None for _, batch in chunks]
        references = [completion_logprobs(reference, *batch, temperature=temperature)[0]
                      if settings.kl_coef and reference is not None else None for _, batch in chunks]
    for _ in range(settings.updates_per_batch):
        totals = dict.fromkeys(["loss", "clip_fraction", "kl", "ratio", "entropy", "tokens"], 0.0)
        for (chunk, batch), old, ref in zip(chunks, olds, references, strict=True):
            width = batch[2].shape[1]
            logprobs, entropy = completion_logprobs(policy, *batch, temperature=temperature)
            chunk_mask, sampler = mask[chunk, :width].to(device), rollouts.sampler_logprobs[chunk, :width]
            loss, stats = grpo_loss(
                logprobs, advantages[chunk].to(device), chunk_mask,
                old_logprobs=logprobs.detach() if old is None else old,
                ratio=settings.ratio, eps_low=settings.eps_low, eps_high=settings.eps_high,
                aggregation=settings.aggregation, max_tokens=settings.max_new_tokens,
                sampler_logprobs=sampler.to(device), tis_cap=settings.tis_cap,
                ref_logprobs=ref, kl_coef=settings.kl_coef, kl_reweight=settings.kl_reweight,
                offpolicy_delta=settings.offpolicy_delta, num_sequences=num_sequences, num_tokens=num_tokens)
            if not torch.isfinite(loss):
                raise FloatingPointError("non-finite loss")
            loss.backward()
            tokens = float(batch[3].sum())
            totals["loss"] += loss.item()
            totals["entropy"] += float(entropy.sum())
            for key in ("clip_fraction", "kl", "ratio"):
                totals[key] += stats[key] * tokens
            totals["tokens"] += tokens
        grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    tokens = totals.pop("tokens")
    return {"loss": totals.pop("loss"), "grad_norm": float(grad_norm)} | {k: v / tokens for k, v in totals.items()}


# --- Evaluation -------------------------------------------------------------------------------------------

def greedy_accuracy(model, tokenizer, problems: list[dict], settings: GRPOSettings) -> tuple[float, float]:
    """Greedy accuracy on ``problems`` with the run's prompt, and the mean answer length in tokens."""
    completions = sample_solutions(model, tokenizer, [p["problem"] for p in problems], n=1, temperature=0.0,
                                   prompt=settings.prompt, max_new_tokens=settings.eval_max_new_tokens,
                                   batch_size=64)
    right = [correctness_reward(c.text, p["answer"]) for [c], p in zip(completions, problems, strict=True)]
    return sum(right) / len(right), sum(len(c.token_ids) for [c] in completions) / len(completions)


# --- The loop ---------------------------------------------------------------------------------------------

class _Interrupt:
    """Turns the first Ctrl-C into a request to checkpoint and stop at the end of the step."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C stops at once

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def _no_reward_advice(settings: GRPOSettings) -> str:
    return (f"no sample of the first step earned any reward ({settings.prompts_per_step} prompts x "
            f"{settings.group_size} samples), so there is nothing to learn from. Try easier problems (--levels 1 2), "
            f"more samples (--group-size 16), more room to answer (--max-new-tokens), a prompt the model "
            f"follows (--prompt cot), or a format reward (--format-reward 0.1); a model that cannot solve "
            f"anything needs supervised fine-tuning first.")


def train_grpo(settings: GRPOSettings, out_dir: str | Path, progress: bool = True, fresh: bool = False) -> Path:
    """Train ``settings.model`` with GRPO (or a variant) and save it as a model folder ``out_dir``; return it.

    ``out_dir`` also receives ``metrics.csv``, ``metrics.png``, ``settings.json`` and the checkpoint. A run
    whose checkpoint is there resumes from it (``fresh=True`` starts over). Raises :class:`TrainingStopped`
    when the loss becomes NaN (the last checkpoint is kept) or the first step earns no reward at all.
    """
    from rfs.plot import plot_metrics

    rank, world, out, device = start_run(out_dir, settings.threads, settings.prompts_per_step, "--prompts-per-step",
                                         settings.device)
    checkpoint, metrics_path = out / "checkpoint.safetensors", out / "metrics.csv"
    torch.manual_seed(settings.seed)
    policy = load_model(settings.model, device=device, dtype=torch.float32).train()
    tokenizer = load_tokenizer(settings.model)
    reference = copy.deepcopy(policy).eval().requires_grad_(False) if settings.kl_coef else None
    trained = spread_over_processes(policy, world, settings.fsdp)
    optimizer = make_optimizer(policy, settings)  # after spreading: FSDP2 replaces the parameters
    stream = PromptStream(training_problems(settings), settings.seed)
    identity = {"model": str(settings.model), "preset": settings.preset}
    start = 0
    if checkpoint.is_file() and not fresh:
        restored = load_checkpoint(checkpoint, policy, optimizer, identity)
        start, stream.position = restored["step"], restored["state"]["data_position"]
        if rank == 0:
            print(f"resuming from step {start} ({checkpoint})")
    eval_set = evaluation_problems(settings)
    if rank == 0:
        (out / "settings.json").write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n")
        start_metrics(metrics_path, start, METRICS)

    clock = {"train_s": 0.0, "train_cpu_s": 0.0}  # sampling and updating only, not evaluating
    if start:
        clock = {k: restored["state"][k] for k in clock}

    def save(step: int) -> None:
        save_checkpoint(checkpoint, policy, optimizer, step, identity, {"data_position": stream.position} | clock)

    def evaluate_row() -> dict:
        accuracy, length = greedy_accuracy(policy, tokenizer, eval_set, settings)
        policy.train()
        return {"eval_accuracy": accuracy, "eval_length": length}

    def write_row(row: dict) -> None:
        append_metrics(metrics_path, row, METRICS)

    bar = tqdm(range(start, settings.steps), initial=start, total=settings.steps, desc=f"GRPO ({settings.preset})",
               disable=not progress or rank > 0)
    with _Interrupt() as interrupt:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, settings)
            row = {"step": step}
            if eval_set and step % settings.eval_every == 0:
                with whole_weights(policy):
                    row |= evaluate_row() if rank == 0 else {}  # the weights at the start of this step
            t0, cpu0 = time.perf_counter(), time.process_time()
            with whole_weights(policy):
                rollouts, problems, rewards, counts = collect_rollouts(
                    policy, tokenizer, stream, settings, step, settings.prompts_per_step // world, rank, world)
            reward = combine_rewards(rewards, settings.rewards)
            if step == 0 and float(reward.abs().sum()) == 0:
                raise TrainingStopped(f"{settings.model}: " + _no_reward_advice(settings))
            weights = torch.tensor(list(settings.rewards.values()))
            advantages = (group_advantages(rewards, settings.group_size, "gdpo", weights)
                          if settings.advantage == "gdpo" else
                          group_advantages(reward, settings.group_size, settings.advantage))
            t1 = time.perf_counter()
            try:
                update = update_policy(trained, optimizer, rollouts, advantages, settings, reference, world)
            except FloatingPointError:
                raise TrainingStopped(
                    f"the loss became NaN or infinite at step {step} (learning rate {learning_rate(step, settings)}); "
                    f"the run stopped. The last good checkpoint is {checkpoint} (if one was written); lower --lr "
                    f"and start afresh with --fresh.") from None
            t2 = time.perf_counter()
            lengths = rollouts.completion_mask.sum(1).float()
            clock["train_s"] += t2 - t0
            clock["train_cpu_s"] += time.process_time() - cpu0
            row |= {"reward": reward.mean().item(),
                   "accuracy": rewards[:, list(settings.rewards).index("correctness")].mean().item()
                   if "correctness" in settings.rewards else None,
                   **counts, "mean_length": lengths.mean().item(), "max_length": lengths.max().item(),
                   "truncation_rate": rollouts.truncated.float().mean().item(), **update,
                   "lr": learning_rate(step, settings), "rollout_s": t1 - t0, "update_s": t2 - t1,
                   "tokens_per_s": lengths.sum().item() / (t2 - t0), **clock}
            last = step + 1 == settings.steps
            if rank == 0:
                write_row(row)
                bar.set_postfix(reward=f"{row['reward']:.2f}", acc=f"{row['accuracy'] or 0:.2f}",
                                tok_s=f"{row['tokens_per_s']:.0f}",
                                **({"eval": f"{row['eval_accuracy']:.1%}"} if "eval_accuracy" in row else {}))
            periodic = settings.checkpoint_every and (step + 1) % settings.checkpoint_every == 0
            if interrupt.requested or last or periodic:
                save(step + 1)
            if interrupt.requested:
                raise KeyboardInterrupt(f"stopped at step {step + 1}; the same command resumes from {checkpoint}")
    weights, _ = full_state(policy, None)  # every process takes part in gathering a sharded model
    with whole_weights(policy):
        if rank == 0 and eval_set and start < settings.steps:  # the final weights, as step `steps`
            write_row({"step": settings.steps} | evaluate_row() | clock)
    if rank == 0:
        save_model(policy.eval(), out, tokenizer_json=model_dir(settings.model) / "tokenizer.json", kind=tokenizer.kind,
                   weights=weights)
        plot_metrics(metrics_path)
    if world > 1:
        dist.barrier()
    return out
