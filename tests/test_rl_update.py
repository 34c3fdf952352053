"""The policy update: micro-batches and data-parallel processes (DDP or FSDP2) give the update of the whole batch
at once; a sharded run's checkpoint holds the whole model."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import tiny_config

from rfs.checkpoint import load_checkpoint, save_checkpoint
from rfs.distributed import full_state, spread_over_processes
from rfs.qwen3 import Qwen3
from rfs.rl.presets import settings_for
from rfs.rl.rollouts import Rollouts
from rfs.rl.trainer import update_policy


def fixed_rollouts(rows: slice = slice(None)) -> Rollouts:
    """Eight rows (four groups of two) of random prompts and completions of different lengths."""
    g = torch.Generator().manual_seed(0)
    prompt_lengths, completion_lengths = [3, 5, 4, 2, 5, 3, 4, 4], [6, 2, 4, 7, 1, 5, 3, 6]
    prompt_ids = torch.randint(1, 300, (8, 5), generator=g)
    prompt_mask = torch.tensor([[0] * (5 - n) + [1] * n for n in prompt_lengths])
    completion_ids = torch.randint(1, 300, (8, 7), generator=g)
    completion_mask = torch.tensor([[1] * n + [0] * (7 - n) for n in completion_lengths])
    sampler = -torch.rand(8, 7, generator=g) * completion_mask
    truncated = torch.tensor([False, False, False, True, False, False, False, False])
    r = Rollouts(prompt_ids * prompt_mask, prompt_mask, completion_ids * completion_mask, completion_mask, sampler,
                 truncated, [""] * 8, group_size=2)
    return Rollouts(r.prompt_ids[rows], r.prompt_mask[rows], r.completion_ids[rows], r.completion_mask[rows],
                    r.sampler_logprobs[rows], r.truncated[rows], r.texts[rows], 2)


ADVANTAGES = torch.tensor([1.0, -1.0, 0.5, -0.5, 0.0, 0.0, -0.7, 0.7])
OPTIONS = {"ratio": "token", "aggregation": "token-mean", "updates_per_batch": 2, "eps_high": 0.28,
           "overlong_filter": True, "tis_cap": 2.0}


def updated_weights(rows: slice = slice(None), micro_batch: int = 8, world: int = 1, shard: bool = False,
                    **options) -> dict:
    torch.manual_seed(0)
    model = Qwen3(tiny_config())
    policy = spread_over_processes(model, world, shard)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)  # linear in the gradient, unlike Adam
    settings = settings_for("grpo", micro_batch=micro_batch, **(OPTIONS | options))
    update_policy(policy, optimizer, fixed_rollouts(rows), ADVANTAGES[rows], settings, world=world)
    return {k: v.clone() for k, v in full_state(model, None)[0].items()}


def assert_same_weights(a: dict, b: dict) -> None:
    torch.manual_seed(0)
    initial = Qwen3(tiny_config()).state_dict()
    assert any(not torch.equal(a[name], initial[name]) for name in a)  # the update did something
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean", "constant"])
def test_micro_batches_add_up_to_the_whole_batch(aggregation):
    whole = updated_weights(micro_batch=8, aggregation=aggregation)
    assert_same_weights(updated_weights(micro_batch=3, aggregation=aggregation), whole)


def test_zero_advantage_rows_are_skipped_without_changing_the_update():
    # rows 4 and 5 have advantage 0: skipped in one process, kept (and all-reduced) by data-parallel ranks
    assert_same_weights(updated_weights(world=1), updated_weights(world=1, micro_batch=2))


def _rank(rank: int, port: int, path: str, shard: bool) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    weights = updated_weights(slice(rank * 4, rank * 4 + 4), micro_batch=3, world=2, shard=shard)  # 2 groups each
    if rank == 0:
        torch.save(weights, path)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes start and import torch: about 10 s on an idle machine
@pytest.mark.parametrize("shard", [False, True], ids=["ddp", "fsdp"])
def test_two_data_parallel_processes_make_the_single_process_update(tmp_path, shard):
    path = str(tmp_path / "rank0.pt")
    mp.spawn(_rank, args=(free_port(), path, shard), nprocs=2, join=True)
    assert_same_weights(torch.load(path), updated_weights())


def _checkpoint_rank(rank: int, port: int, folder: str) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)

    def sharded_run() -> tuple[Qwen3, torch.optim.Optimizer]:
        torch.manual_seed(rank)  # each process starts from other weights: the checkpoint must overwrite them
        model = spread_over_processes(Qwen3(tiny_config()), 2, shard=True)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-2)

    model, optimizer = sharded_run()
    model(torch.tensor([[1, 2, 3]])).sum().backward()
    optimizer.step()  # AdamW now has moment estimates to save
    save_checkpoint(f"{folder}/checkpoint.safetensors", model, optimizer, 1, {"model": "tiny"})
    dist.barrier()  # the first process has written the file
    again, again_optimizer = sharded_run()
    load_checkpoint(f"{folder}/checkpoint.safetensors", again, again_optimizer, {"model": "tiny"})
    saved, restored = full_state(model, optimizer), full_state(again, again_optimizer)
    if rank == 0:
        torch.save({"saved": saved, "restored": restored}, f"{folder}/states.pt")
    dist.destroy_process_group()


@pytest.mark.slow  # two processes start and import torch
def test_a_sharded_run_saves_a_whole_checkpoint_and_loads_it_back(tmp_path):
    mp.spawn(_checkpoint_rank, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    states = torch.load(tmp_path / "states.pt", weights_only=False)
    (weights, optimizer), (weights_again, optimizer_again) = states["saved"], states["restored"]
    assert_close_dicts(weights, weights_again)
    assert len(optimizer["state"]) == len(list(Qwen3(tiny_config()).parameters()))
    for index, slots in optimizer["state"].items():
        assert_close_dicts(slots, optimizer_again["state"][index])
    # The file is an ordinary checkpoint: one process without FSDP loads it into a plain model.
    plain = Qwen3(tiny_config())
    load_checkpoint(tmp_path / "checkpoint.safetensors", plain, None, {"model": "tiny"})
    assert_close_dicts(plain.state_dict(), weights)


def assert_close_dicts(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=str(key))


def test_rollouts_move_every_tensor_to_a_device_and_keep_the_rest():
    rollouts = fixed_rollouts()
    moved = rollouts.to("meta")  # a device of shapes only: every tensor must go there
    tensors = ["prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "sampler_logprobs", "truncated"]
    assert all(getattr(moved, name).device.type == "meta" for name in tensors)
    assert all(getattr(moved, name).shape == getattr(rollouts, name).shape for name in tensors)
    assert (moved.texts, moved.group_size) == (rollouts.texts, rollouts.group_size)
    assert rollouts.prompt_ids.device.type == "cpu"  # the original stays where it was


def test_each_torchrun_process_trains_on_its_own_gpu(monkeypatch):
    """Under torchrun every process saw GPU 0 (all ranks on one device, which NCCL refuses); LOCAL_RANK picks
    the GPU and makes it current, --device overrides, and a machine without a GPU trains on the CPU."""
    from rfs.distributed import training_device

    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert training_device() == torch.device("cuda", 3)
    assert chosen == [torch.device("cuda", 3)]
    assert training_device("cpu") == torch.device("cpu") and len(chosen) == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device() == torch.device("cpu")
