"""The appendix assignments' cases: Bradley–Terry ratings are the maximum likelihood however it is found, and the
judges say what is wrong. (Grading whole notebooks is in test_hostile_submissions.py.)"""

import math

import torch
from torch.nn.functional import logsigmoid

from autograder.assignments import ASSIGNMENTS, hidden_cases
from autograder.part import Outcome


def likelihood_ratings(matches: list[tuple[str, str, float]], prior: float) -> dict[str, float]:
    """Bradley–Terry ratings by minimising the negative log-likelihood with L-BFGS (not rfs's iteration)."""
    players = sorted({p for a, b, _ in matches for p in (a, b)})
    index = {p: i for i, p in enumerate(players)}
    n = len(players)
    a = torch.tensor([index[m[0]] for m in matches])
    b = torch.tensor([index[m[1]] for m in matches])
    score = torch.tensor([float(m[2]) for m in matches], dtype=torch.float64)
    pairs = torch.combinations(torch.arange(n))  # prior's virtual ties: half a win each, for every pair
    theta = torch.zeros(n, dtype=torch.float64, requires_grad=True)  # log-strengths
    optimizer = torch.optim.LBFGS([theta], max_iter=500, tolerance_grad=1e-13, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        centred = theta - theta.mean()
        win = logsigmoid(centred[a] - centred[b])  # log P(a beats b)
        lose = logsigmoid(centred[b] - centred[a])
        value = -(score * win + (1 - score) * lose).sum()
        if prior:
            gap = centred[pairs[:, 0]] - centred[pairs[:, 1]]
            value = value - prior * 0.5 * (logsigmoid(gap) + logsigmoid(-gap)).sum()
        value.backward()
        return value

    optimizer.step(loss)
    centred = (theta - theta.mean()).detach()
    return {p: 1000 + 400 * float(centred[index[p]]) / math.log(10) for p in players}


def test_bradley_terry_cases_expect_the_maximum_likelihood():
    [part] = [p for p in ASSIGNMENTS["appendix_f"] if p.name == "bradley_terry"]
    cases = part.visible() + hidden_cases("appendix_f")["bradley_terry"]
    assert len(cases) == 12
    for case in cases:
        ratings = likelihood_ratings(*case.args)
        assert case.judge(Outcome(ratings)) is None, case.what
        assert case.judge(Outcome({p: r + 1e-2 * (i % 2) for i, (p, r) in enumerate(ratings.items())})), case.what


def test_bradley_terry_judge_names_a_shift_and_a_player():
    [part] = [p for p in ASSIGNMENTS["appendix_f"] if p.name == "bradley_terry"]
    case = part.visible()[0]  # a beats b three times out of four
    a, b = 1000 + 200 * math.log10(3), 1000 - 200 * math.log10(3)
    assert case.judge(Outcome({"a": a, "b": b})) is None
    assert case.judge(Outcome({"a": a - 5, "b": b - 5})) == ("your ratings are the expected ones shifted by -5: they "
                                                             "must average exactly 1000 (strengths with a geometric "
                                                             "mean of 1)")
    assert case.judge(Outcome({"a": 1100.0, "b": 900.0})) == "player 'a': expected 1095.4243, got 1100.0000"
    assert "expected the players ['a', 'b']" in case.judge(Outcome({"a": a}))


def test_mask_judge_shows_the_first_wrong_query_row():
    [part] = [p for p in ASSIGNMENTS["appendix_e"] if p.name == "attention_mask"]
    case = part.visible()[0]  # prompts of 2 and 3 tokens, all new: valid[0] is [False, True, True]
    valid, start = case.args
    causal = torch.ones(3, 3, dtype=torch.bool).tril()
    padding_attended = causal.expand(2, 1, 3, 3).clone()
    assert case.judge(Outcome(padding_attended)) == "mask[0, 0, 1]: expected [0, 1, 0], got [1, 1, 0] (1 is True)"
    assert case.judge(Outcome(padding_attended[:, 0])) == "mask: expected shape (2, 1, 3, 3), got (2, 3, 3)"
    expected = ((causal & valid[:, None, :]) | torch.eye(3, dtype=torch.bool))[:, None]
    assert case.judge(Outcome(expected)) is None
