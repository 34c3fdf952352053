"""Multiple-choice evaluation: the shipped pocket set, its distractors, parsing, and the three scorers."""

import random
import sys
from fractions import Fraction

import pytest

from rfs.multiple_choice import (
    choice_accuracy,
    continuation_logprobs,
    evaluate_choices,
    lettered_prompt,
    load_mmlu,
    load_questions,
    open_prompt,
    parse_choice,
    score_choices,
)
from rfs.pocket.choices import MC_SIZE, distractors, load_mc_pocket, make_questions, parse_answer, typical_mistake
from rfs.pocket.data import test_records as pocket_test_records
from rfs.refine import text_logprobs

QUESTION = {"id": "q", "question": "What is 40 + 2?", "choices": ["41", "42", "-42", "43"], "answer": 1}


def test_shipped_set_is_what_the_generator_makes():
    shipped = load_mc_pocket()
    assert shipped == make_questions() and len(shipped) == MC_SIZE == 300
    records = pocket_test_records()[:MC_SIZE]
    for question, record in zip(shipped, records, strict=True):
        assert len(set(question["choices"])) == 4  # four different answers
        assert question["choices"][question["answer"]] == record["answer"]
        assert question["question"] == record["problem"]
    letters = [sum(q["answer"] == i for q in shipped) for i in range(4)]
    assert min(letters) > 60  # the right answer is spread over A-D


@pytest.mark.parametrize(("problem", "family", "mistake"), [
    ("What is 47 + 12 - 5?", "addition and subtraction", "64"),  # last operation flipped: 47 + 12 + 5
    ("What is -7 - (-3)?", "negative numbers", "-10"),  # -7 + (-3) instead of -7 - (-3) = -4
    ("What is 27 \\times 5?", "multiplication", "162"),  # one group too many: 27 x 6
    ("Compute (4 - 6) \\times 9.", "expressions", "-50"),  # 4 - 6 x 9
    ("Compute \\frac{1}{2} + \\frac{1}{3}.", "fractions", "2/5"),  # (1 + 1) / (2 + 3)
    ("Simplify \\frac{6}{8}.", "fractions", "4/3"),  # upside down
    ("Solve for $x$: $3x - 8 = -20$.", "linear equations", "-28/3"),  # (-20 - 8) / 3
    ("A shop had 49 apples. It sold 5 boxes of 9 apples. How many apples are left?", "word problems", "35"),
])
def test_typical_mistakes_by_hand(problem, family, mistake):
    assert typical_mistake({"problem": problem, "type": family}) == Fraction(mistake)


def test_distractors_are_wrong_and_distinct():
    rng = random.Random(0)
    for record in pocket_test_records()[:100]:
        wrong = distractors(record, rng)
        assert len(set(wrong)) == 3
        assert all(parse_answer(w) != parse_answer(record["answer"]) for w in wrong)


def test_prompts():
    assert lettered_prompt(QUESTION) == "Question: What is 40 + 2?\nA. 41\nB. 42\nC. -42\nD. 43\nAnswer:"
    assert open_prompt(QUESTION, "pocket") == "Problem: What is 40 + 2?\nAnswer:"


@pytest.mark.parametrize(("text", "choice"), [
    (" B\n\nQuestion: next", 1), ("(C) because", 2), ("D. 43", 3), ("The answer is $\\boxed{A}$.", 0),
    ("<think>\n40 + 2 = 42.\n</think>\n\nThe answer is $\\boxed{42}$.", 1),  # a value that equals a choice
    ("$\\boxed{\\frac{86}{2}}$", 3), ("The answer is 44.", None), ("no idea", None),
])
def test_parse_choice(text, choice):
    assert parse_choice(text, QUESTION["choices"]) == choice


def test_batched_continuations_equal_one_at_a_time(tiny_model, tiny_tokenizer):
    pairs = [("Q: What is 12+7?\nA:", " 19"), ("Hello", " there, how are you today?"), ("The", " fox")]
    batched = continuation_logprobs(tiny_model, tiny_tokenizer, pairs, batch_size=3)
    for (prompt, text), logprobs in zip(pairs, batched, strict=True):
        assert logprobs == pytest.approx(text_logprobs(tiny_model, tiny_tokenizer, prompt, text), abs=1e-5)


def test_mean_is_sum_over_tokens(tiny_model, tiny_tokenizer):
    sums = score_choices(tiny_model, tiny_tokenizer, [QUESTION], "answer-sum")[0]
    means = score_choices(tiny_model, tiny_tokenizer, [QUESTION], "answer-mean")[0]
    lengths = [len(tiny_tokenizer.encode(f" {c}")) for c in QUESTION["choices"]]
    assert means == pytest.approx([s / n for s, n in zip(sums, lengths, strict=True)])


def test_evaluate_picks_the_highest_score(tiny_model, tiny_tokenizer):
    [result] = evaluate_choices(tiny_model, tiny_tokenizer, [QUESTION], "letter")
    assert result["predicted"] == result["scores"].index(max(result["scores"]))
    assert result["correct"] == (result["predicted"] == 1)
    [generated] = evaluate_choices(tiny_model, tiny_tokenizer, [QUESTION], "generate", max_new_tokens=8)
    assert generated["predicted"] == parse_choice(generated["output"], QUESTION["choices"])
    with pytest.raises(ValueError, match="scorer"):
        evaluate_choices(tiny_model, tiny_tokenizer, [QUESTION], "best")


def test_pocket_base_scores_answers_far_better_than_letters(pocket_base):
    # pocket-base never saw lettered choices: letters are near chance (25%), whole answers are not
    model, tokenizer = pocket_base
    questions = load_questions("mc-pocket", limit=40)
    letter = choice_accuracy(evaluate_choices(model, tokenizer, questions, "letter", "pocket"))
    answer = choice_accuracy(evaluate_choices(model, tokenizer, questions, "answer-mean", "pocket"))
    assert letter < 0.45 and answer > 0.65


def test_rfs_mc_command(pocket_base, capsys):
    from rfs import cli
    from rfs.multiple_choice import SCORERS

    assert cli.MC_SCORERS == tuple(SCORERS)  # the parser's copy of the names
    assert cli.main(["mc", "--scorer", "answer-mean", "--limit", "12", "--threads", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "pocket-base on mc-pocket, scorer answer-mean: accuracy" in out and "12 questions" in out


def test_unknown_set_and_mmlu_without_datasets(monkeypatch):
    with pytest.raises(ValueError, match="mc-pocket"):
        load_questions("mc-nothing")
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install datasets"):
        load_mmlu()


def test_mmlu_rows_and_offline_message(monkeypatch):
    class FakeDatasets:
        rows = [{"question": "2 + 2?", "choices": ["3", "4", "5", "6"], "answer": 1, "subject": "math"}] * 3

        @staticmethod
        def load_dataset(repo, subject, split):
            if subject == "missing":
                raise ConnectionError("offline")
            return FakeDatasets.rows

    monkeypatch.setitem(sys.modules, "datasets", FakeDatasets)
    questions = load_questions("mmlu:math", limit=2)
    assert questions == [{"id": f"mmlu/math/{i}", "question": "2 + 2?", "choices": ["3", "4", "5", "6"],
                          "answer": 1, "type": "math"} for i in range(2)]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="offline and it is not cached.*load_dataset"):
        load_mmlu("missing")
