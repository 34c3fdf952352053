"""Chapter 8's parts: the masked SFT loss, positions and mask of a packed row, the filter on teacher traces.

Each ``*_cases`` function builds cases from a few parameters; the visible cases below and the hidden ones
(``solutions/ch08/hidden_cases.py``, on the instructor's machine only) are built by the same functions.
Expected values come from the rfs references (:mod:`rfs.sft`, :func:`rfs.qwen3.packed_positions_and_mask`,
:mod:`rfs.distill`), computed in the process that judges.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from autograder.part import Case, Judge, Outcome, Part, equal_to, tensor_problem
from autograder.plain import describe
from rfs import distill as rfs_distill
from rfs import qwen3 as rfs_qwen3
from rfs import sft as rfs_sft

PAD = 0  # the padding id of the loss cases' rows (real tokens are drawn from 1 .. vocab - 1)


# --- Part 1: the masked SFT loss ------------------------------------------------------------------------------

def loss_cases(seed: int, batches: list[tuple[list[tuple[int, int]], int, str]]) -> list[Case]:
    """masked_sft_loss(logits, input_ids, prompt_lengths, lengths) for batches ``(rows, vocab, what)``, each row
    ``(prompt length, length)``; rows are right-padded to the longest, logits are random."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for rows, vocab, what in batches:
        prompt_lengths, lengths = [p for p, _ in rows], [n for _, n in rows]
        T = max(lengths)
        input_ids = torch.full((len(rows), T), PAD, dtype=torch.int64)
        for b, n in enumerate(lengths):
            input_ids[b, :n] = torch.randint(1, vocab, (n,), generator=g)
        logits = torch.randn(len(rows), T, vocab, generator=g) * 3
        cases.append(Case("masked_sft_loss", (logits, input_ids, prompt_lengths, lengths),
                          loss_close_to(rfs_loss(logits, input_ids, prompt_lengths, lengths)), what))
    return cases


def rfs_loss(logits: torch.Tensor, input_ids: torch.Tensor, prompt_lengths: list[int],
             lengths: list[int]) -> torch.Tensor:
    """rfs's masked loss of the batch: ``rfs.sft.collate`` builds the shifted, masked targets of the rows (one
    example each), and ``rfs.sft.sft_loss`` takes a stand-in model that returns the given logits."""
    examples = [(row[:p].tolist(), row[p:n].tolist()) for row, p, n in zip(input_ids, prompt_lengths, lengths,
                                                                            strict=True)]
    batch = rfs_sft.collate(examples, [[b] for b in range(len(examples))], input_ids.shape[1], PAD)
    assert torch.equal(batch["input_ids"], input_ids[:, :-1])  # the same rows, without the last token's input
    return rfs_sft.sft_loss(lambda ids, document_ids=None: logits[:, :-1], batch, packed=False).detach()


def loss_close_to(expected: torch.Tensor) -> Judge:
    """A 0-dim float32 tensor within 1e-5 of ``expected``; a wrong value is shown next to the right one."""
    def judge(outcome: Outcome) -> str | None:
        problem = tensor_problem(outcome.value, expected, atol=1e-5)
        if problem and problem.startswith("largest difference"):
            return f"expected a loss of {expected.item():.6f}, got {outcome.value.item():.6f}"
        return problem
    return judge


# --- Part 2: packing --------------------------------------------------------------------------------------------

def document_cases(rows: list[tuple[list[int], int, str]]) -> list[Case]:
    """packed_document_ids(lengths, width) for rows ``(lengths, width, what)``: example i's tokens are numbered i,
    and the padding after them len(lengths), as ``rfs.sft.collate`` numbers a row."""
    cases = []
    for lengths, width, what in rows:
        counts = torch.tensor([*lengths, width - sum(lengths)])
        expected = torch.arange(len(lengths) + 1).repeat_interleave(counts)
        cases.append(Case("packed_document_ids", (lengths, width), same_values(expected), what))
    return cases


def mask_cases(rows: list[tuple[list[int], str]]) -> list[Case]:
    """positions_and_mask(document_ids) for rows ``(document ids of one row, what)``."""
    return [Case("positions_and_mask", (torch.tensor(ids),), packed_like(torch.tensor(ids)), what)
            for ids, what in rows]


def same_values(expected: torch.Tensor) -> Judge:
    """An integer tensor equal to ``expected`` (shape, dtype and values)."""
    return lambda outcome: values_problem(outcome.value, expected)


def values_problem(got: object, expected: torch.Tensor) -> str | None:
    """What is wrong with an integer tensor result; its values are shown next to the expected ones."""
    problem = tensor_problem(got, expected, atol=0)
    if problem and problem.startswith("largest difference"):
        return f"expected {expected.tolist()}, got {got.tolist()}"
    return problem


def packed_like(document_ids: torch.Tensor) -> Judge:
    """Positions and mask equal to rfs's for the one row ``document_ids`` (T,)."""
    positions, mask = rfs_qwen3.packed_positions_and_mask(document_ids[None])
    positions, mask = positions[0], mask[0, 0]  # (T,), (T, T)

    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "expected a pair (positions, mask)"
        if problem := values_problem(got[0], positions):
            return f"positions: {problem}"
        if problem := tensor_problem(got[1], mask, atol=0):
            if not problem.startswith("largest difference"):
                return f"mask: {problem}"
            i, j = (got[1] != mask).nonzero()[0].tolist()
            may = "may" if mask[i, j] else "must not"
            return (f"mask[{i}, {j}] is {bool(got[1][i, j])}: token {i} (document {int(document_ids[i])}) {may} "
                    f"attend to token {j} (document {int(document_ids[j])})")
        return None
    return judge


# --- Part 3: the trace filter -----------------------------------------------------------------------------------

RIGHT = {"problem": "What is 7 + 5?", "gtruth_answer": "12", "message_thinking": "7 + 5 = 12.",
         "message_content": "The answer is $\\boxed{12}$.", "answer": "12", "correct": True,
         "prompt_tokens": 18, "completion_tokens": 40, "finish_reason": "stop"}
WRONG = RIGHT | {"message_content": "The answer is $\\boxed{13}$.", "answer": "13", "correct": False}
BOOK = {key: RIGHT[key] for key in ("problem", "gtruth_answer", "message_thinking", "message_content")}


def filter_cases(rows: list[tuple[dict, bool, int | None, str]]) -> list[Case]:
    """keep_trace(record, correct_only, max_tokens) for rows ``(record, correct_only, max_tokens, what)``."""
    return [Case("keep_trace", (record, correct_only, max_tokens),
                 named_verdict(kept_by_rfs(record, correct_only, max_tokens), what), what)
            for record, correct_only, max_tokens, what in rows]


def named_verdict(expected: bool, what: str) -> Judge:
    """The value must be the bool ``expected``; the message names the case, since a record shows only its start."""
    def judge(outcome: Outcome) -> str | None:
        if equal_to(expected)(outcome) is None:
            return None
        return f"expected {expected} for {what}, got {describe(outcome.value)}"
    return judge


def kept_by_rfs(record: dict, correct_only: bool, max_tokens: int | None) -> bool:
    """Whether rfs trains on ``record``: read from a trace file by ``rfs.distill.read_traces`` (which grades a
    record without a verdict) through ``rfs.distill.TraceFilter(correct_only, max_tokens)``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "traces.jsonl"
        path.write_text(json.dumps(record) + "\n")
        return len(rfs_distill.read_traces(path, rfs_distill.TraceFilter(correct_only, max_tokens))) == 1


PARTS = [
    Part("sft_loss", 4, ("masked_sft_loss",), ("rfs.sft.sft_loss", "rfs.sft.sft_loss_sum", "rfs.sft.collate"),
         lambda: loss_cases(1, [([(3, 7)], 16, "one row without padding"),
                                ([(2, 6), (4, 9), (3, 4)], 16, "three rows, two of them padded")]),
         "Token t's logits predict token t + 1: targets are input_ids[:, 1:] against logits[:, :-1]. A target "
         "counts when it is a completion token: prompt_lengths[b] <= t + 1 < lengths[b]. Return the mean over all "
         "counted targets of the batch together (not a mean of the rows' means), a 0-dim float32 tensor."),
    Part("packing", 3, ("packed_document_ids", "positions_and_mask"), ("rfs.qwen3.packed_positions_and_mask",
                                                                "rfs.sft.collate"),
         lambda: document_cases([([3, 2, 1], 6, "three examples filling the row"),
                                 ([2, 3], 7, "two examples and padding")])
         + mask_cases([([0, 0, 0, 1, 1, 2], "the lesson's row")]),
         "packed_document_ids: example i's tokens get i, the padding after the last example len(lengths) (int64). "
         "Positions count from 0 again wherever the document id changes; mask[i, j] is True exactly when j <= i "
         "and tokens i and j have the same document id (bool, (T, T))."),
    Part("trace_filter", 3, ("keep_trace",), ("rfs.distill.TraceFilter", "rfs.distill.read_traces"),
         lambda: filter_cases([
             (RIGHT, True, 64, "a right trace within the limit"), (WRONG, True, 64, "a wrong trace"),
             (RIGHT, True, 39, "a right trace over the limit"),
             (BOOK, True, 64, "a record of the book's files (no verdict, no token count)")]),
         "Use the record's 'correct' when it has one, else grade it: extract_answer(message_content) is not None "
         "and gtruth_answer is not None and grade_answer(answer, str(gtruth_answer)). Drop it when correct_only "
         "and not correct, when finish_reason == 'length', or when max_tokens is not None and completion_tokens "
         "is a number > max_tokens (a missing or None count passes); return True or False."),
]
