"""Chapter 2's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

import torch

from autograder.chapters.ch02 import decode_cases, random_top_p_rows, rms_norm_cases, rope_cases, top_p_cases

HIDDEN = {
    "rms_norm": rms_norm_cases(2, [(3, 5, 64), (1, 1, 7), (4, 128)], [torch.float32, torch.bfloat16])
    + rms_norm_cases(12, [(4, 256)], [torch.bfloat16], unit_weight=True)  # statistics in float32
    + rms_norm_cases(22, [(3, 16)], [torch.float32], eps=0.5, scale=0.3),  # eps inside the square root
    "rope": rope_cases(4, [(1, 64, 1_000_000.0, 7), (33, 128, 10_000.0, 7), (5, 8, 500.0, 7)]),
    "top_p": top_p_cases(random_top_p_rows(6, [0.1, 0.5, 0.9, 0.999]) + [
        ([[5.0, 5.0, 0.0]], 0.5), ([[0.0, 0.0, 0.0, 0.0]], 0.5),  # the rule at exactly p: the third is dropped
        ([[1.0, 3.0, 3.0, 3.0, -2.0]], 0.5), ([[0.0] * 8, [1.0] * 8], 0.6)]),  # cuts inside tied tokens
    "decode": decode_cases(8, [(2, 8, 2, 16, 0), (3, 6, 3, 32, 11), (1, 4, 4, 8, 30)]),
}
