"""The SFT trainer on a tiny model: the masked loss by hand, packing that changes nothing, resume after SIGKILL."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_sigkill_resumes_to_the_same_weights, run_script, tiny_config

from rfs.checkpoint import read_metrics
from rfs.hub import load_model, load_tokenizer, save_model
from rfs.qwen3 import Qwen3, packed_positions_and_mask
from rfs.serve import free_port
from rfs.sft import (
    IGNORE,
    SFTSettings,
    collate,
    learning_rate,
    pack_examples,
    prepare_rows,
    sft_example,
    sft_loss,
    step_rows,
    train_sft,
)

TRACES = [{"problem": f"What is {a} + {b}?", "gtruth_answer": str(a + b), "message_thinking": f"{a}+{b}={a + b}",
           "message_content": f"So \\boxed{{{a + b}}}.", "correct": True} for a, b in
          [(12, 7), (3, 4), (30, 4), (1, 1), (9, 9), (20, 5), (7, 12), (2, 40)]]


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_tokenizer_file) -> Path:
    torch.manual_seed(0)
    return save_model(Qwen3(tiny_config()), tmp_path / "tiny", tokenizer_json=tiny_tokenizer_file)


@pytest.fixture
def traces_file(tmp_path) -> Path:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TRACES))
    return path


def test_an_example_is_the_chat_prompt_and_the_reply_the_model_writes(tiny_tokenizer):
    prompt, completion = sft_example(tiny_tokenizer, TRACES[0], thinking=True)
    assert tiny_tokenizer.decode(prompt) == "<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n"
    assert tiny_tokenizer.decode(completion) == "<think>\n12+7=19\n</think>\n\nSo \\boxed{19}.<|im_end|>"
    prompt, completion = sft_example(tiny_tokenizer, TRACES[0], thinking=False)
    assert tiny_tokenizer.decode(prompt).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert tiny_tokenizer.decode(completion) == "So \\boxed{19}.<|im_end|>"


def test_the_masked_loss_counts_completion_tokens_only(tiny_model):
    # Two rows: 3 prompt + 2 completion tokens, and 2 prompt + 1 completion then 2 pads.
    examples = [([5, 6, 7], [8, 9]), ([10, 11], [12])]
    batch = collate(examples, [[0], [1]], seq_len=16, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8], [10, 11, 12, 0]]
    assert batch["targets"].tolist() == [[IGNORE, IGNORE, 8, 9], [IGNORE, 12, IGNORE, IGNORE]]
    logits = tiny_model(batch["input_ids"])
    logp = logits.log_softmax(-1)
    by_hand = -(logp[0, 2, 8] + logp[0, 3, 9] + logp[1, 1, 12]) / 3  # the three completion tokens
    torch.testing.assert_close(sft_loss(tiny_model, batch, packed=False), by_hand)
    everything = F.cross_entropy(logits.flatten(0, 1), torch.tensor([6, 7, 8, 9, 11, 12, 0, 0]))
    assert abs((everything - by_hand).item()) > 1e-3  # the mask matters


def test_positions_restart_and_attention_stays_inside_each_example():
    positions, mask = packed_positions_and_mask(torch.tensor([[0, 0, 0, 1, 1, 2]]))
    assert positions.tolist() == [[0, 1, 2, 0, 1, 0]]
    assert mask[0, 0].int().tolist() == [[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0],
                                         [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 1]]


def test_packing_gives_the_loss_of_the_examples_one_per_row(tiny_model):
    examples = [([5, 6, 7], [8, 9, 20]), ([10, 11], [12]), ([30, 31, 32, 33], [34, 35])]
    rows = pack_examples([6, 3, 6], seq_len=15)
    assert rows == [[0, 1, 2]]
    packed = collate(examples, rows, seq_len=15, pad_id=0)
    assert packed["input_ids"].shape == (1, 14)
    assert (packed["targets"] != IGNORE).sum() == 6
    one_per_row = collate(examples, [[0], [1], [2]], seq_len=15, pad_id=0)
    torch.testing.assert_close(sft_loss(tiny_model, packed), sft_loss(tiny_model, one_per_row, packed=False))
    # Without the per-example mask and positions the packed row gives another loss.
    assert abs((sft_loss(tiny_model, packed, packed=False) - sft_loss(tiny_model, packed)).item()) > 1e-4


def test_pack_examples_fills_rows_first_fit_and_gives_a_long_example_its_own_row():
    assert pack_examples([4, 4, 3, 9, 1], seq_len=8) == [[0, 1, 4], [2], [3]]


def test_the_schedule_warms_up_then_decays_to_a_tenth():
    settings = SFTSettings(lr=1.0, warmup=4)
    assert learning_rate(0, 100, settings) == pytest.approx(0.25)
    assert learning_rate(4, 100, settings) == pytest.approx(1.0)
    assert learning_rate(100, 100, settings) == pytest.approx(0.1)
    assert learning_rate(52, 100, settings) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))


def test_each_epoch_visits_every_row_once():
    seen = [i for step in range(5) for i in step_rows(10, step, 4, seed=0)]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))
    assert step_rows(10, 3, 4, seed=0) == step_rows(10, 3, 4, seed=0)


def test_training_lowers_the_loss_and_writes_a_loadable_model(tiny_model_dir, traces_file, tmp_path):
    settings = SFTSettings(model=str(tiny_model_dir), data=(str(traces_file),), steps=12, batch_size=4,
                           micro_batch=2, lr=3e-3, warmup=2, eval_problems=0, checkpoint_every=100, seq_len=64)
    out = train_sft(settings, tmp_path / "out", progress=False)
    rows = read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(12))
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"]
    assert (out / "metrics.png").is_file() and (out / "checkpoint.safetensors").is_file()
    model = load_model(out, device="cpu")
    assert load_tokenizer(out).vocab_size == model.config.vocab_size


def test_accumulation_equals_one_big_batch(tiny_model_dir, traces_file, tmp_path):
    common = dict(model=str(tiny_model_dir), data=(str(traces_file),), steps=2, batch_size=4, eval_problems=0,
                  seq_len=64)
    whole = load_model(train_sft(SFTSettings(**common, micro_batch=4), tmp_path / "a", progress=False))
    parts = load_model(train_sft(SFTSettings(**common, micro_batch=1), tmp_path / "b", progress=False))
    for x, y in zip(whole.state_dict().values(), parts.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)


def test_rows_do_not_depend_on_the_order_the_teacher_answered_in(tiny_tokenizer, tmp_path):
    # `rfs distill data` appends concurrent answers as they arrive: the same traces in another order
    # with ids train on the same rows; without ids (the book's files) the file's order is kept.
    def rows_of(records: list[dict], name: str) -> list[list[list[int]]]:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        examples, rows = prepare_rows(SFTSettings(data=(str(path),), seq_len=64), tiny_tokenizer)
        return [[examples[i][0] + examples[i][1] for i in row] for row in rows]

    with_ids = [t | {"id": f"p/{i:06d}"} for i, t in enumerate(TRACES)]
    assert rows_of(with_ids[::-1], "reversed.jsonl") == rows_of(with_ids, "ordered.jsonl")
    assert rows_of(TRACES[::-1], "no-ids-reversed.jsonl") != rows_of(TRACES, "no-ids.jsonl")


def test_no_trace_left_after_the_filter_is_refused(tiny_model_dir, tmp_path):
    path = tmp_path / "wrong.jsonl"
    path.write_text(json.dumps(TRACES[0] | {"correct": False}) + "\n")
    with pytest.raises(ValueError, match="passes the filter"):
        train_sft(SFTSettings(model=str(tiny_model_dir), data=(str(path),)), tmp_path / "out", progress=False)


RUN = """
import sys, torch
torch.set_num_threads(1)
from rfs.sft import SFTSettings, train_sft
train_sft(SFTSettings(model=sys.argv[1], data=(sys.argv[2],), steps=8, batch_size=4, micro_batch=2, seq_len=64,
                      checkpoint_every=2, eval_problems=0), sys.argv[3], progress=False)
"""


def run_training(model_dir: Path, data: Path, out: Path) -> subprocess.Popen:
    return run_script(RUN, model_dir, data, out)


@pytest.mark.slow  # three training processes (about 15 s on a busy machine)
def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tiny_model_dir, traces_file, tmp_path):
    assert_sigkill_resumes_to_the_same_weights(lambda out: run_training(tiny_model_dir, traces_file, out), tmp_path)
    rows = read_metrics(tmp_path / "killed" / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(8))  # the steps redone after the checkpoint are not doubled


@pytest.mark.slow  # torchrun starts two processes (about 30 s on a busy machine)
@pytest.mark.parametrize("spread", [[], ["--fsdp"]], ids=["ddp", "fsdp"])
def test_two_torchrun_processes_train_the_same_weights_as_one(tiny_model_dir, traces_file, tmp_path, spread):
    common = ["train", "sft", "--model", str(tiny_model_dir), "--data", str(traces_file), "--steps", "2",
              "--batch-size", "4", "--micro-batch", "1", "--seq-len", "64", "--eval-problems", "0", "--threads", "1"]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    port = str(free_port("127.0.0.1"))  # torchrun's processes meet there (port 0 would not be shared)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port]
    done = subprocess.run([*torchrun, "-m", "rfs.cli", *common, *spread, "--out", str(tmp_path / "ddp")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    alone = train_sft(SFTSettings(model=str(tiny_model_dir), data=(str(traces_file),), steps=2, batch_size=4,
                                  micro_batch=4, seq_len=64, eval_problems=0), tmp_path / "one", progress=False)
    for x, y in zip(load_model(tmp_path / "ddp").state_dict().values(), load_model(alone).state_dict().values(),
                    strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)
