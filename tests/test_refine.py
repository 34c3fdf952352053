"""Self-refinement (chapter 5): claims and checks, both critics, revisions, early exits, tokens, batching.

The model tests use the shipped pocket-base model on steps it recomputes correctly (54 \\times 3, 48 + 6, ...); a
retrained model that gets them wrong fails these tests with the check's value in the message.
"""

import pytest

from rfs.generate import generate
from rfs.prompts import build_prompt
from rfs.refine import (
    CHECK_TEMPERATURE,
    CHECK_TOKENS,
    Attempt,
    Options,
    checked_value,
    critique,
    find_claims,
    first_attempts,
    keep_best,
    make_attempt,
    refine_round,
    self_refine,
)
from rfs.scaling import majority_vote, sample_solutions

PROBLEM = "Compute (48 + 6) \\times 3 - 27."
SLIP = ("First the parentheses.\n48 + 6 = 54.\n54 \\times 3 = 152.\nThen subtract.\n152 - 27 = 125.\n"
        "The answer is $\\boxed{125}$.")  # 54 times 3 is 162, not 152


def check_tokens(model, tokenizer, questions: list[str]) -> int:
    """Tokens of the greedy step-by-step solutions of ``questions``, generated one at a time."""
    return sum(len(generate(model, tokenizer, [build_prompt(tokenizer, q, "cot")], max_new_tokens=160)[0][0].token_ids)
               for q in questions)


def test_find_claims_reads_the_arithmetic_steps():
    text = ("483 + 275 = 758.\n11 - 129 = -118.\n-20 + 8 = -12, so 3x = -12.\n9 \\times 44 = 396.\n"
            "Both 42 and 36 are divisible by 2: 42 \\div 2 = 21 and 36 \\div 2 = 18.\nx = -8.")
    claims = find_claims(text)
    assert [(c.expression, c.value, c.step) for c in claims] == [
        ("483 + 275", "758", 1), ("11 - 129", "-118", 2), ("-20 + 8", "-12", 3), ("9 \\times 44", "396", 4)]
    assert [text[c.start:c.end] for c in claims] == ["758", "-118", "-12", "396"]
    assert claims[0].question == "What is 483 + 275?"
    assert claims[3].question == "What is 44 \\times 9?"  # the larger factor first, as pocket problems ask


def test_checked_value_reads_the_asked_step_not_what_follows_it():
    asked = "What is 8703 + 86?"
    assert checked_value("8703 + 86 = 8889.\n8889 + 86 = 9975.\nThe answer is $\\boxed{9975}$.", asked) == "8889"
    split = "Split 86 into 80 + 6.\n8703 + 80 = 8783.\n8783 + 6 = 8789.\nThe answer is $\\boxed{8789}$."
    assert checked_value(split, asked) == "8789"  # done in parts: the final answer
    assert checked_value("no answer", asked) is None


def test_self_check_flags_a_planted_wrong_step_and_the_revision_continues_from_the_fix(pocket_base):
    model, tokenizer = pocket_base
    slip = make_attempt(model, tokenizer, PROBLEM, SLIP, True, 0, Options())
    [verdict] = critique(model, tokenizer, [slip], "self-check")
    assert not verdict.accepted
    assert verdict.feedback == "step 3: the check gives 162, not 152 for 54 \\times 3"
    assert verdict.fix == SLIP[:SLIP.index("54 \\times 3 = ")] + "54 \\times 3 = 162."
    questions = ["What is 48 + 6?", "What is 54 \\times 3?", "What is 152 - 27?"]
    assert verdict.tokens == check_tokens(model, tokenizer, questions)  # every claim was checked
    revised = refine_round(model, tokenizer, PROBLEM, slip)
    assert revised.text.startswith(verdict.fix) and revised.answer == "135"
    assert revised.feedback == verdict.feedback
    continuation = generate(model, tokenizer, [build_prompt(tokenizer, PROBLEM, "cot") + verdict.fix],
                            max_new_tokens=384)[0][0]
    assert revised.tokens == verdict.tokens + len(continuation.token_ids)


def test_sampled_checks_vote_and_every_sample_is_counted(pocket_base):
    model, tokenizer = pocket_base
    slip = make_attempt(model, tokenizer, PROBLEM, SLIP, True, 0, Options())
    [verdict] = critique(model, tokenizer, [slip], "self-check", options=Options(check_samples=4))
    questions = ["What is 48 + 6?", "What is 54 \\times 3?", "What is 152 - 27?"]
    samples = sample_solutions(model, tokenizer, questions, 4, CHECK_TEMPERATURE, max_new_tokens=CHECK_TOKENS)
    votes = [majority_vote([checked_value(c.text, q) for c in s]) for s, q in zip(samples, questions, strict=True)]
    assert votes[1] == "162" and verdict.feedback == "step 3: the check gives 162, not 152 for 54 \\times 3"
    assert verdict.tokens == sum(len(c.token_ids) for s in samples for c in s)


def test_self_check_accepts_a_correct_solution(pocket_base):
    model, tokenizer = pocket_base
    [attempt] = first_attempts(model, tokenizer, [PROBLEM])
    assert attempt.answer == "135" and attempt.feedback is None
    [verdict] = critique(model, tokenizer, [attempt], "self-check")
    assert verdict.accepted and verdict.feedback == "" and verdict.tokens > 0, verdict.feedback
    assert refine_round(model, tokenizer, PROBLEM, attempt) is None


def test_verifier_is_an_oracle_that_stops_on_a_right_answer_and_resamples_a_wrong_one(pocket_base):
    model, tokenizer = pocket_base
    [right] = first_attempts(model, tokenizer, [PROBLEM])
    slip = make_attempt(model, tokenizer, PROBLEM, SLIP, True, 0, Options())
    assert refine_round(model, tokenizer, PROBLEM, right, "verifier", reference="135") is None
    revised = refine_round(model, tokenizer, PROBLEM, slip, "verifier", reference="135", seed=3)
    assert "oracle" in revised.feedback and "125" in revised.feedback
    [[fresh]] = generate(model, tokenizer, [build_prompt(tokenizer, PROBLEM, "cot")], max_new_tokens=384,
                         temperature=0.8, seed=3)
    assert revised.text == fresh.text and revised.tokens == len(fresh.token_ids)  # checking costs no tokens
    with pytest.raises(ValueError, match="oracle"):
        refine_round(model, tokenizer, PROBLEM, slip, "verifier")


def test_the_oracle_resamples_until_the_last_round_even_when_the_answer_repeats(pocket_base):
    model, tokenizer = pocket_base
    # The reference is wrong on purpose: the verifier rejects every answer, and its fresh samples say 6 each time.
    [oracle] = self_refine(model, tokenizer, ["What is 9 - 3?"], rounds=3, critic="verifier", references=["7"])
    assert oracle.stopped == "rounds" and [a.answer for a in oracle.attempts] == ["6", "6", "6", "6"]
    assert oracle.kept_by_round == [0, 1, 2, 3]  # the verifier rejected every earlier attempt: the last is kept
    assert oracle.tokens_by_round == [sum(a.tokens for a in oracle.attempts[:r + 1]) for r in range(4)]


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_self_refine_batches_what_refine_round_does_and_counts_every_token(pocket_base):
    model, tokenizer = pocket_base
    problems = [PROBLEM, "What is 8633 + 170 + 86?", "What is 44 \\times 29?"]
    batched = self_refine(model, tokenizer, problems, rounds=1)
    for problem, result in zip(problems, batched, strict=True):
        [first] = first_attempts(model, tokenizer, [problem])
        revised = refine_round(model, tokenizer, problem, first)
        assert [a.text for a in result.attempts] == [first.text] + ([revised.text] if revised else [])
        [verdict] = critique(model, tokenizer, [first])
        assert result.tokens == first.tokens + (revised.tokens if revised else verdict.tokens)
        assert result.stopped == ("accepted" if revised is None else "rounds" if revised.answer != first.answer
                                  else "unchanged")
    assert batched[0].stopped == "accepted" and batched[1].stopped != "accepted"  # both kinds of round are tested


def test_keep_best_takes_the_oracle_s_last_attempt_and_otherwise_the_best_score():
    attempts = [Attempt("a", "1", -0.1, 1), Attempt("b", "2", -0.5, 1), Attempt("c", "3", -0.3, 1)]
    assert keep_best(attempts, critic="verifier") == 2
    assert keep_best(attempts, critic="self-check") == 0
    assert keep_best([Attempt("a", "1", -0.2, 1), Attempt("b", "2", -0.2, 1)], "self-check") == 0  # tie: earliest
