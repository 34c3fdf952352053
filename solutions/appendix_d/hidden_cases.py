"""Appendix D's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.appendix_d import kv_cases, training_cases, weight_cases
from rfs.qwen3 import CONFIGS, Qwen3Config

# Made-up configs that tell the typical slips apart: an untied head, as many key/value heads as query heads
# (multi-head attention), one key/value head with head_dim unlike hidden_size / heads.
UNTIED = Qwen3Config(vocab_size=1000, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                     num_attention_heads=6, num_key_value_heads=2, head_dim=20, tie_word_embeddings=False)
MULTI_HEAD = Qwen3Config(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=5,
                         num_attention_heads=4, num_key_value_heads=4, head_dim=16)
ONE_KV_HEAD = Qwen3Config(vocab_size=3000, hidden_size=128, intermediate_size=384, num_hidden_layers=7,
                          num_attention_heads=8, num_key_value_heads=1, head_dim=24)

HIDDEN = {
    "weight_bytes": weight_cases([
        (CONFIGS["1.7b"], "int8", "a tied model in int8"), (CONFIGS["4b"], "int4", "a tied model in int4"),
        (CONFIGS["14b"], "bfloat16", "an untied model in bfloat16"),
        (CONFIGS["32b"], "int4", "an untied model in int4"), (UNTIED, "float32", "a small untied model"),
        (MULTI_HEAD, "bfloat16", "as many key/value heads as query heads"),
        (ONE_KV_HEAD, "float32", "one key/value head, head_dim unlike hidden_size / heads")]),
    "kv_cache": kv_cases([
        (CONFIGS["8b"], "float32", "a large model in float32"), (CONFIGS["32b"], "int8", "int8"),
        (CONFIGS["4b"], "int4", "int4"), (MULTI_HEAD, "bfloat16", "as many key/value heads as query heads"),
        (ONE_KV_HEAD, "float32", "one key/value head, head_dim unlike hidden_size / heads")]),
    "training": training_cases([
        (CONFIGS["8b"], "bfloat16", "an untied model in bfloat16"),
        (CONFIGS["14b"], "float32", "an untied model in float32"),
        (CONFIGS["1.7b"], "bfloat16", "a tied model in bfloat16"), (UNTIED, "float32", "a small untied model"),
        (ONE_KV_HEAD, "bfloat16", "one key/value head in bfloat16")]),
}
