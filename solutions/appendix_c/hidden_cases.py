"""Appendix C's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.appendix_c import block_cases

# Shapes that tell the typical slips apart: a group of three query heads per key/value head (repeat versus
# repeat_interleave), head_dim unlike hidden_size / heads, one token (no mask needed).
ATTENTION = [
    ("three query heads per key/value head", {"num_attention_heads": 6, "num_key_value_heads": 2}),
    ("one key/value head", {"num_attention_heads": 4, "num_key_value_heads": 1}),
    ("as many key/value heads as query heads", {"num_attention_heads": 3, "num_key_value_heads": 3}),
    ("head_dim unlike hidden_size / heads", {"hidden_size": 24, "head_dim": 16}),
    ("a single token", {"tokens": 1}),
    ("a larger eps", {"rms_norm_eps": 0.5}),
    ("a batch of one longer sequence", {"batch": 1, "tokens": 33, "hidden_size": 64, "num_attention_heads": 8,
                                        "num_key_value_heads": 4, "head_dim": 16}),
    ("the pocket model's sizes", {"hidden_size": 192, "num_attention_heads": 6, "num_key_value_heads": 2,
                                  "head_dim": 32, "intermediate_size": 512, "tokens": 12}),
]

HIDDEN = {
    "feed_forward": block_cases("feed_forward", 11, [
        ("fewer hidden units than the hidden size", {"intermediate_size": 20}),
        ("a single token", {"tokens": 1, "batch": 3}),
        ("the pocket model's sizes", {"hidden_size": 192, "intermediate_size": 512, "head_dim": 32})]),
    "self_attention": block_cases("self_attention", 12, ATTENTION),
    "block": block_cases("block_forward", 13, ATTENTION),
}
