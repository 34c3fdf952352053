# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% block
def block_forward(x, weights, cos, sin, config):
    eps = config["rms_norm_eps"]  # post-norm, as in the original transformer: the sums are normalized
    x = rms_norm(x + self_attention(x, weights, cos, sin, config), weights["input_layernorm.weight"], eps)
    return rms_norm(x + feed_forward(x, weights), weights["post_attention_layernorm.weight"], eps)
