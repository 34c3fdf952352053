"""Inference-time scaling (chapter 4): majority votes, pass@k, best-of-N scorers, sampling several solutions."""

from math import comb

import pytest

from rfs.generate import Completion, generate
from rfs.prompts import QWEN3_PROMPTS
from rfs.scaling import best_of_n, majority_vote, pass_at_k, sample_solutions, self_consistency


def test_majority_vote_merges_equivalent_answers():
    assert majority_vote(["0.5", "3", "\\frac{1}{2}", "3", "1/2"]) == "0.5"  # one half has 3 votes, 3 has 2
    assert majority_vote(["3", "3", "0.5", "\\frac{1}{2}", "1/2"]) == "0.5"  # the first spelling of the winner
    assert majority_vote([None, None]) is None and majority_vote([None, "7"]) == "7"


def test_majority_vote_counts_one_spelling_as_one_answer_even_where_the_verifier_cannot_read_it():
    cut = "$\\boxed{156"  # a solution cut off by the token limit: grade_answer(cut, cut) is False
    assert majority_vote(["2", cut, "3", cut]) == cut


def test_majority_vote_breaks_ties_by_the_earliest_first_vote():
    assert majority_vote(["4", "5", "5", "4"]) == "4"
    assert majority_vote(["5", "4", "4", "5"]) == "5"
    assert majority_vote([None, "9", "8", "8", "9", "7"]) == "9"


def test_self_consistency_votes_over_the_extracted_answers():
    def solution(text: str) -> Completion:
        return Completion(text, [1], "stop")

    votes = [solution("so $\\boxed{7}$"), solution("\\boxed{0.5}"), solution("no answer here"),
             solution("The answer is $\\boxed{\\frac{1}{2}}$.")]
    assert self_consistency(votes) == "0.5"  # 0.5 and 1/2 are one candidate with two votes
    assert self_consistency(votes[:2]) == "7"  # a tie: the earlier answer wins
    assert self_consistency([solution("no answer")]) is None


def test_pass_at_k_matches_the_closed_form():
    assert pass_at_k(10, 0, 3) == 0.0 and pass_at_k(10, 8, 3) == 1.0  # too few wrong samples to fill 3 draws
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # both draws wrong: C(2,2)/C(4,2)
    for n, c, k in [(20, 3, 5), (100, 37, 10), (8, 4, 8)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_best_of_n_scorers():
    short = Completion("\\boxed{1}", [1, 2], "stop", [-0.5, -0.5])
    long = Completion("so \\boxed{2}", [1, 2, 3, 4], "stop", [-0.1, -0.1, -0.1, -0.3])
    unfinished = Completion("no answer", [1], "length", [-0.01])
    assert best_of_n([short, long], "logprob") is long  # -0.6 beats -1.0
    assert best_of_n([short, long], "mean-logprob") is long
    assert best_of_n([unfinished, long, short], "heuristic") is short  # boxed, finished, shortest
    a, b = Completion("a", [1, 2], "stop", [-0.5, -0.25]), Completion("b", [3, 4], "stop", [-0.25, -0.5])
    assert best_of_n([a, b], "logprob") is a and best_of_n([b, a], "logprob") is b  # a tie: the first wins


def test_sample_solutions_prompts_each_problem_and_reproduces_its_samples(tiny_model, tiny_tokenizer):
    problems = ["What is 12+7?", "Hello there"]
    first = sample_solutions(tiny_model, tiny_tokenizer, problems, n=3, max_new_tokens=8, seed=5, logprobs=True)
    again = sample_solutions(tiny_model, tiny_tokenizer, problems, n=3, max_new_tokens=8, seed=5)
    assert [len(s) for s in first] == [3, 3]
    assert [[c.token_ids for c in s] for s in first] == [[c.token_ids for c in s] for s in again]
    assert len({tuple(c.token_ids) for c in first[0]}) > 1  # the samples of a problem differ
    assert all(len(c.logprobs) == len(c.token_ids) for s in first for c in s)
    by_hand = generate(tiny_model, tiny_tokenizer, [QWEN3_PROMPTS["cot"].format(problem=p) for p in problems],
                       max_new_tokens=8, temperature=0.8, n=3, seed=5)  # the wrapper adds the cot prompt (Qwen3's)
    assert [[c.token_ids for c in s] for s in by_hand] == [[c.token_ids for c in s] for s in first]
    fewer = sample_solutions(tiny_model, tiny_tokenizer, problems, n=2, max_new_tokens=8, seed=5)
    assert [[c.token_ids for c in s] for s in fewer] == [[c.token_ids for c in s[:2]] for s in first]
