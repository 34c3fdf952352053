"""The rfs command: help that explains, clear errors, and the main commands on the shipped pocket models."""

import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rfs import cli
from rfs.bench import best_of_runs
from rfs.cli import build_parser, eval_settings, main
from rfs.evaluate import read_results
from rfs.hub import MODELS
from rfs.verify import extract_answer

POCKET = pytest.mark.skipif(not (MODELS["pocket-base"]["path"] / "config.json").is_file(),
                            reason="pocket models not built")
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def keep_thread_count():
    """Commands set torch's thread count (--threads): give the next test the count it had."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


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


@pytest.mark.parametrize("argv, message", [
    (["generate", ""], "the prompt is empty"),
    (["generate", "  "], "the prompt is empty"),
    (["generate", "hi", "--n", "0"], "argument --n: 0 is too small: use a whole number of 1 or more"),
    (["generate", "hi", "--temperature", "-1"], "-1.0 is not 0 or more: use 0 for greedy decoding"),
    (["generate", "hi", "--temperature", "warm"], "'warm' is not a number"),
    (["generate", "hi", "--top-p", "1.5"], "1.5 is outside (0, 1]"),
    (["generate", "hi", "--top-p", "0"], "0.0 is outside (0, 1]"),
    (["generate", "hi", "--top-k", "0"], "argument --top-k: 0 is too small"),
    (["generate", "hi", "--max-new-tokens", "-5"], "argument --max-new-tokens: -5 is too small"),
    (["generate", "hi", "--thinking", "off"], "--thinking applies to the chat format: add --chat"),
    (["chat", "--max-new-tokens", "0"], "argument --max-new-tokens: 0 is too small"),
    (["eval", "--limit", "-3"], "argument --limit: -3 is too small"),
    (["eval", "--samples", "0"], "argument --samples: 0 is too small"),
    (["eval", "--batch-size", "0"], "argument --batch-size: 0 is too small"),
    (["eval", "--temperature", "-0.5"], "is not 0 or more"),
    (["eval", "--prompt", "plain", "--thinking", "off"], "drop --prompt plain, or drop --thinking"),
    (["eval", "--method", "cot", "--thinking", "on"], "--method cot is greedy decoding with the cot prompt"),
    (["eval", "--method", "best-of-n", "--sweep", "--sweep-values", "0", "4"], "--sweep-values of samples start at 1"),
    (["eval", "--threads", "0"], "argument --threads: 0 is too small"),
    (["bench", "generate", "--batch", "0"], "argument --batch: 0 is too small"),
    (["pocket", "data", "--train-size", "-1"], "argument --train-size: -1 is too small"),
])
def test_bad_flags_are_refused_by_the_parser_with_what_to_use_instead(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["download", "foo"], "unknown model 'foo': use a local folder, a hub repository such as Qwen/Qwen3-0.6B"),
    (["download", "pocket-base"], "pocket-base ships with rfs: it needs no download"),
    (["download", "qwen3-0.6b"], "the hub is offline (HF_HUB_OFFLINE=1): unset HF_HUB_OFFLINE "
                                 "(`HF_HUB_OFFLINE=0 rfs download qwen3-0.6b`)"),
    (["generate", "hi", "--model", "qwen9-huge"], "unknown model 'qwen9-huge'"),
    (["generate", "hi", "--model", "./nope"], "there is no folder ./nope"),
    (["eval", "--model", "runs/no/such/model"], "there is no folder runs/no/such/model"),
    (["generate", "hi", "--model", "qwen3-1.7b"], "Qwen/Qwen3-1.7B is not in the Hugging Face cache at"),
    (["generate", "hi", "--model", "qwen3-1.7b"], "or run `rfs download qwen3-1.7b` on a machine with internet"),
])
def test_models_that_cannot_be_had_are_one_clear_line(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rfs: error: ") and message in err and "Traceback" not in err


def test_eval_report_regrades_a_results_file(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    rows = [{"id": "a", "level": 1, "type": "t", "reference": "\\frac{1}{2}", "prompt": "", "outputs": ["\\boxed{0.5}"],
             "answers": ["wrong"], "verdicts": [False], "answer": "wrong", "correct": False, "tokens": 5,
             "seconds": 0.1}]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "--report", str(results), "--plot", str(tmp_path / "levels.png")]) == 0
    assert "accuracy 100.0% on 1 problems" in capsys.readouterr().out
    assert (tmp_path / "levels.png").stat().st_size > 1000


@pytest.mark.parametrize("argv, expected", [
    ([], {"method": "greedy", "prompt": "plain", "temperature": 0.0}),
    (["--prompt", "cot", "--samples", "8", "--temperature", "0.8"],  # the README's self-consistency command
     {"method": "self-consistency", "prompt": "cot", "samples": 8, "temperature": 0.8}),
    (["--method", "cot"], {"method": "greedy", "prompt": "cot", "temperature": 0.0}),
    (["--method", "best-of-n", "--scorer", "heuristic"],
     {"method": "best-of-n", "prompt": "cot", "samples": 8, "temperature": 0.8, "scorer": "heuristic"}),
    (["--method", "self-refine", "--critic", "verifier", "--rounds", "3"],
     {"method": "self-refine", "prompt": "cot", "rounds": 3, "critic": "verifier", "scorer": "mean-logprob"}),
    (["--method", "self-refine", "--check-samples", "5"],
     {"method": "self-refine", "prompt": "cot", "rounds": 2, "critic": None, "scorer": "mean-logprob",
      "check_samples": 5}),
    (["--thinking", "on"], {"method": "greedy", "prompt": "chat", "thinking": True, "temperature": 0.0}),
])
def test_eval_arguments_become_run_settings(argv, expected):
    settings = eval_settings(build_parser().parse_args(["eval", *argv]))
    assert settings.record() == {"thinking": None, "max_new_tokens": None, "seed": 0} | expected  # None: the model's


@pytest.mark.parametrize("argv, message", [
    (["--method", "greedy", "--samples", "4"], "greedy gives one solution per problem"),
    (["--method", "cot", "--prompt", "plain"], "--method cot is greedy decoding with the cot prompt"),
    (["--method", "self-refine", "--temperature", "0.7"], "self-refine decodes greedily"),
    (["--method", "cot", "--sweep"], "--sweep needs --method self-consistency, best-of-n or self-refine"),
    (["--method", "best-of-n", "--sweep", "--samples", "4"], "give them as --sweep-values"),
])
def test_eval_refuses_settings_that_do_not_fit_together(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:  # refused before anything is loaded
        main(["eval", *argv])
    assert exit.value.code == 2 and message in capsys.readouterr().err


@POCKET
def test_eval_sweep_writes_its_table_and_plot(tmp_path, capsys):
    assert main(["eval", "--method", "best-of-n", "--sweep", "--sweep-values", "1", "2", "--limit", "3",
                 "--max-new-tokens", "64", "--device", "cpu", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| samples | accuracy | tokens per problem |" in out and "| 2 |" in out
    assert len(read_results(tmp_path / "results.jsonl")) == 3
    assert (tmp_path / "sweep.csv").read_text().startswith("samples,accuracy,tokens_per_problem")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_bench_samples_gives_the_same_tokens_both_ways(capsys):
    threads = str(torch.get_num_threads())  # the benchmark sets the thread count: keep this process's
    assert main(["bench", "samples", "--size", "pocket", "--problems", "2", "--samples", "3", "--prompt-tokens", "8",
                 "--new-tokens", "4", "--threads", threads]) == 0
    out = capsys.readouterr().out
    assert "2 problems x 3 samples" in out and "the tokens are identical" in out


def test_best_of_runs_takes_turns_and_keeps_each_engines_fastest_run():
    calls = []

    def engine(name, totals):
        runs = iter(totals)
        return lambda: calls.append(name) or {"total_tok_s": next(runs)}

    best = best_of_runs({"a": engine("a", [1.0, 3.0, 2.0]), "b": engine("b", [5.0, 4.0, 6.0])}, repeats=3)
    assert calls == ["a", "b"] * 3
    assert best == {"a": {"total_tok_s": 3.0}, "b": {"total_tok_s": 6.0}}


def test_bench_generate_reports_ratios_against_transformers(capsys):
    pytest.importorskip("transformers", reason="transformers is the benchmark's baseline (pip install -e .[dev])")
    threads = str(torch.get_num_threads())
    assert main(["bench", "generate", "--size", "tiny", "--batch", "2", "--prompt-tokens", "8", "--new-tokens", "4",
                 "--repeats", "2", "--threads", threads]) == 0
    out = capsys.readouterr().out
    assert "read bandwidth" in out
    rows = [line for line in out.splitlines() if line.startswith("batch  2 x 1")]
    assert [row.split()[4] for row in rows] == ["rfs", "transformers", "transformers"]
    assert all(" decode, x" in row and "total vs best transformers" in row for row in rows)


def test_the_parser_offers_the_names_the_library_defines():
    from rfs import settings
    from rfs.pocket.train import PRESETS
    from rfs.qwen3 import CONFIGS
    from rfs.refine import CRITICS
    from rfs.scaling import SCORERS

    assert settings.SCORER_NAMES == tuple(SCORERS) and settings.CRITIC_NAMES == tuple(CRITICS)
    assert cli.BENCH_SIZES == (*CONFIGS, "pocket") and cli.POCKET_PRESETS == tuple(PRESETS)


@pytest.mark.parametrize("argv", [["--help"], ["eval", "--help"], ["eval", "--limit", "-3"],
                                  ["eval", "--prompt", "plain", "--thinking", "off"], ["generate", ""],
                                  ["eval", "--method", "greedy", "--samples", "4"]])
def test_help_and_argument_errors_answer_without_importing_torch(argv):
    code = ("import sys\nfrom rfs.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n"
            "    assert exit.code in (0, 2), exit.code\nassert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def shell_words(command: str) -> list[str]:
    """Split a documented command as bash does, with its $'...' quotes (where \\n is a line break)."""
    command = re.sub(r"\$'([^']*)'", lambda m: shlex.quote(m[1].encode().decode("unicode_escape")), command)
    return shlex.split(command, comments=True)


def documented_commands() -> list[list[str]]:
    """Every `rfs ...` example of the README's `rfs` section (its bash block) and of the --help texts."""
    section = README.read_text().split("## The `rfs` command")[1].split("\n## ")[0]
    lines = section.split("```bash")[1].split("```")[0].splitlines()
    for text in (cli.EPILOG, cli.GENERATE_EXAMPLES, cli.EVAL_EXAMPLES):  # help lines: command, 2+ spaces, comment
        lines += [re.split(r"\s{2,}", line.strip())[0] for line in text.splitlines() if line.strip().startswith("rfs ")]
    return [shell_words(line)[1:] for line in lines if line.startswith("rfs ")]


# The answer each documented `rfs generate` example must print (pocket models decode greedily: deterministic).
EXAMPLE_ANSWERS = {"What is 17 + 25?": "42", "What is 12*13?": "156", "Compute (48+6)*3-27.": "135",
                   "Problem: What is 17 + 25?\nAnswer:": "42"}


def test_every_documented_command_parses():
    commands = documented_commands()
    assert len(commands) >= 10
    for argv in commands:
        build_parser().parse_args(argv)  # exits (failing the test) on a flag the parser does not know


@POCKET
def test_documented_generate_examples_print_the_right_answer(capsys):
    examples = [argv for argv in documented_commands() if argv[0] == "generate"]
    assert {argv[1] for argv in examples} == set(EXAMPLE_ANSWERS)
    for argv in examples:
        assert main([*argv, "--max-new-tokens", "96", "--threads", "1"]) == 0
        out = capsys.readouterr().out
        assert extract_answer(out) == EXAMPLE_ANSWERS[argv[1]], (argv, out)


@POCKET
def test_chat_with_a_pocket_model_says_what_it_understands_and_rewrites_ascii_math(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 12*13?\n\n"))
    assert main(["chat", "--max-new-tokens", "96", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "Pocket models know only the pocket-math problems" in out and "12*13" in out
    assert extract_answer(out) == "156"


@POCKET
def test_chat_without_thinking_shows_no_stray_end_of_thought(capsys, monkeypatch):
    # pocket-reasoning was trained always to think: in the second turn it writes steps and closes them
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 12 \\times 13?\nWhat is 17 + 25?\n\n"))
    assert main(["chat", "--thinking", "off", "--max-new-tokens", "96", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "</think>" not in out and "17 + 25 = 42" in out


@POCKET
def test_commands_say_which_dtype_they_chose(capsys):
    assert main(["generate", "What is 2 + 3?", "--max-new-tokens", "1", "--threads", "1"]) == 0
    assert "rfs: pocket-base runs in float32 on cpu (16-bit only where" in capsys.readouterr().err  # stored float32
    assert main(["generate", "What is 2 + 3?", "--max-new-tokens", "1", "--threads", "1", "--dtype", "bfloat16"]) == 0
    assert "runs in bfloat16 on cpu (as --dtype asks)" in capsys.readouterr().err


def test_threads_default_to_one_per_pytest_xdist_worker(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
        cli.set_threads(build_parser().parse_args(["eval"]))
        assert torch.get_num_threads() == 1
        cli.set_threads(build_parser().parse_args(["eval", "--threads", "2"]))  # --threads wins
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
