"""Assignments: learner versions are generated from the instructor's notebooks, fail their tests, and the
committed copies in book/assignments/ are up to date. (nbmake runs the instructor versions, hidden tests too.)"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08", "appendix_c", "appendix_d", "appendix_e",
               "appendix_f"]


def nbgrader(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run nbgrader with the course configuration, from ``cwd`` as course root."""
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {"PATH": bin_dir + os.pathsep + os.environ["PATH"], "JUPYTER_CONFIG_PATH": str(cwd)}
    return subprocess.run([str(Path(bin_dir) / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def make_course(tmp: Path, assignments: list[str], timeout: int = 60) -> Path:
    """A temporary nbgrader course: the instructor notebooks and a config pointing at this folder."""
    for a in assignments:
        shutil.copytree(ROOT / "solutions" / a, tmp / "solutions" / a)
    config = (ROOT / "autograder" / "nbgrader_config.py").read_text()
    config = config.replace("ROOT = Path(__file__).resolve().parents[1]", f"ROOT = Path({str(tmp)!r})")
    config = config.replace("c.Execute.timeout = 60", f"c.Execute.timeout = {timeout}")
    (tmp / "nbgrader_config.py").write_text(config)
    return tmp


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    course = make_course(tmp_path_factory.mktemp("course"), ASSIGNMENTS)
    for a in ASSIGNMENTS:
        done = nbgrader("generate_assignment", a, "--force", cwd=course)
        assert done.returncode == 0, done.stderr
    return course / "release"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_learner_copies_are_up_to_date(released, assignment):
    fresh = nbformat.read(released / assignment / f"{assignment}_exercises.ipynb", as_version=4)
    committed = nbformat.read(ROOT / "book" / "assignments" / assignment / f"{assignment}_exercises.ipynb",
                              as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], \
        "book/assignments is stale: run `make assignments` and commit the result"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_learner_version_has_no_solutions_and_fails_every_test(released, assignment):
    path = released / assignment / f"{assignment}_exercises.ipynb"
    notebook = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in notebook.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert text.count("raise NotImplementedError()") >= 3
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3", iopub_timeout=30,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    # Each test cell fails because the stub raises (a check may report it inside its own AssertionError).
    assert graded and all(any(o.get("output_type") == "error" and "NotImplementedError" in o.get("ename", "") +
                              o.get("evalue", "") for o in c.outputs) for c in graded)
