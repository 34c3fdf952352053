"""Training on several processes with ``torchrun``: data parallelism (DDP) and sharded data parallelism (FSDP2).

Chapter 6 (and chapter 8 for supervised fine-tuning) trains on one process by default. ``torchrun
--nproc_per_node N rfs train ...`` starts N copies of the same command; each finds its place here
(:func:`setup_distributed`), takes its share of every step's prompts or rows, and the gradients are averaged
across processes before each optimizer step, so N processes make the update one process would make on the
whole batch. Two ways to spread the model:

- **DDP** (the default): every process holds the whole model and optimizer; after ``backward`` the gradients are
  all-reduced. Simple and fast while the model, its gradients and AdamW's two moment estimates (about 16 bytes
  a parameter in float32) fit one device.
- **FSDP2** (``--fsdp``, PyTorch's ``fully_shard``): each process keeps only a 1/N shard of every weight, gradient
  and optimizer state; a layer's weights are gathered just before it runs and freed after. Training memory per
  device drops by about N, for more communication. Sampling a rollout runs thousands of small forward passes
  whose count differs between processes (sequences end at different times), so :func:`whole_weights` gathers
  the weights once for the whole rollout and shards them again afterwards.

On a CPU the processes talk through the gloo backend, which is how the tests run two processes on one machine;
on GPUs through NCCL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.fsdp import FSDPModule, fully_shard


def training_device(requested: str | None = None) -> torch.device:
    """Where this process trains: ``requested`` (``--device``), else its own GPU (torchrun's ``LOCAL_RANK``
    gives each process of a machine a different one), else the CPU. A GPU is made the current one, so NCCL and
    FSDP2 use it rather than GPU 0."""
    if requested:
        device = torch.device(requested)
    elif torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def setup_distributed(device: torch.device | None = None) -> tuple[int, int]:
    """Rank and world size under torchrun (NCCL between GPUs, gloo otherwise), or (0, 1) for a plain run."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        on_gpu = device.type == "cuda" if device is not None else torch.cuda.is_available()
        dist.init_process_group("nccl" if on_gpu else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def start_run(out_dir: str | Path, threads: int | None, per_step: int, per_step_flag: str,
              device: str | None = None) -> tuple[int, int, Path, torch.device]:
    """What both trainers do first: set the CPU threads, pick this process's device (:func:`training_device`),
    join torchrun's processes if there are any, check that the ``per_step`` examples of a step divide among them,
    and create the output folder.

    Returns (rank, world size, output folder, device).
    """
    if threads:
        torch.set_num_threads(threads)
    where = training_device(device)
    rank, world = setup_distributed(where)
    if per_step % world:
        raise ValueError(f"{per_step_flag} {per_step} must divide among {world} processes")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return rank, world, out, where


def spread_over_processes(model: torch.nn.Module, world: int, shard: bool = False) -> torch.nn.Module:
    """The module to train through: ``model`` itself on one process, else wrapped in DDP, or sharded in place
    with FSDP2 (each transformer block its own unit, then the rest). Build the optimizer after this call: FSDP2
    replaces the parameters by sharded ones."""
    if world == 1:
        return model
    if not shard:
        return torch.nn.parallel.DistributedDataParallel(model)
    for block in model.layers:
        fully_shard(block)
    fully_shard(model)
    return model


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether FSDP2 shards ``model``'s weights across processes."""
    return isinstance(model, FSDPModule)


@contextmanager
def whole_weights(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside, a sharded model holds its whole weights on every process, so it can sample, be evaluated or be
    saved by one process alone (no forward pass waits for the others). Every process must enter together: the
    gathering is collective. A model that is not sharded passes through unchanged."""
    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for unit in units:
        unit.unshard()
        unit.set_reshard_after_forward(False, recurse=False)
    try:
        yield model
    finally:
        for unit in units:
            unit.reshard()
            unit.set_reshard_after_forward(True, recurse=False)


def full_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> tuple[dict, dict | None]:
    """The model's and the optimizer's state dicts as one process would have them (optimizer states keyed by the
    parameter's position, as ``optimizer.state_dict()`` does). For a sharded model this is collective (every
    process must call it) and only the first process gets the tensors; the others get empty dicts."""
    if not is_sharded(model):
        return model.state_dict(), optimizer.state_dict() if optimizer is not None else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    weights, sharded_optimizer = get_state_dict(
        model, optimizer if optimizer is not None else [],
        options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if optimizer is None:
        return weights, None
    names = [name for name, _ in model.named_parameters()]
    return weights, {"state": {names.index(k): v for k, v in sharded_optimizer.get("state", {}).items()},
                     "param_groups": [g | {"params": [names.index(p) for p in g["params"]]}
                                      for g in sharded_optimizer.get("param_groups", [])]}


def load_full_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, weights: dict,
                    optimizer_state: dict | None) -> None:
    """Load whole state dicts (as :func:`full_state` returns them) into a sharded model and its optimizer; every
    process passes the same dicts and keeps its shard."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    names = [name for name, _ in model.named_parameters()]
    by_name = None
    if optimizer is not None and optimizer_state is not None:
        by_name = {"state": {names[int(i)]: v for i, v in optimizer_state["state"].items()},
                   "param_groups": [g | {"params": [names[int(i)] for i in g["params"]]}
                                    for g in optimizer_state["param_groups"]]}
    set_state_dict(model, optimizer if optimizer is not None else [], model_state_dict=weights,
                   optim_state_dict=by_name or {}, options=StateDictOptions(full_state_dict=True, strict=False))
