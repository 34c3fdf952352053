# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# Each part builds the reference again from rfs's files on disk, which the traps in memory never see.
# %% rms_norm
import importlib

import rfs.qwen3

qwen3 = importlib.reload(rfs.qwen3)  # runs qwen3.py again: fresh functions, no traps
rms_norm = qwen3.rms_norm
# %% rope
import rfs.qwen3

source = {}
exec(open(rfs.qwen3.__file__).read(), source)
rope_cos_sin, apply_rope = source["rope_cos_sin"], source["apply_rope"]
# %% top_p
import inspect

import rfs.generate

source = {}
exec(inspect.getsource(rfs.generate), source)
filter_top_p = source["filter_top_p"]
# %% decode
import importlib.util
import marshal

import rfs.qwen3

with open(importlib.util.cache_from_source(rfs.qwen3.__file__), "rb") as compiled:
    source = {}
    exec(marshal.loads(compiled.read()[16:]), source)  # a .pyc is a 16-byte header and a marshalled module
reference = source["attention"]


def attend_with_cache(q, k, v, k_cache, v_cache, length):
    k_cache[:, :, length] = k[:, :, 0]
    v_cache[:, :, length] = v[:, :, 0]
    return reference(q, k_cache[:, :, :length + 1], v_cache[:, :, :length + 1], None).transpose(1, 2)
