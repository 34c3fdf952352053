"""Every lesson runs when its MODEL switch names a real Qwen3 model, not a pocket one (the mechanics, on a CPU).

The stand-in for real Qwen3 is a checkpoint that transformers writes in the hub's layout, with no ``rfs_kind`` in
its ``config.json``, so rfs treats it as real Qwen3 (``rfs.hub.model_kind``): the book's boxed-answer prompts,
2,048-token budgets, the prompt critic of chapter 5, MATH-500 and MATH from the hub. Its weights are the pocket
models' (so the same tokenizer, and 1.7M parameters): random weights never earn a reward, and chapter 6's
trainer stops on a first step without one, as it should. MATH-500 and MATH's training split come from a stub
Hugging Face cache that holds pocket-math problems in MATH's layout. The lessons read the model from
``RFS_LESSON_MODEL`` (``RFS_LESSON_REASONING_MODEL``), and ``RFS_LESSON_QUICK=1`` shrinks their problem counts,
token budgets and training steps (``rfs.lesson.per_kind``); ``TORCHDYNAMO_DISABLE=1`` turns chapter 2's
``torch.compile`` into a no-op, which would otherwise take most of a minute.
"""

import json
import resource
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from rfs.datasets import MATH500_FILE, MATH500_REPO, MATH_TRAIN_FILE, MATH_TRAIN_REPO
from rfs.hub import MODELS, load_model, model_dir, to_checkpoint_names
from rfs.pocket import data as pocket_data

transformers = pytest.importorskip("transformers", reason="transformers writes the checkpoint (pip install -e .[dev])")
pyarrow = pytest.importorskip("pyarrow", reason="MATH's training split is parquet (pip install pyarrow)")
parquet = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
BASE, REASONING = "RFS_LESSON_MODEL", "RFS_LESSON_REASONING_MODEL"

# The lessons, and which switches each reads. Chapter 8's teacher stays pocket-reasoning: distillation keeps only
# the teacher's right answers, and with the book's chat prompt the pocket weights get almost none right.
LESSONS = {
    "ch02_generating_text": (BASE,),
    "ch03_evaluating_reasoning": (BASE, REASONING),
    "ch04_inference_time_scaling": (BASE,),
    "ch05_self_refinement": (BASE,),
    "ch06_reinforcement_learning": (BASE,),
    "ch07_grpo_variants": (BASE,),
    "ch08_distillation": (BASE,),
    "appendix_c_qwen3_source": (BASE,),
    "appendix_d_larger_models": (BASE,),
    "appendix_e_batching": (BASE,),
    "appendix_f_evaluation_methods": (BASE, REASONING),
    "appendix_g_chat_interface": (REASONING,),
}


def write_real_layout(pocket_name: str, folder: Path) -> Path:
    """The weights of a pocket model saved by transformers as a hub checkpoint, without rfs_kind."""
    model = load_model(pocket_name, device="cpu", dtype=torch.float32)
    hf_dict = model.config.to_hf_dict() | {"max_position_embeddings": 40_960}  # Qwen3's, as on the hub
    hf_config = transformers.Qwen3Config(**{k: v for k, v in hf_dict.items() if k != "architectures"})
    hf_model = transformers.Qwen3ForCausalLM(hf_config)
    hf_model.load_state_dict(to_checkpoint_names(model.state_dict(), model.config))
    hf_model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_bytes((model_dir(pocket_name) / "tokenizer.json").read_bytes())
    assert "rfs_kind" not in json.loads((folder / "config.json").read_text())
    return folder


def fill_dataset_cache(cache: Path, repo: str, filename: str, write) -> None:
    """Lay out one file of a hub dataset as huggingface_hub's cache does (snapshots/<commit>/, refs/main)."""
    repo_dir = cache / ("datasets--" + repo.replace("/", "--"))
    path = repo_dir / "snapshots" / COMMIT / filename
    path.parent.mkdir(parents=True)
    write(path)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)


@pytest.fixture(scope="module")
def real_qwen3(tmp_path_factory) -> dict[str, str]:
    """The environment of a lesson run on the real-layout checkpoints, with MATH in a stub hub cache."""
    if not (MODELS["pocket-base"]["path"] / "config.json").is_file():
        pytest.skip("the pocket models are not built (rfs pocket train --preset base)")
    root = tmp_path_factory.mktemp("real-qwen3")
    cache = root / "hub"
    math500 = pocket_data.test_records()[:100]
    fill_dataset_cache(cache, MATH500_REPO, MATH500_FILE,
                       lambda path: path.write_text("".join(json.dumps(r) + "\n" for r in math500)))
    table = pyarrow.Table.from_pylist(pocket_data.train_records(600))
    fill_dataset_cache(cache, MATH_TRAIN_REPO, MATH_TRAIN_FILE, lambda path: parquet.write_table(table, path))
    return {BASE: str(write_real_layout("pocket-base", root / "base")),
            REASONING: str(write_real_layout("pocket-reasoning", root / "reasoning")),
            "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "RFS_LESSON_QUICK": "1", "TORCHDYNAMO_DISABLE": "1",
            "OMP_NUM_THREADS": "1"}  # one thread per kernel: `pytest -n 2` runs two lessons at once


# Run after the lesson in its kernel: the lesson took its model from the switch, and that model is real Qwen3.
CHECK_SWITCH = """
import os
from rfs.hub import load_tokenizer
names = [v for v in globals().values() if isinstance(v, str)]
for variable in {variables!r}:
    assert os.environ[variable] in names, f"the lesson does not read {{variable}}"
    assert load_tokenizer(os.environ[variable]).kind == "qwen3"
"""


@pytest.mark.slow  # about 10 s per lesson: a kernel, torch, and a few generations
@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_on_a_real_qwen3_checkpoint(lesson, real_qwen3, monkeypatch):
    variables = LESSONS[lesson]
    for name, value in real_qwen3.items():
        if name not in (BASE, REASONING) or name in variables:
            monkeypatch.setenv(name, value)
    notebook = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_SWITCH.format(variables=variables)))
    start, kernels_cpu = time.perf_counter(), kernel_seconds()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "lessons")}}).execute()
    print(f"{lesson} ran on the real-layout checkpoint in {time.perf_counter() - start:.1f} s "
          f"({kernel_seconds() - kernels_cpu:.1f} s of its kernel's CPU time)")


def kernel_seconds() -> float:
    """CPU seconds of the finished child processes so far (a lesson's kernel counts once it has stopped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
