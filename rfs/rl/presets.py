"""The settings of a GRPO run, and the published variants as named presets (chapters 6 and 7).

:class:`GRPOSettings` holds every knob of a run with the defaults of chapter 6. A preset is a plain dict that
overrides some of them; :func:`settings_for` applies a preset and then the caller's own overrides (on the
command line every option can be given), so ``settings_for("dapo", lr=1e-4)`` is DAPO with another learning
rate. What each variant changes:

| preset | advantage | ratio and clipping | aggregation | other |
|---|---|---|---|---|
| grpo (chapter 6) | z-score | none (REINFORCE) | sequence sum | |
| dr-grpo | centred, no std | token, 0.2 | constant normaliser | |
| dapo | z-score | token, clip-higher 0.2/0.28 | token mean | dynamic sampling, overlong filter |
| gspo | z-score | sequence, 3e-4/4e-4 | sequence mean | |
| cispo | z-score | clipped detached weight, 0.28 above | token mean | |
| olmo3 | centred, no std | token, 0.2/0.272 | token mean | dynamic sampling, truncated IS |
| deepseek-v32 | z-score | token, 0.2 | sequence mean | reweighted k3 KL, off-policy masking |

The clipping presets make two updates per batch, so their ratio (exactly 1 in the first update) matters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class GRPOSettings:
    """Every setting of a GRPO run (``rfs train grpo``). Defaults are chapter 6's plain GRPO on pocket-base."""

    model: str = "pocket-base"
    preset: str = "grpo"
    steps: int = 60
    prompts_per_step: int = 16
    group_size: int = 8  # G samples per prompt
    temperature: float = 0.8
    top_p: float | None = None
    max_new_tokens: int = 192
    prompt: str = "cot"  # rfs.prompts style of the training and evaluation prompts
    dataset: str = "pocket-math"  # or "math": MATH's training split to train on, MATH-500 to evaluate (real Qwen3)
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)  # levels to train on (a difficulty curriculum); both sets have 1-5
    train_problems: int = 20_000  # size of pocket-math's generated training pool
    rewards: dict[str, float] = field(default_factory=lambda: {"correctness": 1.0})
    # the update
    lr: float = 1e-4  # on pocket-base 2e-4 learned slower (book/results.md); a trial saw 5e-4 collapse
    lr_schedule: str = "constant"  # or "cosine" (to lr * min_lr_ratio at the last step)
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    updates_per_batch: int = 1
    micro_batch: int = 32  # rows per forward/backward pass (their gradients add up)
    advantage: str = "grpo"  # rfs.rl.advantages.ADVANTAGE_MODES
    ratio: str = "none"  # rfs.rl.losses.RATIOS
    eps_low: float = 0.2
    eps_high: float = 0.2
    aggregation: str = "seq-sum"  # rfs.rl.losses.AGGREGATIONS
    tis_cap: float | None = None
    kl_coef: float = 0.0
    kl_reweight: bool = False
    offpolicy_delta: float | None = None
    overlong_filter: bool = False  # leave truncated completions out of the loss
    dynamic_sampling: bool = False  # drop zero-signal groups and sample more prompts in their place
    max_sampling_rounds: int = 3
    # bookkeeping
    eval_every: int = 10
    eval_problems: int = 100  # the first N of the dataset's test split (pocket-math's or MATH-500), greedy
    eval_max_new_tokens: int = 384
    checkpoint_every: int = 10
    seed: int = 0
    threads: int | None = 1  # torch threads; one is fastest on a busy 2-core machine
    device: str | None = None  # default: this process's GPU if there is one, else the CPU (training_device)
    fsdp: bool = False  # under torchrun: shard weights, gradients and optimizer states (FSDP2) instead of DDP


PRESETS: dict[str, dict] = {
    "grpo": {},
    "dr-grpo": {"advantage": "dr-grpo", "ratio": "token", "aggregation": "constant", "updates_per_batch": 2},
    "dapo": {"ratio": "token", "eps_high": 0.28, "aggregation": "token-mean", "dynamic_sampling": True,
             "overlong_filter": True, "updates_per_batch": 2},
    "gspo": {"ratio": "sequence", "eps_low": 3e-4, "eps_high": 4e-4, "aggregation": "seq-mean",
             "updates_per_batch": 2},
    "cispo": {"ratio": "cispo", "eps_low": 1.0, "eps_high": 0.28, "aggregation": "token-mean",
              "updates_per_batch": 2},
    "olmo3": {"advantage": "dr-grpo", "ratio": "token", "eps_high": 0.272, "aggregation": "token-mean",
              "dynamic_sampling": True, "tis_cap": 2.0, "updates_per_batch": 2},
    "deepseek-v32": {"ratio": "token", "aggregation": "seq-mean", "kl_coef": 0.01, "kl_reweight": True,
                     "offpolicy_delta": 0.1, "updates_per_batch": 2},
}


def settings_for(preset: str = "grpo", **overrides) -> GRPOSettings:
    """The settings of ``preset`` (a ``PRESETS`` name) with ``overrides`` applied on top."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {list(PRESETS)}")
    known = {f.name for f in dataclasses.fields(GRPOSettings)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return GRPOSettings(**(PRESETS[preset] | overrides | {"preset": preset}))
