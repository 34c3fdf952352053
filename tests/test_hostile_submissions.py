"""Hostile submissions (tests/data/hostile): every part gets exactly its expected score, graded alone with
``python -m autograder grade`` and together with ``python -m autograder batch`` into an nbgrader gradebook.

Slow: each notebook starts a fenced kernel (a few seconds) and some parts kill it on purpose (a restart each).
"""

import csv
import importlib.util
import json
import py_compile
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grade import grade_notebook
from autograder.kernel import Limits, namespaces_available

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "data" / "hostile"
SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.DOTALL)
LIMITS = dict(part_seconds=8, cell_seconds=20)

# notebook -> part -> points; every part not listed in a hostile file keeps the instructor's solution.
EXPECTED = {
    "ch03_forge": {"extract": 0, "normalize": 0, "grade": 0},
    "ch02_references": {"rms_norm": 0, "rope": 0, "top_p": 3, "decode": 4},
    "ch04_processes": {"majority_vote": 0, "pass_at_k": 0, "best_of_n": 2},
    "ch05_floods": {"find_claims": 3, "revision_prefix": 0, "refine_round": 0},
    "ch03_subtle": {"extract": 0, "normalize": 0, "grade": 0},
    "ch02_subtle": {"rms_norm": 0, "rope": 3, "top_p": 0, "decode": 4},
    "ch05_subtle": {"find_claims": 0, "revision_prefix": 3, "refine_round": 0},
    "ch02_rebuild": {"rms_norm": 0, "rope": 0, "top_p": 0, "decode": 0},
    "ch02_outside": {"rms_norm": 0, "rope": 0, "top_p": 0, "decode": 0},
    "ch06_subtle": {"group_advantages": 0, "sequence_logprobs": 0, "chapter6_loss": 3},
    "ch06_detach": {"group_advantages": 3, "sequence_logprobs": 4, "chapter6_loss": 0},
    "ch07_subtle": {"clipped": 0, "kl": 2, "gspo": 0},
    "ch08_subtle": {"sft_loss": 0, "packing": 3, "trace_filter": 0},
    "ch08_packing": {"sft_loss": 4, "packing": 0, "trace_filter": 3},
    "appendix_c_subtle": {"feed_forward": 2, "self_attention": 5, "block": 0},
    "appendix_d_subtle": {"weight_bytes": 4, "kv_cache": 0, "training": 0},
    "appendix_e_subtle": {"left_pad": 3, "positions": 0, "attention_mask": 0},
    "appendix_f_subtle": {"bradley_terry": 0, "scores": 3, "parse_choice": 0},
    "ch03_native": {"extract": 0, "normalize": 3, "grade": 0},  # the instructor's grade() calls extract_boxed
}
REFUSED = "is not allowed during grading"
# What each failing part's message must say (a fragment).
MESSAGES = {
    ("ch03_forge", "extract"): "expected '42', got None",
    ("ch03_forge", "normalize"): "not plain data",
    ("ch03_forge", "grade"): "expected False, got True",
    ("ch02_references", "rms_norm"): "hidden case 'rms_norm on a torch.float32 tensor of shape (3, 16), eps=0.5'",
    ("ch02_references", "rope"): "calls rfs.qwen3.apply_rope",
    ("ch04_processes", "majority_vote"): "part's time limit of 8 s",
    ("ch04_processes", "pass_at_k"): "the kernel died during pass_at_k",
    ("ch05_floods", "revision_prefix"): "printed more than 1,000,000 bytes",
    ("ch05_floods", "refine_round"): "bytes of data",
    ("ch03_subtle", "extract"): "no fallback to the last word",
    ("ch03_subtle", "normalize"): "a tuple keeps its commas",
    ("ch03_subtle", "grade"): "no tolerance",
    ("ch02_subtle", "rms_norm"): "weight 1",
    ("ch02_subtle", "top_p"): "hidden case",
    ("ch05_subtle", "find_claims"): "negative second operands",
    ("ch05_subtle", "refine_round"): "a negative second operand",
    ("ch02_rebuild", "rms_norm"): f"qwen3.py' {REFUSED}: rfs's source and compiled files",  # importlib.reload
    ("ch02_rebuild", "rope"): f"qwen3.py' {REFUSED}: rfs's source and compiled files",  # exec(open(__file__))
    ("ch02_rebuild", "top_p"): "OSError: could not get source code",  # inspect.getsource
    ("ch02_rebuild", "decode"): f"qwen3.{sys.implementation.cache_tag}.pyc' {REFUSED}",  # the .pyc, marshal
    ("ch02_outside", "rms_norm"): f"starting a process (subprocess.Popen) {REFUSED}",
    ("ch02_outside", "rope"): f"starting a process (os.system) {REFUSED}",
    ("ch02_outside", "top_p"): f"generate.py' {REFUSED}",  # runpy.run_path
    ("ch02_outside", "decode"): "your solution cell raised",  # hidden by the namespaces, refused without them
    ("ch06_subtle", "group_advantages"): "your result holds NaN",
    ("ch06_subtle", "sequence_logprobs"): "mean: largest difference",
    ("ch06_detach", "chapter6_loss"): "a gradient reaches the advantages",
    ("ch07_subtle", "clipped"): "0.2, 0.28): expected -0.31459, got -0.346695",  # the worked example
    ("ch07_subtle", "gspo"): "hidden case 'very unlikely tokens (log-probabilities near -110)'",
    ("ch08_subtle", "sft_loss"): "expected a loss of",
    ("ch08_subtle", "trace_filter"): "hidden case 'exactly at the token limit'",
    ("ch08_packing", "packing"): "positions: expected [0, 1, 2, 0, 1, 0], got [0, 1, 2, 3, 4, 5]",
    ("appendix_c_subtle", "block"): "largest difference from the expected values",
    ("appendix_d_subtle", "kv_cache"): "expected 114688, got 229376",
    ("appendix_d_subtle", "training"): "'AdamW moments': 2384199680}",
    ("appendix_e_subtle", "positions"): "positions[1]: expected [0, 0, 1], got [0, 1, 2]",
    ("appendix_e_subtle", "attention_mask"): "mask[0, 0, 0]: expected [1, 0, 0], got [1, 1, 1]",
    ("appendix_f_subtle", "bradley_terry"): "player 'a': expected 1044.3697, got 1060.2060",
    ("appendix_f_subtle", "parse_choice"): "hidden case 'the last stated letter'",
    ("ch03_native", "extract"): "raised KeyError: 'extract_boxed'",  # torch.from_file read the empty cover
}


def assignment_of(name: str) -> str:
    """The assignment of a hostile file: its name without the last ``_word`` (``appendix_c_subtle``: appendix_c)."""
    return name.rsplit("_", 1)[0]


def sections(path: Path) -> list[tuple[str, str]]:
    """The ``# %% NAME`` sections of a hostile file, in order: (name, code)."""
    found = []
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("# %% "):
            found.append((line[5:].strip(), ""))
        elif found:
            found[-1] = (found[-1][0], found[-1][1] + line)
    return found


def solved(chapter: str, bodies: dict[str, str], added: list[str]) -> nbformat.NotebookNode:
    """The learner copy of ``chapter`` with the instructor's solutions, ``bodies[part]`` in place of some parts'
    solution cells, and ``added`` cells after the setup cells."""
    learner = nbformat.read(ROOT / f"book/assignments/{chapter}/{chapter}_exercises.ipynb", as_version=4)
    source = nbformat.read(ROOT / f"solutions/{chapter}/{chapter}_exercises.ipynb", as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: SOLUTION.sub(lambda m: m.group(1), c.source)
                 for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in learner.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in solutions:
            part = grade_id.rsplit("_", 1)[0]
            cell.source = bodies.get(part, solutions[grade_id])
    setup = [i for i, c in enumerate(learner.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "imports"]
    learner.cells[setup[0] + 1:setup[0] + 1] = [nbformat.v4.new_code_cell(code) for code in added]
    return learner


def hostile_notebook(name: str, targets: list[str]) -> nbformat.NotebookNode:
    """The notebook of hostile file ``name``; ``targets`` are files a left-behind process tries to overwrite."""
    bodies, added = {}, []
    for section, code in sections(HOSTILE / f"{name}.py"):
        code = code.replace("{TARGETS}", repr(targets))
        if section == "added":
            added.append(code)
        else:
            bodies[section] = code
    return solved(assignment_of(name), bodies, added)


@pytest.fixture(scope="module", autouse=True)
def compiled_qwen3():
    """The .pyc of rfs/qwen3.py that an installed rfs has beside it, for the submission that reads it."""
    source = ROOT / "rfs" / "qwen3.py"
    compiled = Path(importlib.util.cache_from_source(str(source)))
    made = not compiled.exists()
    if made:
        py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    yield
    if made:
        compiled.unlink(missing_ok=True)  # another test process may have removed it first


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """nbgrader's layout: submitted/<student>/<assignment>/<assignment>_exercises.ipynb, one student per file."""
    root = tmp_path_factory.mktemp("course")
    for name in EXPECTED:
        chapter = assignment_of(name)
        folder = root / "submitted" / name / chapter
        folder.mkdir(parents=True)
        targets = [str(root / "gradebook.db"), str(root / "tampered.txt")]
        nbformat.write(hostile_notebook(name, targets), folder / f"{chapter}_exercises.ipynb")
    return root


def assert_scores(name: str, parts: dict[str, dict]) -> None:
    """Every part of notebook ``name`` scored as expected, with the expected message."""
    assert {part: p["points"] for part, p in parts.items()} == EXPECTED[name], \
        {part: p["message"] for part, p in parts.items()}
    for part, points in EXPECTED[name].items():
        if (name, part) in MESSAGES:
            assert MESSAGES[name, part] in parts[part]["message"], parts[part]["message"]
        if points:
            assert parts[part]["message"] == "ok"


@pytest.mark.slow
@pytest.mark.skipif(not namespaces_available(), reason="the learner's kernel needs Linux user namespaces here")
@pytest.mark.parametrize("name", list(EXPECTED))
def test_single_notebook_scores(course, name):
    chapter = assignment_of(name)
    notebook = course / "submitted" / name / chapter / f"{chapter}_exercises.ipynb"
    report = grade_notebook(notebook, limits=Limits(**LIMITS), timeout=300)
    assert_scores(name, {p["part"]: p for p in report["parts"]})
    if name == "ch04_processes":
        time.sleep(7)  # the process it left behind would have written by now
        assert not (course / "tampered.txt").exists()


@pytest.mark.slow
@pytest.mark.skipif(not namespaces_available(), reason="the learner's kernel needs Linux user namespaces here")
def test_batch_scores_into_the_gradebook(course):
    report = course / "report.csv"
    done = subprocess.run([sys.executable, "-m", "autograder", "batch", str(course / "submitted"), "--gradebook",
                           str(course / "gradebook.db"), "--report", str(report), "--part-timeout", "8",
                           "--cell-timeout", "20", "--timeout", "300"], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    time.sleep(7)  # the left-behind process would have overwritten the gradebook by now
    rows = list(csv.DictReader(open(report)))
    for name in EXPECTED:
        assert_scores(name, {r["part"]: {"points": int(r["points"]), "message": r["message"]}
                             for r in rows if r["student"] == name})
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for name, parts in EXPECTED.items():
            submission = gradebook.find_submission(assignment_of(name), name)
            assert submission.score == sum(parts.values())
    assert not (course / "tampered.txt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["ch03", "ch06", "ch07", "ch08"])
def test_a_correct_notebook_is_graded_in_under_a_minute(tmp_path, chapter):
    path = tmp_path / "my_notebook.ipynb"  # renamed: the assignment is recognised from the cells
    nbformat.write(solved(chapter, {}, []), path)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    report = json.loads(done.stdout)
    assert (report["assignment"], report["points"], report["max_points"]) == (chapter, 10, 10), report
    assert report["hidden_tests"] is True
    assert report["seconds"] < 60  # from reading the notebook to the report (Python's own start not counted)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ch04_processes", "ch02_outside"])
def test_without_namespaces_parts_are_still_graded_on_their_own(tmp_path, monkeypatch, name):
    """Where unshare is missing (macOS, some containers) the kernel runs unfenced but limits and restarts hold,
    and the audit hook refuses what the namespaces would have hidden: the instructor's notebook."""
    monkeypatch.setattr("autograder.kernel.namespaces_available", lambda: False)
    chapter = name.split("_")[0]
    path = tmp_path / chapter / f"{chapter}_exercises.ipynb"
    path.parent.mkdir()
    nbformat.write(hostile_notebook(name, [str(tmp_path / "tampered.txt")]), path)
    report = grade_notebook(path, limits=Limits(**LIMITS), timeout=300)
    parts = {p["part"]: p for p in report["parts"]}
    assert_scores(name, parts)
    if name == "ch02_outside":
        assert f"ch02_exercises.ipynb' {REFUSED}: it is in one of the instructor's" in parts["decode"]["message"]
    assert not (tmp_path / "tampered.txt").exists()
