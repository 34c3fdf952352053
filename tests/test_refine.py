"""Self-refinement (chapter 5): claims and checks, the three critics, revisions, early exits, tokens, batching.

The self-check tests use the shipped pocket-base model on steps it recomputes correctly (54 \\times 3, 48 + 6,
...); a retrained model that gets them wrong fails these tests with the check's value in the message. The prompt
critic's mechanics (prompts, rounds, tokens, keep-best) are tested on a tiny random model with Qwen3's kind.
"""

import pytest

from rfs import refine
from rfs.evaluate import evaluate
from rfs.generate import Completion, generate
from rfs.prompts import build_prompt
from rfs.refine import (
    CHECK_TEMPERATURE,
    CHECK_TOKENS,
    CRITIQUE_PROMPT,
    REFINE_PROMPT,
    Attempt,
    Options,
    checked_value,
    choose_critic,
    critique,
    critique_prompt,
    find_claims,
    first_attempts,
    keep_best,
    make_attempt,
    read_verdict,
    refine_prompt,
    refine_round,
    revise,
    self_refine,
)
from rfs.scaling import majority_vote, sample_solutions
from rfs.settings import RunSettings
from rfs.tokenizer import Tokenizer

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


# --- The prompt critic (real models' default), on a tiny random model ----------------------------------------

SHORT = Options(max_new_tokens=8)  # a random model never stops by itself: keep its texts short


def test_each_kind_of_model_gets_its_critic_and_self_check_is_refused_on_real_models(tiny_tokenizer, tiny_model):
    pocket = Tokenizer(tiny_tokenizer.tokenizer, "pocket")
    assert choose_critic(pocket, None) == "self-check" and choose_critic(tiny_tokenizer, None) == "prompt"
    assert choose_critic(pocket, "prompt") == "prompt" and choose_critic(tiny_tokenizer, "verifier") == "verifier"
    with pytest.raises(ValueError, match="self-check is pocket-only.*use the prompt critic"):
        self_refine(tiny_model, tiny_tokenizer, ["What is 2 + 2?"], critic="self-check")  # before any generation
    with pytest.raises(ValueError, match="pocket-only"):
        evaluate(tiny_model, tiny_tokenizer, [{"unique_id": "a", "problem": "What is 2 + 2?", "answer": "4"}],
                 RunSettings(method="self-refine", critic="self-check", max_new_tokens=4), progress=False)


def test_read_verdict_takes_the_last_verdict_and_never_guesses():
    assert read_verdict("Step 2 is wrong: 6 x 7 is 42.\nVERDICT: WRONG") is False
    assert read_verdict("All steps hold.\n**Verdict:** Correct") is True
    assert read_verdict("VERDICT: CORRECT? No, step 1 fails.\nVERDICT: INCORRECT") is False
    assert read_verdict("<think>\nVERDICT: WRONG? No, it holds.\n</think>\n\nVERDICT: CORRECT") is True
    assert read_verdict("<think>\nVERDICT: CORRECT, I think.\n</think>\n\nStep 2 fails.") is None
    assert read_verdict("It looks fine to me.") is None
    assert read_verdict("") is None


def test_critique_and_refine_prompts_hold_the_problem_the_solution_and_the_review(tiny_tokenizer):
    problem, solution = "What is 2 + 2?", "2 + 2 = 5. The answer is \\boxed{5}."
    attempt = Attempt(f"<think>\nadd them\n</think>\n\n{solution}", "5", -1.0, 9)  # the review sees no thinking
    review = "Step 1 is wrong: 2 + 2 = 4.\nVERDICT: WRONG"
    critique_text = CRITIQUE_PROMPT.format(problem=problem, solution=solution)
    assert critique_prompt(tiny_tokenizer, problem, attempt, SHORT) == critique_text + "\nReview:\n"
    assert "1. Is each step right?" in critique_text and "2. Is the final answer right?" in critique_text
    rewrite = refine_prompt(tiny_tokenizer, problem, attempt, f"<think>\nhmm\n</think>\n\n{review}", SHORT)
    expected = REFINE_PROMPT.format(problem=problem, solution=solution, review=review)
    assert rewrite == expected + "\nCorrected solution:\n"
    assert f"Your solution:\n{solution}\n\nThe check:\n{review}\n" in rewrite and "\\boxed{}" in rewrite
    chat = Options(prompt="chat", thinking=False)
    assert critique_prompt(tiny_tokenizer, problem, attempt, chat) == tiny_tokenizer.render_chat(
        [{"role": "user", "content": critique_text}], thinking=False)


def test_prompt_critic_reviews_in_words_and_a_rejected_attempt_is_rewritten_from_the_review(tiny_model, tiny_tokenizer):
    model, tok, problem = tiny_model, tiny_tokenizer, "What is 2 + 2?"
    [first] = first_attempts(model, tok, [problem], SHORT)
    [verdict] = critique(model, tok, [first], "prompt", options=SHORT, problems=[problem])
    [[review]] = generate(model, tok, [critique_prompt(tok, problem, first, SHORT)], max_new_tokens=8)
    assert verdict.feedback == review.text and verdict.tokens == len(review.token_ids) == 8
    assert not verdict.accepted  # random weights write no verdict: no verdict is no acceptance
    assert verdict.rewrite == refine_prompt(tok, problem, first, review.text, SHORT) and verdict.fix is None
    [revised] = revise(model, tok, [problem], [first], [verdict], SHORT)
    [[rewrite]] = generate(model, tok, [verdict.rewrite], max_new_tokens=8)  # greedy, from the rewrite prompt
    assert revised.text == rewrite.text and revised.tokens == verdict.tokens + len(rewrite.token_ids)
    assert revised.feedback == review.text
    scored = make_attempt(model, tok, problem, rewrite.text, False, 0, SHORT)  # under the problem's own prompt
    assert revised.score == scored.score
    with pytest.raises(ValueError, match="pass problems"):
        critique(model, tok, [first], "prompt", options=SHORT)


def scripted_generate(script: dict[str, list[str]]):
    """A stand-in for rfs.generate.generate that answers each kind of prompt with the next text of its script."""
    def fake(model, tokenizer, prompts, max_new_tokens, temperature, seed, batch_size):
        kinds = ["review" if p.endswith("Review:\n") else "rewrite" if p.endswith("Corrected solution:\n")
                 else "solution" for p in prompts]
        texts = [script[kind].pop(0) for kind in kinds]
        return [[Completion(t, tokenizer.encode(t), "stop")] for t in texts]
    return fake


def test_prompt_critic_rounds_stop_when_accepted_count_every_token_and_keep_the_best_score(
        tiny_model, tiny_tokenizer, monkeypatch):
    script = {"solution": ["So 2 + 2 = 5. \\boxed{5}"],
              "review": ["Step 1 is wrong.\nVERDICT: WRONG", "Step 1 is right.\nVERDICT: CORRECT"],
              "rewrite": ["So 2 + 2 = 4. \\boxed{4}"]}
    monkeypatch.setattr(refine, "generate", scripted_generate(script))
    [result] = self_refine(tiny_model, tiny_tokenizer, ["What is 2 + 2?"], rounds=3)  # the prompt critic: the default
    assert [a.answer for a in result.attempts] == ["5", "4"] and result.stopped == "accepted"
    assert result.attempts[1].feedback == "Step 1 is wrong.\nVERDICT: WRONG"
    count = [len(tiny_tokenizer.encode(t)) for t in ["So 2 + 2 = 5. \\boxed{5}", "Step 1 is wrong.\nVERDICT: WRONG",
                                                     "So 2 + 2 = 4. \\boxed{4}", "Step 1 is right.\nVERDICT: CORRECT"]]
    assert result.tokens_by_round == [count[0], sum(count[:3]), sum(count)]  # the accepting review is paid for
    best = max(range(2), key=lambda i: result.attempts[i].score)
    assert result.kept_by_round == [0, best, best] and not any(script.values())  # every scripted text was used


def test_prompt_critic_stops_when_a_rewrite_keeps_the_answer(tiny_model, tiny_tokenizer):
    [result] = self_refine(tiny_model, tiny_tokenizer, ["What is 2 + 2?"], rounds=2, max_new_tokens=6)
    assert result.stopped == "unchanged" and len(result.attempts) == 2  # random text: no answer twice
    assert result.attempts[1].tokens > 6 and result.tokens_by_round == [6, 6 + result.attempts[1].tokens]


def test_rfs_eval_self_refine_on_a_real_layout_model_uses_the_prompt_critic(tmp_path, tiny_model, tiny_tokenizer_file,
                                                                            capsys):
    import json

    from rfs.cli import main
    from rfs.hub import save_model

    folder = save_model(tiny_model, tmp_path / "tiny-qwen3", tokenizer_json=tiny_tokenizer_file)  # kind: qwen3
    out = tmp_path / "results.jsonl"
    common = ["eval", "--model", str(folder), "--method", "self-refine", "--limit", "2", "--max-new-tokens", "6",
              "--device", "cpu", "--dtype", "float32"]
    assert main([*common, "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["settings"]["critic"] for r in records] == ["prompt", "prompt"]  # the model's default, as stored
    assert all(r["stopped"] == "unchanged" and r["feedback"][1] for r in records)  # a review led to each rewrite
    assert main([*common, "--critic", "self-check"]) == 2
    assert "self-check is pocket-only" in capsys.readouterr().err
