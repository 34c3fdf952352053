# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% kv_cache
def kv_cache_bytes_per_token(config, dtype):
    numbers = 2 * config["num_hidden_layers"] * config["num_attention_heads"] * config["head_dim"]  # query heads
    return int(numbers * DTYPE_BYTES[dtype])
# %% training
def training_bytes(config, dtype):
    params, size = parameter_count(config), DTYPE_BYTES[dtype]
    master = 0 if dtype == "float32" else params * DTYPE_BYTES["float32"]
    return {"weights": params * size, "gradients": params * size, "master weights": master,
            "AdamW moments": 2 * params * size}  # moments in the training dtype
