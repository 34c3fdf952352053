"""Training the pocket models on a CPU: pretraining a base model, then teaching it to think.

``rfs pocket train --preset base`` pretrains ``pocket-base`` from scratch on pocket-math documents: mostly a
problem and its bare answer, and for a minority a worked solution introduced by "Let's think step by step."
(the ``cot`` prompt), so the model answers tersely by default and works carefully when asked.
``--preset reasoning`` continues from pocket-base on chat-formatted text that reasons inside
``<think>...</think>`` before answering, like Qwen3's thinking mode.

The loop is the plain one of every language model: sample windows of the token stream, predict each next
token, step AdamW. It checkpoints every ``checkpoint_every`` steps and resumes from the checkpoint, so an
interrupt loses at most one interval; the loss is logged to ``log.jsonl`` and drawn in ``loss.png``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rfs.hub import load_model, model_dir, save_model
from rfs.pocket.bpe import save_bpe, train_bpe
from rfs.pocket.data import test_records, train_records
from rfs.prompts import PROMPTS, build_prompt
from rfs.qwen3 import Qwen3, Qwen3Config
from rfs.tokenizer import Tokenizer

POCKET_CONFIG = Qwen3Config(vocab_size=512, hidden_size=192, intermediate_size=512, num_hidden_layers=4,
                            num_attention_heads=6, num_key_value_heads=2, head_dim=32,
                            max_position_embeddings=1024, rope_theta=10_000.0, tie_word_embeddings=True)
TOY_CONFIG = Qwen3Config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
                         rope_theta=10_000.0, tie_word_embeddings=True)

# Plain dicts: what each preset trains on and for how long. ``quick`` shrinks any preset to a toy run for tests.
PRESETS: dict[str, dict] = {
    "base": {"documents": "base", "style": "quick", "problems": 300_000, "worked_fraction": 0.3, "steps": 2000,
             "batch_size": 20, "seq_len": 384, "lr": 2e-3, "warmup": 200, "init": None},
    # The reasoning model learns from careful worked solutions, as thinking models are trained on long,
    # careful chains of thought.
    "reasoning": {"documents": "reasoning", "style": "careful", "problems": 80_000, "worked_fraction": 0.3,
                  "steps": 600, "batch_size": 24, "seq_len": 384, "lr": 6e-4, "warmup": 50, "init": "pocket-base"},
}
QUICK = {"problems": 2000, "steps": 30, "batch_size": 8, "seq_len": 64, "warmup": 5}
CHECKPOINT_EVERY = 200


# --- Documents --------------------------------------------------------------------------------------------

def base_document(record: dict, worked: bool) -> str:
    """Pretraining text for one problem: the bare answer, or (``worked``) the cot prompt and a worked solution."""
    if worked:
        return PROMPTS["cot"].format(problem=record["problem"]) + record["solution"]
    return PROMPTS["plain"].format(problem=record["problem"]) + f" $\\boxed{{{record['answer']}}}$"


def reasoning_document(record: dict, tokenizer: Tokenizer) -> str:
    """Chat text for one problem: the model thinks through the worked steps, then states the boxed answer."""
    *steps, last = record["solution"].split("\n")
    prompt = build_prompt(tokenizer, record["problem"], "chat", thinking=True)
    return prompt + "<think>\n" + "\n".join(steps) + "\n</think>\n\n" + last + "<|im_end|>"


def make_documents(preset: dict, records: list[dict], tokenizer: Tokenizer | None, seed: int) -> list[str]:
    """The training documents of a preset. Base documents end with ``<|endoftext|>``."""
    rng = random.Random(seed)
    if preset["documents"] == "base":
        return [base_document(r, rng.random() < preset["worked_fraction"]) + "<|endoftext|>" for r in records]
    # Some base documents stay in the mix so the model keeps its other skills.
    return [reasoning_document(r, tokenizer) if rng.random() > 0.15
            else base_document(r, rng.random() < preset["worked_fraction"]) + "<|endoftext|>" for r in records]


def token_stream(tokenizer: Tokenizer, documents: list[str]) -> torch.Tensor:
    """All documents tokenized and concatenated into one long 1-D tensor of token ids."""
    encodings = tokenizer.tokenizer.encode_batch(documents, add_special_tokens=False)
    return torch.tensor([i for e in encodings for i in e.ids], dtype=torch.long)


def sample_batch(stream: torch.Tensor, batch_size: int, seq_len: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of the stream: inputs (B, T) and targets (B, T), the same tokens shifted by one."""
    starts = torch.randint(0, len(stream) - seq_len - 1, (batch_size,), generator=generator)
    windows = torch.stack([stream[s:s + seq_len + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


# --- The loop -----------------------------------------------------------------------------------------------

def learning_rate(step: int, preset: dict) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < preset["warmup"]:
        return preset["lr"] * (step + 1) / preset["warmup"]
    progress = (step - preset["warmup"]) / max(1, preset["steps"] - preset["warmup"])
    return preset["lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_checkpoint(path: Path, model: Qwen3, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Write a resumable checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
    os.replace(tmp, path)


def plot_loss(log_path: Path, png_path: Path) -> Path:
    """Draw the training loss curve from the log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log_path.read_text().splitlines()]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows])
    ax.set(xlabel="step", ylabel="training loss", yscale="log", title=png_path.parent.name)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return png_path


def prepare(preset: dict, records: list[dict], work_dir: Path, quick: bool,
            seed: int) -> tuple[Qwen3, Tokenizer, Path]:
    """The starting model and tokenizer of a preset (a fresh model and a BPE trained on ``records`` for base)."""
    if preset["init"] is None:
        texts = [base_document(r, worked=True) for r in records[:20_000]]
        tokenizer_file = save_bpe(train_bpe(texts, (TOY_CONFIG if quick else POCKET_CONFIG).vocab_size),
                                  work_dir / "tokenizer.json")
        torch.manual_seed(seed)
        model = Qwen3(TOY_CONFIG if quick else POCKET_CONFIG)
    else:
        model = load_model(preset["init"], device="cpu", dtype=torch.float32)
        tokenizer_file = work_dir / "tokenizer.json"
        shutil.copy(model_dir(preset["init"]) / "tokenizer.json", tokenizer_file)
    return model, Tokenizer.from_file(tokenizer_file), tokenizer_file


def train(preset_name: str, out_dir: str | Path | None = None, work_dir: str | Path | None = None,
          quick: bool = False, resume: bool = True, seed: int = 0, init: str | None = None,
          progress: bool = True) -> Path:
    """Train a pocket model; return the folder of the finished model (Hugging Face layout).

    ``work_dir`` (default ``runs/pocket-<preset>``) holds the checkpoint, ``log.jsonl`` and ``loss.png``;
    the model is written to ``out_dir`` (default ``<work_dir>/model``). ``quick`` trains a toy model for a
    few steps (for tests). An existing checkpoint in ``work_dir`` is resumed unless ``resume=False``.
    """
    preset = PRESETS[preset_name] | (QUICK if quick else {}) | ({"init": init} if init else {})
    work_dir = Path(work_dir or f"runs/pocket-{preset_name}{'-quick' if quick else ''}")
    out_dir = Path(out_dir or work_dir / "model")
    work_dir.mkdir(parents=True, exist_ok=True)
    records = train_records(preset["problems"], seed=seed, style=preset["style"])
    model, tokenizer, tokenizer_file = prepare(preset, records, work_dir, quick, seed)
    model.train()
    stream = token_stream(tokenizer, make_documents(preset, records, tokenizer, seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset["lr"], betas=(0.9, 0.95), weight_decay=0.1)
    checkpoint, log_path = work_dir / "checkpoint.pt", work_dir / "log.jsonl"
    start = 0
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        print(f"resuming {preset_name} from step {start} ({checkpoint})")
    elif log_path.exists():
        log_path.unlink()
    began = time.perf_counter()
    bar = tqdm(range(start, preset["steps"]), initial=start, total=preset["steps"], desc=f"training {preset_name}",
               disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, preset)
        # The batch depends only on (seed, step), so a resumed run sees exactly the batches it would have seen.
        inputs, targets = sample_batch(stream, preset["batch_size"], preset["seq_len"],
                                       torch.Generator().manual_seed(seed * 1_000_003 + step))
        with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 matmuls: ~1.5x faster on this kind of CPU
            logits = model(inputs)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 25 == 0 or step == preset["steps"] - 1:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "loss": loss.item(), "lr": learning_rate(step, preset),
                                    "seconds": time.perf_counter() - began}) + "\n")
        if (step + 1) % CHECKPOINT_EVERY == 0:
            save_checkpoint(checkpoint, model, optimizer, step + 1)
    save_checkpoint(checkpoint, model, optimizer, preset["steps"])
    plot_loss(log_path, work_dir / "loss.png")
    return save_model(model.eval(), out_dir, tokenizer_json=tokenizer_file)


def write_data(out_dir: str | Path, train_size: int = 10_000, seed: int = 42) -> list[Path]:
    """Write the pocket-math test split and a training sample as JSONL files (for inspection)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in [("test", test_records()), ("train", train_records(train_size, seed=seed))]:
        path = out_dir / f"pocket-math-{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        paths.append(path)
    return paths
