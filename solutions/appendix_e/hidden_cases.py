"""Appendix E's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.appendix_e import left_pad_cases, mask_cases, positions_cases

HIDDEN = {
    "left_pad": left_pad_cases([
        ([[4, 5, 6]], 0, "one prompt"),
        ([[7], [1, 2, 3, 4, 5]], 151643, "another pad id"),
        ([[0, 4, 0], [9]], 0, "prompts that contain the pad id"),
        ([[1], [2, 3], [4, 5, 6], [7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18, 19]], 0, "five lengths"),
        ([[2, 4, 6, 8], [1, 3]], 3, "the longest first")]),
    "positions": positions_cases([
        ([4], "one row"),
        ([3, 3], "no padding"),
        ([1, 6], "one real token"),
        ([9, 1, 4, 7, 2], "five rows"),
        ([2, 12], "much padding")]),
    "attention_mask": mask_cases([
        ([4], 4, 0, "one row without padding: plain causal"),
        ([2, 5], 5, 0, "padding keys are hidden and padding queries see themselves"),
        ([1, 4, 3], 4, 0, "three rows"),
        ([2, 5], 8, 7, "a decode step after three generated tokens"),
        ([3, 6, 1], 9, 6, "a chunk of three new tokens after the prompts"),
        ([2, 5], 5, 3, "the last two prompt slots new"),
        ([5, 2, 4, 1], 5, 0, "four rows")]),
}
