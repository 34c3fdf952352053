"""``rfs bench grpo``: one GRPO step of rfs against TRL's ``GRPOTrainer`` on the same pocket model.

No lesson teaches this module; chapter 6 teaches the step it times, and book/results.md gives its numbers.

One step is what one row of a GRPO run's ``metrics.csv`` costs: sample G completions of each of P prompts, reward
them with the verifier, and make one update. Both engines get the same prompts (pocket-math training problems),
the same weights (TRL loads the folder ``rfs export --to hf`` writes, through ``transformers``), the same
temperature, the same number of new tokens and the same optimizer settings, in float32 on the CPU:

- rfs: :func:`rfs.rl.rollouts.sample_rollouts` (each prompt is prefilled once for its G samples, finished rows
  leave the batch), :func:`rfs.rl.rewards.compute_rewards`, then :func:`rfs.rl.trainer.update_policy` with the
  ``grpo`` preset (rows with zero advantage add nothing to the gradient and are skipped).
- TRL: ``GRPOTrainer.train``, generating with ``transformers``' ``generate`` (no vLLM; every row is a full copy
  of its prompt), the same verifier as its reward function, no KL (``beta=0``), one update per batch
  (``num_iterations=1``), no gradient accumulation or checkpointing, no logging, evaluation or saving.

The loss. rfs' ``grpo`` preset is REINFORCE with the group baseline: ``-A * log p`` summed over each completion's
tokens and averaged over completions. TRL has no loss without a ratio; its ``luspo`` loss with sequence-level
importance sampling is a sequence's ratio times its advantage times its length, and in the first update (the
only one here) the ratio is exactly 1 and its gradient that of the mean token log-probability, so the gradient is
the same. What still differs: TRL divides each group by its sample standard deviation (n - 1), rfs by the
population one (n), so TRL's advantages are sqrt((G - 1) / G) of ours (0.94 for G = 8); both clip the gradient's
norm at ``max_grad_norm``.

The lengths. By default every completion is exactly ``new_tokens`` long on both sides, so both do the same work
whatever they sample: TRL is given ``min_new_tokens`` (the end tokens cannot be drawn before), rfs generates past
them (``ignore_eos``). With ``ignore_eos=False`` both stop at the end tokens: then TRL's ``generate`` runs until
the batch's longest completion ends, while rfs decodes only the rows still running.

Each engine runs in a fresh Python process, so its peak resident memory (``ru_maxrss``: imports, model, optimizer
and the step's tensors) is its own. One warm-up step comes first; the report gives the median of ``repeats``
steps after it, split into the rollout (sampling, decoding, rewards, advantages) and the update (the
log-probability forward pass, the backward pass and the optimizer step).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from rfs.hub import load_model, load_tokenizer
from rfs.prompts import build_prompt
from rfs.rl.advantages import group_advantages
from rfs.rl.presets import GRPOSettings, settings_for
from rfs.rl.rewards import combine_rewards, compute_rewards, correctness_reward
from rfs.rl.rollouts import sample_rollouts
from rfs.rl.trainer import PromptStream, make_optimizer, step_seed, training_problems, update_policy

TIMES = ("step_s", "rollout_s", "update_s", "cpu_s")


def peak_rss_mib() -> float:
    """The most resident memory this process has held so far, in MiB (Linux counts ``ru_maxrss`` in KiB, macOS
    in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def summarize(steps: list[dict], loaded_mib: float) -> dict:
    """One engine's result from its per-step records (the first, the warm-up, is left out of the timings).

    Each record holds ``step_s``, ``rollout_s``, ``update_s`` (wall-clock seconds), ``cpu_s`` (the step's CPU
    seconds, which a busy machine inflates less), ``lengths`` (completion tokens of each row),
    ``reward`` (mean) and ``rows_updated``. Times are medians over the timed steps; lengths and rewards count
    every step.
    """
    timed = steps[1:] or steps
    lengths = [n for s in steps for n in s["lengths"]]
    return {**{key: statistics.median(s[key] for s in timed) for key in TIMES},
            "timed_steps": len(timed), "tokens_per_step": sum(lengths) / len(steps),
            "min_length": min(lengths), "max_length": max(lengths),
            "reward": sum(s["reward"] for s in steps) / len(steps),
            "rows_updated": sum(s["rows_updated"] for s in steps) / len(steps),
            "rows": len(steps[0]["lengths"]), "threads": torch.get_num_threads(),
            "loaded_mib": loaded_mib, "peak_mib": peak_rss_mib()}


def run_rfs(problems: list[dict], settings: GRPOSettings, steps: int, ignore_eos: bool) -> dict:
    """``steps`` GRPO steps of rfs on ``problems`` (``settings.prompts_per_step`` per step); see :func:`summarize`.

    This is the step of :func:`rfs.rl.trainer.train_grpo` without what a benchmark does not need (dynamic
    sampling, metrics, evaluation, checkpoints).
    """
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    policy = load_model(settings.model, device="cpu", dtype=torch.float32).train()
    tokenizer = load_tokenizer(settings.model)
    optimizer = make_optimizer(policy, settings)
    loaded = peak_rss_mib()
    P, G = settings.prompts_per_step, settings.group_size
    records = []
    for step in range(steps):
        batch = problems[step * P:(step + 1) * P]
        start, cpu = time.perf_counter(), time.process_time()
        prompts = [build_prompt(tokenizer, p["problem"], settings.prompt) for p in batch]
        rollouts = sample_rollouts(policy, tokenizer, prompts, G, settings.temperature, settings.max_new_tokens,
                                   seed=step_seed(settings, step), ignore_eos=ignore_eos)
        references = [p["answer"] for p in batch for _ in range(G)]
        rewards = combine_rewards(compute_rewards(rollouts.texts, references, settings.rewards), settings.rewards)
        advantages = group_advantages(rewards, G, settings.advantage)
        sampled = time.perf_counter()
        update_policy(policy, optimizer, rollouts, advantages, settings)
        done = time.perf_counter()
        records.append({"step_s": done - start, "rollout_s": sampled - start, "update_s": done - sampled,
                        "cpu_s": time.process_time() - cpu,
                        "lengths": rollouts.completion_mask.sum(1).tolist(), "reward": rewards.mean().item(),
                        "rows_updated": int((advantages != 0).sum())})
    return {"engine": "rfs"} | summarize(records, loaded)


def run_trl(problems: list[dict], settings: GRPOSettings, steps: int, ignore_eos: bool) -> dict:
    """The same ``steps`` steps with TRL's ``GRPOTrainer`` on the model exported to the Hugging Face layout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never wait for the network
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one thread means one thread
    import datasets
    import transformers
    import trl

    from rfs.export import export_hf

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renamings, not ours to fix
    torch.set_num_threads(settings.threads)
    P, G = settings.prompts_per_step, settings.group_size
    rfs_tokenizer = load_tokenizer(settings.model)
    data = datasets.Dataset.from_list([{"prompt": build_prompt(rfs_tokenizer, p["problem"], settings.prompt),
                                        "answer": p["answer"]} for p in problems[:P * steps]])
    rewards, lengths, rollout_s, step_s, cpu_s = [], [], [], [], []

    def correctness(completions: list[str], answer: list[str], **kwargs) -> list[float]:
        """TRL's reward function: rfs' verifier on each completion (``answer`` is the data set's column)."""
        scores = [correctness_reward(c, a) for c, a in zip(completions, answer, strict=True)]
        rewards.append(sum(scores) / len(scores))
        return scores

    class TimedGRPOTrainer(trl.GRPOTrainer):
        """``GRPOTrainer`` that times its rollout: generation, decoding, rewards and advantages."""

        def _generate_and_score_completions(self, inputs):
            start = time.perf_counter()
            batch = super()._generate_and_score_completions(inputs)
            rollout_s.append(time.perf_counter() - start)
            lengths.append(batch["completion_mask"].sum(1).tolist())
            return batch

    class StepClock(transformers.TrainerCallback):
        """Times each optimizer step: from before its batch is generated to after the weights change."""

        def on_step_begin(self, args, state, control, **kwargs):
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            step_s.append(time.perf_counter() - self.start)
            cpu_s.append(time.process_time() - self.cpu)

    with tempfile.TemporaryDirectory() as tmp:
        folder = export_hf(settings.model, Path(tmp) / "hf")
        torch.manual_seed(settings.seed)
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        config = trl.GRPOConfig(
            output_dir=str(Path(tmp) / "out"), max_steps=steps, seed=settings.seed, use_cpu=True,
            bf16=False, fp16=False, gradient_checkpointing=False,  # TRL's defaults are on: rfs uses neither
            per_device_train_batch_size=P * G, gradient_accumulation_steps=1, num_generations=G,
            max_completion_length=settings.max_new_tokens, temperature=settings.temperature,
            generation_kwargs={"min_new_tokens": settings.max_new_tokens} if ignore_eos else None,
            use_vllm=False, beta=0.0, num_iterations=1, loss_type="luspo", importance_sampling_level="sequence",
            scale_rewards="group", learning_rate=settings.lr, lr_scheduler_type="constant",
            adam_beta1=0.9, adam_beta2=0.99, weight_decay=settings.weight_decay, max_grad_norm=settings.max_grad_norm,
            shuffle_dataset=False, report_to="none", logging_strategy="no", save_strategy="no", eval_strategy="no",
            disable_tqdm=True, dataloader_num_workers=0)
        trainer = TimedGRPOTrainer(model=model, reward_funcs=correctness, args=config, train_dataset=data,
                                   processing_class=tokenizer, callbacks=[StepClock()])
        trainer.remove_callback(transformers.PrinterCallback)  # it prints the run's log at the end
        loaded = peak_rss_mib()
        trainer.train()
    steps_seen = zip(step_s, rollout_s, cpu_s, lengths, rewards, strict=True)
    records = [{"step_s": s, "rollout_s": r, "update_s": s - r, "cpu_s": c, "lengths": n, "reward": w,
                "rows_updated": P * G} for s, r, c, n, w in steps_seen]
    return {"engine": f"TRL {trl.__version__}"} | summarize(records, loaded)


def in_fresh_process(function: Callable[..., dict], *args) -> dict:
    """``function(*args)`` run in a new Python process (spawned, not forked): the engine's imports, model and peak
    memory are its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def bench_grpo(model: str = "pocket-base", prompts: int = 16, group_size: int = 8, new_tokens: int = 128,
               temperature: float = 0.8, repeats: int = 3, threads: int = 1, ignore_eos: bool = True,
               with_trl: bool = True, seed: int = 0) -> list[dict]:
    """Time one GRPO step of rfs (and of TRL) on ``model``: ``prompts`` pocket-math training problems x
    ``group_size`` samples of up to ``new_tokens`` tokens (exactly that many with ``ignore_eos``) at
    ``temperature``, then one update; ``threads`` torch threads each.

    Returns one row per engine (see :func:`summarize`); TRL's row adds ``ratio``, its step's seconds over rfs'.
    """
    settings = settings_for("grpo", model=model, prompts_per_step=prompts, group_size=group_size,
                            max_new_tokens=new_tokens, temperature=temperature, threads=threads, seed=seed)
    steps = 1 + repeats  # a warm-up step, then the timed ones
    problems = PromptStream(training_problems(settings), seed).take(prompts * steps)
    rows = [in_fresh_process(run_rfs, problems, settings, steps, ignore_eos)]
    if with_trl:
        rows.append(in_fresh_process(run_trl, problems, settings, steps, ignore_eos))
        rows[1]["ratio"] = rows[1]["step_s"] / rows[0]["step_s"]
    return rows


def grpo_report(rows: list[dict]) -> str:
    """The rows of :func:`bench_grpo` as a table, then the ratios (TRL's seconds over rfs', per step and per part)."""
    lines = [f"{'engine':<12} {'step s':>7} {'CPU s':>7} {'rollout s':>9} {'update s':>8} {'tokens/step':>11} "
             f"{'length min-max':>14} {'rows updated':>12} {'reward':>6} {'peak RSS MiB':>12} {'loaded MiB':>10}"]
    for r in rows:
        lines.append(f"{r['engine']:<12} {r['step_s']:7.3f} {r['cpu_s']:7.3f} {r['rollout_s']:9.3f} "
                     f"{r['update_s']:8.3f} {r['tokens_per_step']:11.0f} {r['min_length']:>6}-{r['max_length']:<7} "
                     f"{r['rows_updated']:6.1f}/{r['rows']:<5} {r['reward']:6.2f} {r['peak_mib']:12.0f} "
                     f"{r['loaded_mib']:10.0f}")
    if len(rows) > 1:
        ours, theirs = rows
        cpu, rollout, update = (theirs[key] / ours[key] for key in ("cpu_s", "rollout_s", "update_s"))
        lines.append(f"{theirs['engine']} / rfs: {theirs['ratio']:.2f}x the seconds per step (CPU seconds {cpu:.2f}x; "
                     f"rollout {rollout:.2f}x, update {update:.2f}x); peak memory "
                     f"{theirs['peak_mib'] / ours['peak_mib']:.2f}x")
    return "\n".join(lines)
