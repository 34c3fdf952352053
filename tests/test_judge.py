"""LLM-as-a-judge (appendix F): reading grades from hand-written replies, agreement numbers, and judges asked
through rfs serve (pocket-reasoning on 127.0.0.1, a few short requests) and in-process (a tiny random model)."""

import json

import pytest
import torch

from rfs.cli import main
from rfs.generate import generate
from rfs.hub import save_model
from rfs.judge import (
    JUDGE_PROMPT,
    agreement,
    ask_endpoint,
    ask_local_model,
    cohen_kappa,
    judge_prompt,
    judge_prompts,
    judged_solution,
    read_grade,
)

openai = pytest.importorskip("openai", reason="the judge asks endpoints with the openai client (pip install -e .[dev])")


@pytest.mark.parametrize("reply, grade", [
    ("The final answer 1/2 equals 0.5.\nGRADE: CORRECT", True),
    ("The student wrote 7, not 8.\nGRADE: INCORRECT", False),
    ("**Grade:** Correct", True),
    ("grade - wrong.", False),
    ("Options are GRADE: CORRECT or GRADE: INCORRECT. Here the answer differs.\nGRADE: INCORRECT", False),
    ("<think>\nAt first: GRADE: CORRECT. No, 3 is not 4.\n</think>\n\nIt is off by one.\nGRADE: INCORRECT", False),
    ("The answers match.\n\nCorrect.", True),  # no grade line: a bare verdict word as the last line
    ("The answer is correct but the work has gaps.", None),  # no grade line, last line not a bare verdict
    ("GRADE: maybe", None),
    ("", None),
    ("\x00\ufffd}}}{{", None),
    (None, None),
    (42, None),
])
def test_read_grade_reads_hand_written_replies_and_never_raises(reply, grade):
    assert read_grade(reply) is grade


def test_cohen_kappa_and_agreement_numbers():
    assert cohen_kappa([True, True, False, False], [True, False, False, False]) == pytest.approx(0.5)
    assert cohen_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)
    assert cohen_kappa([True, False], [False, True]) == pytest.approx(-1.0)
    assert cohen_kappa([True, True], [True, True]) is None  # one label only: chance agreement is 1
    result = agreement([True, None, False, False, True], [True, True, False, True, True])
    assert (result.problems, result.graded) == (5, 4)  # the ungraded reply is left out
    assert result.accuracy == pytest.approx(0.75) and result.judge_correct == pytest.approx(0.5)
    assert result.verifier_correct == pytest.approx(0.75)
    assert result.kappa == pytest.approx(0.5)  # observed 0.75, chance 0.5 * 0.75 + 0.5 * 0.25 = 0.5
    assert agreement([None, None], [True, False]).accuracy is None


RESULTS = [
    {"id": "a", "problem": "What is 17 + 25?", "reference": "42", "prompt": "Problem: What is 17 + 25?\n",
     "outputs": ["17 + 25 = 42. \\boxed{42}"], "chosen": 0, "answers": ["42"], "answer": "42", "correct": True},
    {"id": "b", "problem": "What is 12 \\times 13?", "reference": "156", "prompt": "Problem: What is 12 \\times 13?\n",
     "outputs": ["\\boxed{146}", "<think>\n12 \\times 13 = 156\n</think>\n\n\\boxed{156}", "\\boxed{156}"],
     "chosen": None, "answers": ["146", "156", "156"], "answer": "156", "correct": True},  # a vote
    {"id": "c", "reference": "9", "prompt": "Problem: What is 4 + 4?\n",  # an older file: no problem stored
     "outputs": ["\\boxed{8}"], "chosen": 0, "answers": ["8"], "answer": "8", "correct": False},
]


def test_judge_prompts_show_the_rubric_the_reference_and_the_solution_the_result_gives():
    assert judged_solution(RESULTS[0]) == "17 + 25 = 42. \\boxed{42}"
    assert judged_solution(RESULTS[1]) == RESULTS[1]["outputs"][1]  # the first output with the winning answer
    prompts = judge_prompts(RESULTS)
    assert prompts[0] == JUDGE_PROMPT.format(problem="What is 17 + 25?", reference="42",
                                             solution="17 + 25 = 42. \\boxed{42}")
    assert "Student's solution:\n\n\n\\boxed{156}" in prompts[1] and "12 \\times 13 = 156" not in prompts[1]
    assert "Problem:\nProblem: What is 4 + 4?" in prompts[2] and "Reference answer: 9" in prompts[2]
    assert "GRADE: CORRECT or GRADE: INCORRECT" in judge_prompt("p", "r", "s")


def write_results(path):
    path.write_text("".join(json.dumps(r) + "\n" for r in RESULTS))
    return path


@pytest.mark.slow  # over 10 s on a busy 2-core machine: starts rfs serve and asks it three times
def test_a_judge_behind_rfs_serve_grades_through_the_openai_client(tmp_path, capsys):
    from rfs.hub import MODELS, load_model, load_tokenizer
    from rfs.serve import ServeSettings, running_server

    if not (MODELS["pocket-reasoning"]["path"] / "config.json").is_file():
        pytest.skip("the pocket models are not built (rfs pocket train --preset reasoning)")
    torch.set_num_threads(1)
    model, tokenizer = load_model("pocket-reasoning", device="cpu"), load_tokenizer("pocket-reasoning")
    with running_server(ServeSettings("pocket-reasoning", port=0), model, tokenizer) as server:
        prompts = judge_prompts(RESULTS[:2])
        replies = ask_endpoint(prompts, server.url, max_tokens=12)
        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
        direct = [client.chat.completions.create(model="pocket-reasoning", messages=[{"role": "user", "content": p}],
                                                 temperature=0, max_tokens=12).choices[0].message.content or ""
                  for p in prompts]
        assert replies == direct
        out = tmp_path / "judged.jsonl"
        code = main(["judge", str(write_results(tmp_path / "results.jsonl")), "--judge", server.url, "--limit", "2",
                     "--max-tokens", "12", "--out", str(out)])
    assert code == 0
    judged = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["judge_reply"] for r in judged] == replies and [r["id"] for r in judged] == ["a", "b"]
    assert [r["judge_grade"] for r in judged] == [read_grade(r) for r in replies]
    assert "of 2 solutions" in capsys.readouterr().out


def test_a_local_judge_model_answers_each_rubric_prompt_as_a_chat_message(tmp_path, tiny_model, tiny_tokenizer,
                                                                           tiny_tokenizer_file, capsys):
    prompts = judge_prompts(RESULTS)
    replies = ask_local_model(prompts, tiny_model, tiny_tokenizer, max_new_tokens=5)
    chats = [tiny_tokenizer.render_chat([{"role": "user", "content": p}]) for p in prompts]
    assert replies == [c.text for [c] in generate(tiny_model, tiny_tokenizer, chats, max_new_tokens=5)]
    save_model(tiny_model, tmp_path / "judge", tokenizer_json=tiny_tokenizer_file)
    out = tmp_path / "judged.jsonl"
    assert main(["judge", str(write_results(tmp_path / "results.jsonl")), "--judge", str(tmp_path / "judge"),
                 "--max-tokens", "5", "--device", "cpu", "--dtype", "float32", "--out", str(out)]) == 0
    assert [json.loads(line)["judge_reply"] for line in out.read_text().splitlines()] == replies
    assert "graded 0 of 3 solutions" in capsys.readouterr().out  # random weights write no grade


def test_judge_refusals_say_what_to_do(tmp_path, monkeypatch, capsys):
    from rfs.serve import free_port

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    results = str(write_results(tmp_path / "results.jsonl"))
    with pytest.raises(SystemExit):
        main(["judge", results])
    assert "--judge http://HOST:PORT/v1" in capsys.readouterr().err
    assert main(["judge", str(tmp_path / "none.jsonl"), "--judge", "pocket-reasoning"]) == 2
    assert "rfs eval --out" in capsys.readouterr().err
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"
    assert main(["judge", results, "--judge", closed]) == 2
    assert "cannot reach a judge" in capsys.readouterr().err
