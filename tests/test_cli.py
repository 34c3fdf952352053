"""The rfs command: help that explains, clear errors, and the main commands on the shipped pocket models."""

import json
import subprocess
import sys

import pytest

from rfs.cli import build_parser, main
from rfs.hub import MODELS


def rfs(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rfs.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ["generate", "chat", "models", "download", "bench", "eval", "pocket"]:
        assert command in out


def test_models_lists_pocket_and_qwen3(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "pocket-base" in out and "Qwen/Qwen3-0.6B" in out


def test_unknown_model_is_a_clear_error_not_a_traceback():
    done = rfs("generate", "hi", "--model", "qwen9-huge")
    assert done.returncode == 2
    assert "rfs: error: unknown model 'qwen9-huge'" in done.stderr and "Traceback" not in done.stderr


def test_offline_hub_model_names_the_fix():
    done = rfs("generate", "hi", "--model", "qwen3-1.7b")
    assert done.returncode == 2 and "rfs download qwen3-1.7b" in done.stderr


@pytest.mark.skipif(not (MODELS["pocket-base"]["path"] / "config.json").is_file(), reason="pocket models not built")
def test_generate_streams_an_answer_from_the_pocket_model():
    done = rfs("generate", "Problem: What is 2 + 3?\nLet's think step by step.\n", "--max-new-tokens", "40")
    assert done.returncode == 0, done.stderr
    assert "boxed" in done.stdout


def test_eval_report_regrades_a_results_file(tmp_path):
    results = tmp_path / "r.jsonl"
    rows = [{"id": "a", "level": 1, "type": "t", "reference": "\\frac{1}{2}", "prompt": "", "outputs": ["\\boxed{0.5}"],
             "answers": ["wrong"], "verdicts": [False], "answer": "wrong", "correct": False, "tokens": 5,
             "seconds": 0.1}]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = rfs("eval", "--report", str(results), "--plot", str(tmp_path / "levels.png"))
    assert done.returncode == 0, done.stderr
    assert "accuracy 100.0% on 1 problems" in done.stdout
    assert (tmp_path / "levels.png").stat().st_size > 1000
