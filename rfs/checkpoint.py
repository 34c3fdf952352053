"""Training checkpoints that survive a kill: weights, optimizer, step, data position and random state (chapter 6).

A long training run must be able to stop at any moment (Ctrl-C, a crash, a machine taken away) and continue
as if nothing happened. That needs more than the weights: the optimizer's moment estimates, the step count,
where the run is in its data, and the state of every random number generator, so that the resumed run draws
the same prompts and samples the uninterrupted one would have.

Everything goes into one ``safetensors`` file: the tensors under ``model.``, ``optimizer.`` and ``state.``
names, the rest (step, data position, Python's random state, what model and preset made the run) as JSON in
the file's metadata. The file is written under a temporary name and then renamed over the old one; a rename is
atomic, so a kill mid-write leaves the previous checkpoint intact. A checkpoint records which run made it
(``identity``, e.g. the model and preset), and loading it into another run is refused with a message naming
both, so a resumed run never silently mixes two experiments.

One more thing makes a run resumable, and both trainers (GRPO, chapter 6; SFT, chapter 8) share it here: the
metrics file is cut back to the checkpoint's step when a run resumes (the steps after it are redone). Under
``torchrun`` every process calls :func:`save_checkpoint` (a sharded model is gathered for it, see
``rfs.distributed``) and the first one writes the file.
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rfs.distributed import full_state, is_sharded, load_full_state


class CheckpointMismatch(ValueError):
    """A checkpoint that belongs to another run (another model or preset); the message names both."""


def _model_tensors(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A model's state dict as checkpoint tensors, each stored once: a tied output head shares the embedding and
    is left out."""
    tensors, seen = {}, set()
    for name, tensor in weights.items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        tensors[f"model.{name}"] = tensor.detach().contiguous().cpu()
    return tensors


def _optimizer_parts(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state dict into tensors (moment estimates, step counts) and JSON (hyper-parameters)."""
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """Every global random state: torch's (CPU and CUDA) as tensors, Python's as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors |= {f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    return tensors, {"python": random.getstate()}


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    identity: dict, state: dict | None = None) -> Path:
    """Write a checkpoint to ``path`` (a ``.safetensors`` file) atomically; return the path.

    ``identity`` names the run (e.g. ``{"model": "pocket-base", "preset": "grpo"}``) and is checked on load.
    ``state`` holds the trainer's own state: tensors (e.g. a ``torch.Generator``'s state) and JSON-able values
    (e.g. the data position). Under torchrun every process calls it and the first one writes.
    """
    path = Path(path)
    weights, optimizer_state = full_state(model, optimizer)
    if dist.is_initialized() and dist.get_rank() > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    optimizer_tensors, optimizer_json = _optimizer_parts(optimizer_state)
    rng_tensors, rng_json = _rng_state()
    state = state or {}
    extra_tensors = {f"state.{k}": v.detach().contiguous().cpu() for k, v in state.items() if torch.is_tensor(v)}
    extra_json = {k: v for k, v in state.items() if not torch.is_tensor(v)}
    metadata = {"step": step, "identity": identity, "optimizer": optimizer_json, "rng": rng_json,
                "state": extra_json}
    tmp = path.with_name(path.name + ".tmp")
    save_file(_model_tensors(weights) | optimizer_tensors | rng_tensors | extra_tensors, tmp,
              metadata={"rfs": json.dumps(metadata)})
    os.replace(tmp, path)  # atomic: the old checkpoint is replaced whole or not at all
    return path


def read_identity(path: str | Path) -> dict:
    """The ``identity`` a checkpoint was saved with (to report what run it belongs to)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["rfs"])["identity"]


def check_identity(path: Path, saved: dict, expected: dict) -> None:
    """Refuse a checkpoint made by another run: name what differs, both ways, and what to do."""
    keys = set(saved) | set(expected)
    differs = {k: (saved.get(k), expected.get(k)) for k in keys if saved.get(k) != expected.get(k)}
    if differs:
        what = "; ".join(f"{k}: checkpoint {a!r}, this run {b!r}" for k, (a, b) in sorted(differs.items()))
        raise CheckpointMismatch(f"{path} was written by another run ({what}). Use another --out folder, or "
                                 f"delete the checkpoint to start afresh.")


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    identity: dict) -> dict:
    """Restore a checkpoint into ``model`` and ``optimizer`` and restore every global random state.

    Returns ``{"step": int, "state": dict}``: the step to continue from and the trainer's own ``state`` as it
    was saved (tensors and JSON values). Raises :class:`CheckpointMismatch` when ``identity`` differs from the
    one saved.
    """
    path = Path(path)
    try:
        tensors = load_file(path)
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = json.loads(f.metadata()["rfs"])
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise ValueError(f"cannot read the checkpoint {path} ({error}); delete it to start afresh") from None
    check_identity(path, metadata["identity"], identity)
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    optimizer_state = _optimizer_state(tensors, metadata["optimizer"]) if optimizer is not None else None
    if is_sharded(model):
        load_full_state(model, optimizer, weights, optimizer_state)
    else:
        missing, unexpected = model.load_state_dict(weights, strict=False)
        shared = set(model.state_dict()) - {k.removeprefix("model.") for k in _model_tensors(model.state_dict())}
        if set(missing) - shared or unexpected:  # (a tied output head is not stored)
            raise ValueError(f"{path} does not fit this model (missing {missing}, unexpected {unexpected})")
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_state)
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if cuda:
            torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = metadata["rng"]["python"]
    random.setstate((version, tuple(internal), gauss))
    state = metadata["state"] | {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
    return {"step": metadata["step"], "state": state}


def _optimizer_state(tensors: dict[str, torch.Tensor], saved: dict) -> dict:
    """Rebuild an optimizer's state dict from its stored tensors and JSON parts."""
    slots: dict[int, dict] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            slots.setdefault(int(index), {})[key] = tensor
    for name, value in saved["scalars"].items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = value
    return {"state": slots, "param_groups": saved["param_groups"]}


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a ``metrics.csv`` with numbers as floats (empty cells as None)."""
    with open(path) as f:
        return [{k: float(v) if v not in ("", None) else None for k, v in row.items()} for row in csv.DictReader(f)]


def start_metrics(path: Path, start: int, columns: list[str]) -> None:
    """Begin ``path`` with its header and the rows before step ``start`` (a resumed run redoes the steps after
    its checkpoint)."""
    rows = [r for r in read_metrics(path) if r["step"] < start] if start and path.is_file() else []
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows([{k: ("" if v is None else v) for k, v in r.items()} for r in rows])


def append_metrics(path: Path, row: dict, columns: list[str]) -> None:
    """Add one step's row to ``path`` at once, so an interrupted run keeps every finished step."""
    with open(path, "a", newline="") as f:
        csv.DictWriter(f, columns).writerow({k: "" if row.get(k) is None else row[k] for k in columns})
