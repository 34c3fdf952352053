"""Chapter 6's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.ch06 import advantage_cases, logprob_cases, loss_cases, random_rewards

MIXED = [0.0, 0.5, 1.5, 1.5, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.5]  # correctness + 0.5 x format, 3 groups of 4

HIDDEN = {
    "group_advantages": advantage_cases([
        (MIXED, 4, "grpo", "rewards that are not 0 or 1"),
        (MIXED, 4, "dr-grpo", "rewards that are not 0 or 1, centred"),
        ([1.0, 0.0, 0.5], 1, "grpo", "groups of one sample"),
        ([1.0, 0.0, 0.5], 1, "dr-grpo", "groups of one sample, centred"),
        ([0.0] * 8 + [1.0] * 8, 8, "grpo", "all wrong and all right"),
        ([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0], 2, "grpo", "four groups of 2"),
        ([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0], 2, "dr-grpo", "four groups of 2, centred"),
        ([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], 6, "grpo", "one rare success"),
        (random_rewards(5, 5, 8), 8, "grpo", "five groups of 8"),
        (random_rewards(6, 3, 16, (0.0, 0.5, 1.0, 1.5)), 16, "grpo", "three groups of 16"),
        (random_rewards(7, 6, 3, (0.0, 1.0, 2.0)), 3, "dr-grpo", "six groups of 3, centred")]),
    "sequence_logprobs": logprob_cases(11, [
        ([5, 1, 3, 5], [7, 2, 5, 1], 11, 1.0, 3.0, "four rows of different lengths"),
        ([4, 4, 2], [6, 6, 3], 17, 0.6, 3.0, "temperature 0.6"),
        ([1, 1], [3, 5], 7, 1.0, 2.0, "one-token prompts"),
        ([3, 2, 4], [5, 5, 5], 9, 1.3, 2.0, "no padding after any completion"),
        ([3, 4, 2], [4, 0, 2], 9, 1.0, 2.0, "a row without completion tokens"),
        ([2, 3], [4, 3], 13, 1.0, 60.0, "confident logits (probabilities below float32's smallest number)"),
        ([6, 3, 5, 2, 4, 3], [9, 1, 4, 8, 2, 6], 29, 0.8, 4.0, "six rows, temperature 0.8")]),
    "chapter6_loss": loss_cases(13, [
        ([5, 3, 7, 2, 4, 4], [0.8, -1.2, 0.4, 0.0, 1.1, -1.1], "two groups of 3"),
        ([3], [2.0], "one solution"),
        ([4, 1, 6], [-1.0, 0.5, 0.5], "a negative advantage first"),
        ([2, 5, 3, 3], [0.0, 0.0, 0.0, 0.0], "a group without signal"),
        ([6, 6, 2, 1, 3, 8, 4, 5], [1.3, -0.4, -0.4, -0.4, 0.9, 0.9, -0.9, -0.9], "eight solutions")]),
}
