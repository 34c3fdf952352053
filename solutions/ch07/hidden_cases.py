"""Chapter 7's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

import torch

from autograder.chapters.ch07 import clipped_cases, gspo_cases, kl_cases, random_batch, ratio_cases

LENGTHS = [12, 3, 9, 1, 12, 6, 10, 4]


def unchanged(batch: tuple) -> tuple:
    """The batch before any update: the policy's log-probabilities equal the old ones on real tokens."""
    logp, old, advantages, mask = batch
    return torch.where(mask.bool(), old, logp), old, advantages, mask


def paper_scale(batch: tuple) -> tuple:
    """Log-ratios about 100 times smaller, so GSPO's sequence ratios land near the paper's clip of 3e-4/4e-4."""
    logp, old, advantages, mask = batch
    return old + (logp - old) / 100, old, advantages.sign() * (1 + advantages.abs()), mask


HIDDEN = {
    "clipped": clipped_cases([
        (random_batch(11, LENGTHS, 12, 0.5), 0.2, 0.28, "eight completions of different lengths"),
        (random_batch(12, LENGTHS, 12, 0.6), 0.1, 0.4, "a narrow low clip and a wide high clip"),
        (random_batch(13, [5, 5, 5], 5, 0.5), 0.2, 0.2, "equal epsilons, no padding"),
        (random_batch(14, [7, 2, 7, 5], 7, 0.8, sign=-1.0), 0.2, 0.28, "negative advantages only"),
        (random_batch(15, [7, 2, 7, 5], 7, 0.8, sign=1.0), 0.2, 0.28, "positive advantages only"),
        (random_batch(16, [6, 0, 4], 6, 0.5), 0.2, 0.28, "a sequence without tokens"),
        (random_batch(17, [1, 1, 1, 1], 3, 0.5), 0.2, 0.28, "one token per sequence"),
        (random_batch(18, LENGTHS, 12, 0.5, level=-110.0), 0.2, 0.28, "very unlikely tokens (log-probabilities "
         "near -110)"),
        (unchanged(random_batch(19, LENGTHS, 12, 0.5)), 0.2, 0.28, "before any update (the ratio is 1)")]),
    "kl": kl_cases([
        (random_batch(21, LENGTHS, 12, 1.0), "eight completions of different lengths"),
        (random_batch(22, [9, 4, 9], 9, 2.5), "a policy far from the reference"),
        (random_batch(23, [6, 0, 4], 6, 1.0), "a sequence without tokens"),
        (random_batch(24, [5, 5], 5, 1.0), "no padding"),
        (random_batch(25, LENGTHS, 12, 1.0, level=-110.0), "very unlikely tokens (log-probabilities near -110)"),
        (unchanged(random_batch(26, LENGTHS, 12, 1.0)), "the same model (KL 0)")]),
    "gspo": ratio_cases([
        (random_batch(31, LENGTHS, 12, 0.5), "eight completions of different lengths"),
        (random_batch(32, [40, 64, 17], 64, 0.3), "long completions"),
        (random_batch(33, [6, 0, 4], 6, 0.5), "a sequence without tokens has ratio 1"),
        (random_batch(34, [1, 1, 1], 2, 0.5), "one token per sequence"),
        (random_batch(35, LENGTHS, 12, 0.5, level=-110.0), "very unlikely tokens (log-probabilities near -110)")])
    + gspo_cases([
        (random_batch(41, LENGTHS, 12, 0.5), 0.05, 0.1, "eight completions of different lengths"),
        (random_batch(42, LENGTHS, 12, 0.6), 0.02, 0.2, "a narrow low clip and a wide high clip"),
        (paper_scale(random_batch(43, [10, 4, 12, 7], 12, 0.8)), 3e-4, 4e-4, "the paper's epsilons"),
        (random_batch(44, [9, 3, 9, 6], 9, 0.6, sign=-1.0), 0.05, 0.1, "negative advantages only"),
        (random_batch(45, [9, 3, 9, 6], 9, 0.6, sign=1.0), 0.05, 0.1, "positive advantages only"),
        (random_batch(46, [6, 0, 4], 6, 0.5), 0.05, 0.1, "a sequence without tokens adds 0"),
        (random_batch(47, LENGTHS, 12, 0.5, level=-110.0), 0.05, 0.1, "very unlikely tokens (log-probabilities "
         "near -110)")]),
}
