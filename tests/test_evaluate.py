"""Evaluation: grading records, summaries, majority votes, and resuming an interrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import tiny_config

from rfs.evaluate import evaluate, read_results, summarize, wrong_answer_agreement
from rfs.hub import save_model
from rfs.qwen3 import Qwen3
from rfs.scaling import majority_vote


def test_majority_vote_merges_equivalent_answers_and_breaks_ties_by_order():
    assert majority_vote(["0.5", "3", "\\frac{1}{2}", "3", "1/2"]) == "0.5"
    assert majority_vote(["4", "5", "5", "4"]) == "4"  # a tie: the answer seen first wins
    assert majority_vote([None, None]) is None and majority_vote([None, "7"]) == "7"


def test_summary_and_wrong_answer_agreement():
    results = [
        {"correct": True, "level": 1, "type": "a", "answers": ["1", "1", "2"], "verdicts": [True, True, False],
         "tokens": 10, "seconds": 1.0},
        {"correct": False, "level": 2, "type": "b", "answers": ["3", "3", "4"], "verdicts": [False, False, False],
         "tokens": 30, "seconds": 1.0},
    ]
    summary = summarize(results)
    assert summary["accuracy"] == 0.5 and summary["by_level"] == {"1": 1.0, "2": 0.0}
    assert summary["sample_accuracy"] == 2 / 6 and summary["tokens_per_s"] == 20.0
    assert wrong_answer_agreement(results) == 1 / 3  # pairs (3,3) agree; (3,4) and (3,4) do not


def test_evaluate_writes_one_record_per_problem_and_skips_finished_ones(tiny_model, tiny_tokenizer, tmp_path):
    records = [{"unique_id": f"p{i}", "problem": f"What is {i}+1?", "answer": str(i + 1), "level": 1, "type": "t"}
               for i in range(5)]
    out = tmp_path / "results.jsonl"
    first = evaluate(tiny_model, tiny_tokenizer, records[:3], max_new_tokens=4, batch_size=2, out=out, progress=False)
    assert [r["id"] for r in first] == ["p0", "p1", "p2"]
    out.write_text(out.read_text() + '{"id": "p3", "trunc')  # a line cut short by a kill
    again = evaluate(tiny_model, tiny_tokenizer, records, max_new_tokens=4, batch_size=2, out=out, progress=False)
    assert [r["id"] for r in again] == [f"p{i}" for i in range(5)]
    assert [r["id"] for r in read_results(out)] == [f"p{i}" for i in range(5)]
    assert again[0] == first[0]  # not redone


def test_killed_rfs_eval_resumes_to_exactly_one_record_per_problem(tmp_path, tiny_tokenizer_file):
    torch.manual_seed(0)
    model_dir = save_model(Qwen3(tiny_config()), tmp_path / "model", tokenizer_json=tiny_tokenizer_file)
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "rfs.cli", "eval", "--model", str(model_dir), "--limit", "24",
               "--batch-size", "2", "--max-new-tokens", "24", "--device", "cpu", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 4):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before = len(read_results(out))
    assert 4 <= finished_before < 24
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == 24 and len(set(ids)) == 24
    assert "accuracy" in done.stdout


def test_pass_at_k_matches_the_closed_form():
    from math import comb

    from rfs.scaling import pass_at_k

    assert pass_at_k(10, 0, 3) == 0.0 and pass_at_k(10, 8, 3) == 1.0  # too few wrong samples to fill 3 draws
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # both draws wrong: C(2,2)/C(4,2)
    for n, c, k in [(20, 3, 5), (100, 37, 10), (8, 4, 8)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_best_of_n_scorers():
    from rfs.generate import Completion
    from rfs.scaling import best_of_n

    short = Completion("\\boxed{1}", [1, 2], "stop", [-0.5, -0.5])
    long = Completion("so \\boxed{2}", [1, 2, 3, 4], "stop", [-0.1, -0.1, -0.1, -0.3])
    unfinished = Completion("no answer", [1], "length", [-0.01])
    assert best_of_n([short, long], "logprob") is long  # -0.6 beats -1.0
    assert best_of_n([short, long], "mean-logprob") is long
    assert best_of_n([unfinished, long, short], "heuristic") is short  # boxed, finished, shortest
