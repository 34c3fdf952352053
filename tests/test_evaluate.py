"""Evaluation: grading records, summaries, the methods of chapters 4-5, resuming, and sweeps."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import torch
from conftest import tiny_config

from rfs.evaluate import (
    RunSettings,
    evaluate,
    grade_problem,
    read_results,
    regrade,
    summarize,
    wrong_answer_agreement,
)
from rfs.generate import generate
from rfs.hub import save_model
from rfs.prompts import build_prompt
from rfs.qwen3 import Qwen3
from rfs.sweep import correct_at, sweep_rows, tokens_at, write_sweep


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
    first = evaluate(tiny_model, tiny_tokenizer, records[:3], RunSettings(max_new_tokens=4), out=out, batch_size=2,
                     progress=False)
    assert [r["id"] for r in first] == ["p0", "p1", "p2"]
    out.write_text(out.read_text() + '{"id": "p3", "trunc')  # a line cut short by a kill
    again = evaluate(tiny_model, tiny_tokenizer, records, RunSettings(max_new_tokens=4), out=out, batch_size=2,
                     progress=False)
    assert [r["id"] for r in again] == [f"p{i}" for i in range(5)]
    assert [r["id"] for r in read_results(out)] == [f"p{i}" for i in range(5)]
    assert again[0] == first[0]  # not redone


@pytest.mark.slow  # over 10 s on a busy 2-core machine
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


RECORDS = [{"unique_id": f"p{i}", "problem": f"What is {i}+1?", "answer": str(i + 1), "level": 1, "type": "t"}
           for i in range(5)]
POCKET_RECORDS = [{"unique_id": str(i), "problem": p, "answer": a} for i, (p, a) in enumerate([
    ("Compute (48 + 6) \\times 3 - 27.", "135"), ("What is 8633 + 170 + 86?", "8889"),
    ("What is 44 \\times 29?", "1276"), ("Solve for $x$: $4x + 46 = 142$.", "24")])]


def test_several_samples_without_a_method_still_take_a_vote_over_the_same_samples(tiny_model, tiny_tokenizer):
    results = evaluate(tiny_model, tiny_tokenizer, RECORDS[:2], RunSettings(prompt="cot", samples=3, max_new_tokens=6),
                       progress=False)
    prompts = [build_prompt(tiny_tokenizer, r["problem"], "cot") for r in RECORDS[:2]]
    by_hand = generate(tiny_model, tiny_tokenizer, prompts, max_new_tokens=6, temperature=0.8, n=3, seed=0)
    assert [r["outputs"] for r in results] == [[c.text for c in s] for s in by_hand]
    assert [r["tokens"] for r in results] == [sum(len(c.token_ids) for c in s) for s in by_hand]
    assert results[0]["settings"] == {"method": "self-consistency", "prompt": "cot", "thinking": None,
                                      "max_new_tokens": 6, "seed": 0, "temperature": 0.8, "samples": 3}


def test_best_of_n_records_its_scores_resumes_and_refuses_other_settings(tiny_model, tiny_tokenizer, tmp_path):
    out = tmp_path / "best.jsonl"
    settings = RunSettings(method="best-of-n", samples=3, scorer="logprob", max_new_tokens=6)
    options = dict(out=out, batch_size=2, progress=False)
    first = evaluate(tiny_model, tiny_tokenizer, RECORDS[:3], settings, **options)
    for r in first:
        assert len(r["scores"]) == 3 and r["chosen"] == r["scores"].index(max(r["scores"]))
        assert r["answer"] == r["answers"][r["chosen"]] and r["tokens"] == sum(r["sample_tokens"])
    again = evaluate(tiny_model, tiny_tokenizer, RECORDS, settings, **options)
    assert again[:3] == first and [r["id"] for r in read_results(out)] == [f"p{i}" for i in range(5)]
    with pytest.raises(ValueError, match="other settings"):
        evaluate(tiny_model, tiny_tokenizer, RECORDS, replace(settings, scorer="mean-logprob"), **options)


def test_regrade_keeps_the_chosen_output():
    record = {"reference": "2", "outputs": ["\\boxed{1}", "\\boxed{2}"], "chosen": 1}
    assert regrade([record])[0]["correct"] and regrade([record])[0]["answer"] == "2"
    assert regrade([record | {"chosen": None}])[0]["answer"] == "1"  # no choice: a vote, tied, the first wins


def test_self_refine_records_rounds_and_tokens_and_resumes(pocket_base, tmp_path):
    model, tokenizer = pocket_base
    out = tmp_path / "refine.jsonl"
    one_round = RunSettings(method="self-refine", rounds=1)
    [first] = evaluate(model, tokenizer, POCKET_RECORDS[:1], one_round, out=out, progress=False)
    both = evaluate(model, tokenizer, POCKET_RECORDS[:2], one_round, out=out, progress=False)
    assert both[0] == first and first["stopped"] == "accepted" and first["correct"]
    revised = both[1]  # a step of its first attempt fails its check: one revision
    assert len(revised["outputs"]) == 2 and revised["feedback"][0] is None and "step" in revised["feedback"][1]
    assert revised["tokens"] == revised["tokens_by_round"][-1] > revised["tokens_by_round"][0]
    assert revised["answer"] == revised["answers"][revised["chosen"]]
    with pytest.raises(ValueError, match="other settings"):
        evaluate(model, tokenizer, POCKET_RECORDS, RunSettings(method="self-refine"), out=out, progress=False)


@pytest.mark.parametrize("method", ["self-consistency", "best-of-n"])
def test_a_sweep_reads_off_smaller_runs_exactly(pocket_base, method):
    model, tokenizer = pocket_base
    def run(samples: int) -> list[dict]:
        settings = RunSettings(method=method, prompt="cot", samples=samples, max_new_tokens=96)
        return evaluate(model, tokenizer, POCKET_RECORDS, settings, progress=False)

    four = run(4)
    for k in (1, 2):  # the first k samples of a 4-sample run are a k-sample run
        fewer = run(k)
        assert [correct_at(r, k) for r in four] == [r["correct"] for r in fewer]
        assert [tokens_at(r, k) for r in four] == [r["tokens"] for r in fewer]
    rows = sweep_rows(four, [1, 2, 4])
    assert rows[2] == {"samples": 4, "accuracy": summarize(four)["accuracy"],
                       "tokens_per_problem": summarize(four)["tokens_per_problem"]}


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_a_rounds_sweep_reads_off_fewer_rounds_and_writes_its_table_and_plot(pocket_base, tmp_path):
    model, tokenizer = pocket_base
    two = evaluate(model, tokenizer, POCKET_RECORDS, RunSettings(method="self-refine", rounds=2), progress=False)
    one = evaluate(model, tokenizer, POCKET_RECORDS, RunSettings(method="self-refine", rounds=1), progress=False)
    assert [correct_at(r, 1) for r in two] == [r["correct"] for r in one]
    assert [tokens_at(r, 1) for r in two] == [r["tokens"] for r in one]
    assert any(len(r["chosen_by_round"]) == 3 for r in two)  # some problem was still refined in round 2
    rows = sweep_rows(two, [0, 1, 2])
    paths = write_sweep(rows, tmp_path / "sweep", "pocket-base, self-refine")
    assert [p.name for p in paths] == ["sweep.md", "sweep.csv", "sweep.png"]
    with open(paths[1]) as f:
        assert [int(row["rounds"]) for row in csv.DictReader(f)] == [0, 1, 2]
    assert f"| 2 | {rows[2]['accuracy']:.1%} |" in paths[0].read_text()
    assert paths[2].stat().st_size > 1000


def test_grade_problem_passes_the_problem_text_for_requested_bases():
    outputs = ["So the number is \\boxed{52}."]
    asked = {"answer": "52_8", "problem": "Write 42 in base 8."}
    assert grade_problem(asked, outputs, 0)["correct"]
    assert not grade_problem({"answer": "52_8"}, outputs, 0)["correct"]  # no problem text: the subscript counts
