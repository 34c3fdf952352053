"""rfs bench grpo: one GRPO step of rfs against TRL's GRPOTrainer, each engine in a process of its own."""

import importlib.util
import re
import sys

import pytest

from rfs.cli import main
from rfs.rl.rollouts import sample_rollouts


def test_ignore_eos_makes_every_rollout_run_to_the_token_limit(pocket_base):
    model, tokenizer = pocket_base
    prompts = ["Problem: What is 2 + 3?\nAnswer:"]
    stopping = sample_rollouts(model, tokenizer, prompts, 4, 0.8, 40, seed=0)
    assert stopping.truncated.sum() < 4  # the model ends most short answers within 40 tokens
    full = sample_rollouts(model, tokenizer, prompts, 4, 0.8, 40, seed=0, ignore_eos=True)
    assert full.completion_mask.sum(1).tolist() == [40] * 4 and bool(full.truncated.all())


@pytest.mark.slow  # two Python processes start, one of them imports TRL
def test_bench_grpo_reports_both_engines_the_ratio_and_their_memory(capsys):
    if importlib.util.find_spec("trl") is None:  # found, not imported: the test checks that only the child imports it
        pytest.skip("TRL's GRPOTrainer is the baseline of rfs bench grpo, a benchmark-only extra: "
                    "pip install -e .[bench]")
    assert main(["bench", "grpo", "--problems", "2", "--samples", "2", "--new-tokens", "8", "--repeats", "1",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 prompts x 2 samples, exactly 8 new tokens" in out and "median of 1 steps" in out
    table = [line.split() for line in out.splitlines() if re.match(r"(rfs|TRL [\d.]+) +[\d.]+ ", line)]
    rows = {cells[0]: cells[-10:] for cells in table}  # engine: step s ... loaded MiB
    assert set(rows) == {"rfs", "TRL"}
    rfs_step, trl_step = float(rows["rfs"][0]), float(rows["TRL"][0])
    assert rows["rfs"][4:6] == rows["TRL"][4:6] == ["32", "8-8"]  # 2 x 2 rows of exactly 8 tokens each
    peak, loaded = (float(x) for x in rows["TRL"][-2:])
    assert peak >= loaded > 50  # MiB: TRL, transformers and torch are loaded
    assert all(float(x) > 50 for x in rows["rfs"][-2:])
    ratio = float(re.search(r"TRL [\d.]+ / rfs: ([\d.]+)x the seconds per step", out).group(1))
    assert ratio == pytest.approx(trl_step / rfs_step, rel=0.05, abs=0.02)
    assert "trl" not in sys.modules  # TRL ran in its own process; rfs never imports it
