"""The GRPO trainer end to end on a tiny model: it trains, stops on bad input, and resumes exactly after SIGKILL.

A random tiny model never solves a math problem, so these runs replace the correctness reward with a
deterministic stand-in (odd-length completions earn 1); everything else is the real loop.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import assert_sigkill_resumes_to_the_same_weights, run_script, tiny_config

import rfs.rl.trainer as trainer
from rfs.checkpoint import read_metrics
from rfs.hub import load_model, model_kind, save_model
from rfs.qwen3 import Qwen3
from rfs.rl.presets import settings_for

SMALL = {"steps": 4, "prompts_per_step": 2, "group_size": 4, "max_new_tokens": 12, "train_problems": 40,
         "eval_every": 0, "checkpoint_every": 1}


def stand_in_rewards(completions, references, weights, thinking=False):
    """1 for a completion of odd length, else 0: a reward a random model earns about half the time."""
    return torch.tensor([[float(len(c) % 2)] for c in completions])


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_tokenizer_file) -> Path:
    torch.manual_seed(0)
    return save_model(Qwen3(tiny_config()), tmp_path / "tiny", tokenizer_json=tiny_tokenizer_file)


def test_a_model_without_any_reward_is_stopped_with_advice(tiny_model_dir, tmp_path):
    settings = settings_for("grpo", model=str(tiny_model_dir), **SMALL)
    with pytest.raises(trainer.TrainingStopped, match="no sample of the first step earned any reward.*--levels"):
        trainer.train_grpo(settings, tmp_path / "out", progress=False)


def test_training_writes_a_loadable_model_metrics_and_plot(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "compute_rewards", stand_in_rewards)
    settings = settings_for("dr-grpo", model=str(tiny_model_dir), **SMALL | {"steps": 2})
    out = trainer.train_grpo(settings, tmp_path / "out", progress=False)
    rows = read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows] == [0, 1]
    assert all(0 <= r["reward"] <= 1 and r["groups"] >= 2 and r["grad_norm"] >= 0 for r in rows)
    assert (out / "metrics.png").stat().st_size > 10_000
    before, after = load_model(tiny_model_dir, device="cpu"), load_model(out, device="cpu")
    assert any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values(),
                                                     strict=True))


def test_a_trained_pocket_model_stays_a_pocket_model(tiny_tokenizer_file, tmp_path, monkeypatch):
    # rfs eval picks prompts and token limits by the kind config.json declares: a trained pocket model saved as
    # real Qwen3 got the book's prompt and scored 9.8% instead of 84%.
    monkeypatch.setattr(trainer, "compute_rewards", stand_in_rewards)
    torch.manual_seed(0)
    pocket = save_model(Qwen3(tiny_config()), tmp_path / "pocket", tokenizer_json=tiny_tokenizer_file, kind="pocket")
    settings = settings_for("grpo", model=str(pocket), **SMALL | {"steps": 1})
    out = trainer.train_grpo(settings, tmp_path / "out", progress=False)
    assert model_kind(out) == "pocket"


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "compute_rewards", stand_in_rewards)
    real_update, calls = trainer.update_policy, []

    def update_that_breaks(policy, optimizer, rollouts, advantages, *args):
        calls.append(1)  # the third step's advantages (and so its loss) are NaN
        return real_update(policy, optimizer, rollouts, advantages * (float("nan") if len(calls) == 3 else 1), *args)

    monkeypatch.setattr(trainer, "update_policy", update_that_breaks)
    settings = settings_for("grpo", model=str(tiny_model_dir), **SMALL)
    with pytest.raises(trainer.TrainingStopped, match="NaN or infinite at step 2.*lower --lr"):
        trainer.train_grpo(settings, tmp_path / "out", progress=False)
    from rfs.checkpoint import load_checkpoint

    model, optimizer = load_model(tiny_model_dir, device="cpu"), None
    assert load_checkpoint(tmp_path / "out" / "checkpoint.safetensors", model, optimizer,
                           {"model": str(tiny_model_dir), "preset": "grpo"})["step"] == 2
    assert not (tmp_path / "out" / "model.safetensors").exists()


RUN = textwrap.dedent("""
    import sys
    import torch
    import rfs.rl.trainer as trainer
    from rfs.rl.presets import settings_for

    trainer.compute_rewards = lambda c, r, w, thinking=False: torch.tensor([[float(len(x) % 2)] for x in c])
    settings = settings_for("dapo", overlong_filter=False, model=sys.argv[1], steps=8, prompts_per_step=2, group_size=4,
                            max_new_tokens=12, train_problems=40, eval_every=0, checkpoint_every=1)
    trainer.train_grpo(settings, sys.argv[2], progress=False)
""")


def run_training(model_dir: Path, out: Path) -> subprocess.Popen:
    return run_script(RUN, model_dir, out)


@pytest.mark.slow  # three training processes (about 20 s on an idle machine)
def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tiny_model_dir, tmp_path):
    assert_sigkill_resumes_to_the_same_weights(lambda out: run_training(tiny_model_dir, out), tmp_path)
    rows = read_metrics(tmp_path / "killed" / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(8))  # the steps redone after the checkpoint are not doubled


SHARDED = textwrap.dedent("""
    import sys
    import torch
    import rfs.rl.trainer as trainer
    from rfs.rl.presets import settings_for

    torch.set_num_threads(1)
    trainer.compute_rewards = lambda c, r, w, thinking=False: torch.tensor([[float(len(x) % 2)] for x in c])
    for steps in (3, 4):  # the second call resumes from the first one's checkpoint
        settings = settings_for("grpo", model=sys.argv[1], steps=steps, prompts_per_step=2, group_size=4,
                                max_new_tokens=12, train_problems=40, eval_every=2, eval_problems=2,
                                eval_max_new_tokens=8, checkpoint_every=2, fsdp=True)
        trainer.train_grpo(settings, sys.argv[2], progress=False)
""")


@pytest.mark.slow  # torchrun starts two processes (about 30 s on a busy machine)
def test_two_sharded_processes_train_evaluate_save_and_resume(tiny_model_dir, tmp_path):
    from rfs.serve import free_port

    script = tmp_path / "sharded.py"
    script.write_text(SHARDED)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                str(free_port()), str(script), str(tiny_model_dir), str(tmp_path / "out")]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(torchrun, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from step 3" in done.stdout
    rows = read_metrics(tmp_path / "out" / "metrics.csv")
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]  # steps 0-3, then the final weights' evaluation
    assert rows[0]["eval_accuracy"] is not None and rows[-1]["eval_accuracy"] is not None
    trained, start = load_model(tmp_path / "out").state_dict(), load_model(tiny_model_dir).state_dict()
    assert any(not torch.equal(trained[name], start[name]) for name in start)


def test_rfs_train_grpo_reports_a_model_without_reward_and_rfs_plot_draws(tiny_model_dir, tmp_path, capsys,
                                                                          monkeypatch):
    from rfs import cli

    assert cli.main(["train", "grpo", "--model", str(tiny_model_dir), "--out", str(tmp_path / "out"),
                     "--steps", "1", "--prompts-per-step", "2", "--group-size", "2", "--max-new-tokens", "8",
                     "--train-problems", "20", "--eval-every", "0"]) == 1
    assert "no sample of the first step earned any reward" in capsys.readouterr().err
    monkeypatch.setattr(trainer, "compute_rewards", stand_in_rewards)
    assert cli.main(["train", "grpo", "--preset", "gspo", "--model", str(tiny_model_dir), "--out",
                     str(tmp_path / "out"), "--fresh", "--steps", "1", "--prompts-per-step", "2", "--group-size",
                     "2", "--max-new-tokens", "8", "--train-problems", "20", "--eval-every", "0"]) == 0
    assert cli.main(["plot", str(tmp_path / "out" / "metrics.csv"), "--out", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_dataset_math_trains_on_math_train_levels_and_evaluates_on_math500(monkeypatch):
    """For real Qwen3: MATH's training split (levels as MATH writes them) to train on, MATH-500 to evaluate."""
    import rfs.datasets

    train = [{"problem": f"train {i}", "answer": "1", "level": level}
             for i, level in enumerate(["Level 1", "Level 4", 5, "Level ?", 2])]
    test = [{"problem": f"test {i}", "answer": "1", "level": 3} for i in range(5)]
    monkeypatch.setattr(rfs.datasets, "load_math_train", lambda path=None: train)
    monkeypatch.setattr(rfs.datasets, "load_math500", lambda path=None: test)
    settings = settings_for("grpo", dataset="math", levels=(4, 5), eval_every=5, eval_problems=2)
    assert [r["problem"] for r in trainer.training_problems(settings)] == ["train 1", "train 2"]
    assert trainer.evaluation_problems(settings) == test[:2]
    assert trainer.evaluation_problems(settings_for("grpo", dataset="math", eval_every=0)) == []
    with pytest.raises(ValueError, match="no training problems at levels"):
        trainer.training_problems(settings_for("grpo", dataset="math", levels=(3,)))
    pocket = settings_for("grpo", levels=(5,), train_problems=200)
    assert {r["level"] for r in trainer.training_problems(pocket)} == {5}
