"""Chapter 6's checks, run in this process as a learner's test cells run them (visible, then hidden cases): the
instructor's functions pass, and each typical bug of the issue fails its part with a message that says why.
(test_hostile_submissions.py grades two buggy notebooks end to end.)"""

import re
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import checks
from autograder.plain import Stand, dumps, loads
from autograder.shim import invoke

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.DOTALL)


@pytest.fixture(autouse=True)
def in_the_course(monkeypatch):
    monkeypatch.chdir(ROOT)  # where the checks find the hidden cases


@pytest.fixture(scope="module")
def solution() -> dict:
    """The instructor's three functions, defined from the notebook's solution cells."""
    notebook = nbformat.read(ROOT / "solutions/ch06/ch06_exercises.ipynb", as_version=4)
    namespace = {"torch": torch}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(SOLUTION.sub(lambda m: m.group(1), cell.source), namespace)
    return namespace


def test_leaf_arguments_send_their_gradients_back():
    x = torch.tensor([1.0, 2.0])
    request = dumps(([Stand("leaf", (x,)), Stand("leaf", (x,))], []))
    result = loads(invoke(lambda a, b: (a * a).sum() + b.detach().sum(), request))
    assert torch.equal(result["grads"]["0"], 2 * x) and result["grads"]["1"] is None
    assert loads(invoke(lambda a, b: 3.0, request))["grads"] == {"0": None, "1": None}


def test_the_instructors_functions_pass(solution):
    checks.check_group_advantages(solution["group_advantages"])
    checks.check_sequence_logprobs(solution["sequence_logprobs"])
    checks.check_chapter6_loss(solution["chapter6_loss"])


def z_scores(correction: int, eps: float | None):
    """group_advantages with the given std correction, and eps (None: no guard against a zero std)."""
    def group_advantages(rewards, group_size, mode):
        groups = rewards.view(-1, group_size)
        centred = groups - groups.mean(dim=1, keepdim=True)
        std = groups.std(dim=1, keepdim=True, correction=correction)
        return (centred / (std if eps is None else std + eps)).flatten() if mode == "grpo" else centred.flatten()
    return group_advantages


def across_groups(rewards, group_size, mode):
    groups = rewards.view(group_size, -1)  # column p is taken for prompt p's group
    centred = groups - groups.mean(dim=0, keepdim=True)
    return (centred / (groups.std(dim=0, keepdim=True, correction=0) + 1e-4) if mode == "grpo" else centred).flatten()


@pytest.mark.parametrize("bug, message", [
    (z_scores(0, None), "your result holds NaN"),  # a group of equal rewards: 0 / 0
    (z_scores(1, 1e-4), "largest difference"),  # the sample std
    (z_scores(1, None), "your result holds NaN"),
    (across_groups, "largest difference"),
])
def test_advantage_bugs_fail(bug, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_group_advantages(bug)


def token_logprobs_of(logits, input_ids, temperature, shift=1):
    """Each token's log-probability under the logits ``shift`` columns to its left: (B, T - shift)."""
    logprobs = (logits[:, :logits.shape[1] - shift] / temperature).log_softmax(dim=-1)
    return logprobs.gather(-1, input_ids[:, shift:, None])[..., 0]


def prompt_counted(logits, input_ids, attention_mask, prompt_width, temperature):
    counted = attention_mask[:, 1:]  # every real token after the first, prompt tokens too
    total = (token_logprobs_of(logits, input_ids, temperature) * counted).sum(1)
    return total, total / counted.sum(1).clamp(min=1)


def not_shifted(logits, input_ids, attention_mask, prompt_width, temperature):
    counted = attention_mask.clone()
    counted[:, :prompt_width] = 0
    total = (token_logprobs_of(logits, input_ids, temperature, shift=0) * counted).sum(1)
    return total, total / counted.sum(1).clamp(min=1)


def mean_over_padding(logits, input_ids, attention_mask, prompt_width, temperature):
    counted = attention_mask[:, 1:].clone()
    counted[:, :prompt_width - 1] = 0
    total = (token_logprobs_of(logits, input_ids, temperature) * counted).sum(1)
    return total, total / (input_ids.shape[1] - prompt_width)


def probabilities_then_log(logits, input_ids, attention_mask, prompt_width, temperature):
    counted = attention_mask[:, 1:].clone()
    counted[:, :prompt_width - 1] = 0
    probs = (logits[:, :-1] / temperature).softmax(dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
    total = (probs.log() * counted).sum(1)  # log(0) for tokens less likely than float32 can hold
    return total, total / counted.sum(1).clamp(min=1)


@pytest.mark.parametrize("bug, message", [
    (prompt_counted, "total: largest difference"),
    (not_shifted, "total: largest difference"),
    (mean_over_padding, "mean: largest difference"),
    (probabilities_then_log, "hidden case 'confident logits"),
])
def test_logprob_bugs_fail(bug, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_sequence_logprobs(bug)


@pytest.mark.parametrize("bug, message", [
    (lambda lp, mask, adv: -(adv * (lp * mask).sum(1)).mean(), "a gradient reaches the advantages"),
    (lambda lp, mask, adv: (adv.detach() * (lp * mask).sum(1)).mean(), "its sign is wrong"),
    (lambda lp, mask, adv: -(adv.detach()[:, None] * lp * mask).mean(), "the loss: largest difference"),
    (lambda lp, mask, adv: -(adv.detach() * lp.sum(1)).mean(), "the loss: largest difference"),
    (lambda lp, mask, adv: torch.tensor(-(adv * (lp * mask).sum(1)).mean().item()), "no gradient reaches"),
])
def test_loss_bugs_fail(bug, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_chapter6_loss(bug)
