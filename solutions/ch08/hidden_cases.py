"""Chapter 8's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.ch08 import BOOK, RIGHT, WRONG, document_cases, filter_cases, loss_cases, mask_cases

UNCOUNTED = {key: value for key, value in RIGHT.items() if key != "completion_tokens"}
BOOK_WRONG = BOOK | {"message_content": "The answer is $\\boxed{13}$."}

HIDDEN = {
    "sft_loss": loss_cases(2, [
        ([(1, 5)], 16, "a prompt of one token"),
        ([(4, 5), (2, 8)], 16, "a completion of one token"),
        ([(3, 6), (3, 3), (2, 4)], 16, "a row without completion tokens"),
        ([(5, 12), (3, 12)], 32, "two full rows with completions of different lengths"),
        ([(6, 20), (2, 5), (10, 14), (1, 3)], 50, "four rows, mostly padding"),
        ([(8, 9), (1, 30)], 64, "a short completion and a long one")]),
    "packing": document_cases([
        ([5], 5, "one example filling the row"), ([5], 8, "one example and padding"),
        ([1, 1, 1], 3, "examples of one token"), ([1, 4, 1], 9, "examples of one token at both ends"),
        ([7, 3, 12, 1], 30, "four examples and padding")])
    + mask_cases([
        ([0] * 6, "one example (a plain causal mask)"), ([0, 1, 2, 3], "examples of one token"),
        ([0, 0, 1, 1, 3, 3], "padding numbered after a gap"),
        ([0, 1, 1, 1, 1, 2, 2, 3], "an example of one token first"),
        ([0] * 9 + [1] * 4 + [2] * 14 + [3] * 2 + [4] * 11, "five examples in 40 tokens"),
        ([0], "a single token"), ([2, 2, 5, 5, 5], "ids that do not start at 0")]),
    "trace_filter": filter_cases([
        (RIGHT, True, 40, "exactly at the token limit"), (RIGHT, True, 41, "one token under the limit"),
        (RIGHT | {"completion_tokens": 10_000}, True, None, "no token limit"),
        (WRONG, False, 64, "a wrong trace when wrong ones are kept"),
        (RIGHT | {"finish_reason": "length"}, True, 64, "a trace cut off by the teacher's token limit"),
        (WRONG | {"finish_reason": "length"}, False, None, "a cut-off trace when wrong ones are kept"),
        (RIGHT | {"completion_tokens": None}, True, 10, "a token count of None"),
        (UNCOUNTED, True, 10, "no token count at all"),
        (RIGHT | {"correct": False}, True, 64, "the record's own verdict is trusted"),
        ({k: v for k, v in RIGHT.items() if k != "message_thinking"}, True, 64, "no thinking"),
        (BOOK, True, None, "a book record, no limit"), (BOOK_WRONG, True, 64, "a book record with a wrong answer"),
        (BOOK_WRONG, False, 64, "a book record with a wrong answer, wrong ones kept"),
        (BOOK | {"message_content": "I am not sure."}, True, 64, "a book record without an answer"),
        ({k: v for k, v in BOOK.items() if k != "gtruth_answer"}, True, 64, "a book record without a reference"),
        ({k: v for k, v in BOOK.items() if k != "gtruth_answer"}, False, 64, "no reference, wrong ones kept"),
        (BOOK | {"gtruth_answer": None}, True, 64, "a book record whose reference is None"),
        (BOOK | {"gtruth_answer": 12}, True, 64, "a reference stored as a number"),
        (BOOK | {"message_content": "So the answer is 12."}, True, 64, "an answer that is not boxed"),
        (BOOK | {"message_content": "The answer is $\\boxed{0.5}$.", "gtruth_answer": "\\frac{1}{2}"}, True, 64,
         "an answer spelled otherwise"),
        (BOOK | {"completion_tokens": 70, "finish_reason": "stop"}, True, 64, "a book record over the limit")]),
}
