"""Grading one submitted notebook outside JupyterHub (``python -m autograder grade SUBMISSION.ipynb``).

The grader trusts nothing in the submission but its solution cells:

1. It rebuilds the notebook from the instructor's version, putting in only the learner's solution cells, so
   every test cell (hidden tests included) is the instructor's own. A test cell that the submission deleted or
   edited scores zero for its part.
2. A solution cell that imports the reference implementation it should replace scores zero for its part; the
   check functions also trip if the reference is called at run time.
3. The notebook runs in a separate process with a per-cell and a total time limit and capped output; a cell
   that raises or loops fails its own part only. Whatever happens, the grader prints a report.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.checks import REFERENCES

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
OUTPUT_CAP = 20_000  # characters of output kept per stream; more is dropped

# Injected first cell: caps stdout/stderr so a printing loop cannot flood memory.
CAP_OUTPUT = f'''
import sys as _sys


class _CappedStream:
    def __init__(self, stream, limit):
        self.stream, self.left = stream, limit

    def write(self, text):
        if self.left > 0:
            self.stream.write(text[: self.left])
            self.left -= len(text)
            if self.left <= 0:
                self.stream.write("\\n[output truncated by the grader]\\n")
        return len(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


_sys.stdout, _sys.stderr = _CappedStream(_sys.stdout, {OUTPUT_CAP}), _CappedStream(_sys.stderr, {OUTPUT_CAP})
'''


def nbgrader_id(cell) -> str | None:
    """The nbgrader grade_id of a cell, if any."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def source_for(submission_nb, submission_path: Path) -> Path:
    """The instructor's notebook for a submission: ``solutions/<name>/<name>.ipynb`` by the assignment's name."""
    match = re.search(r"(ch\d\d)", submission_path.name)
    if not match:
        raise FileNotFoundError(f"cannot tell the assignment of {submission_path.name}; pass --source")
    return SOLUTIONS / match.group(1) / f"{match.group(1)}_exercises.ipynb"


def imported_references(code: str, part: str) -> list[str]:
    """Names of ``part``'s reference implementations that ``code`` imports or reaches through ``rfs``."""
    forbidden = {name for _, name in REFERENCES.get(part, [])}
    found = set()
    for names in re.findall(r"from\s+rfs[\w.]*\s+import\s+\(?([\w\s,]+)\)?", code):
        found |= {n.split(" as ")[0].strip() for n in names.split(",")} & forbidden
    found |= set(re.findall(r"rfs[\w.]*\.(\w+)", code)) & forbidden
    return sorted(found)


def assemble(source_nb, submission_nb) -> tuple[object, dict[str, str]]:
    """The notebook to run: the instructor's cells with the learner's solution cells in place.

    Returns it with a dict part -> reason for parts that score zero before running (tampering, imports).
    """
    submitted = {nbgrader_id(c): c for c in submission_nb.cells if nbgrader_id(c)}
    zero: dict[str, str] = {}
    cells = [nbformat.v4.new_code_cell(CAP_OUTPUT)]
    for cell in source_nb.cells:
        grade_id = nbgrader_id(cell)
        info = cell.metadata.get("nbgrader", {})
        part = (grade_id or "").rsplit("_", 1)[0]
        if info.get("solution"):
            mine = submitted.get(grade_id)
            code = mine.source if mine is not None else ""
            if names := imported_references(code, part):
                zero[part] = f"imports the reference implementation ({', '.join(names)}): write your own"
            cells.append(nbformat.v4.new_code_cell(code))
        elif info.get("grade"):
            mine = submitted.get(grade_id)
            if mine is None:
                zero[part] = "the test cell was deleted"
            elif HIDDEN.sub("", mine.source).strip() != HIDDEN.sub("", cell.source).strip():
                zero[part] = "the locked test cell was edited"
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"grade_id": grade_id}))
        elif cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=source_nb.metadata)
    return notebook, zero


def execute(in_path: str, out_path: str, cell_timeout: float) -> None:
    """Run a notebook, continuing after errors and interrupting cells that exceed ``cell_timeout``."""
    from nbclient import NotebookClient

    notebook = nbformat.read(in_path, as_version=4)
    client = NotebookClient(notebook, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
                            kernel_name="python3", resources={"metadata": {"path": str(Path(in_path).parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(notebook, out_path)


def cell_error(cell) -> str | None:
    """The error a code cell ended with (its last line), or None if it ran cleanly."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}".strip()
    if cell.get("execution_count") is None:
        return "not run (the notebook stopped before this cell)"
    return None


def grade_notebook(submission: str | Path, source: str | Path | None = None, device: str | None = None,
                   timeout: float = 600, cell_timeout: float = 60) -> dict:
    """Grade one notebook; return a report with the points, maximum and message of each part."""
    submission = Path(submission)
    report: dict = {"notebook": str(submission), "parts": [], "points": 0, "max_points": 0}
    try:
        submission_nb = nbformat.read(submission, as_version=4)
    except Exception as error:  # unreadable or not a notebook
        submission_nb, report["error"] = nbformat.v4.new_notebook(), f"cannot read the submission: {error}"
    source = Path(source) if source else source_for(submission_nb, submission)
    source_nb = nbformat.read(source, as_version=4)
    notebook, zero = assemble(source_nb, submission_nb)
    graded = {nbgrader_id(c): c.metadata["nbgrader"]["points"] for c in source_nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    results = run_isolated(notebook, device, timeout, cell_timeout) if "error" not in report else {}
    for grade_id, max_points in graded.items():
        part = grade_id.rsplit("_", 1)[0]
        error = zero.get(part) or results.get(grade_id, "not run (the notebook hit its total time limit)")
        points = 0 if error else max_points
        report["parts"].append({"part": part, "points": points, "max_points": max_points, "message": error or "ok"})
        report["points"] += points
        report["max_points"] += max_points
    return report


def run_isolated(notebook, device: str | None, timeout: float, cell_timeout: float) -> dict[str, str | None]:
    """Execute in a child process (its own session, killed as a group at ``timeout``); error per test cell."""
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp) / "graded.ipynb", Path(tmp) / "graded.out.ipynb"
        nbformat.write(notebook, in_path)
        env = os.environ | ({"RFS_DEVICE": device} if device else {})
        command = [sys.executable, "-m", "autograder", "_execute", str(in_path), str(out_path), str(cell_timeout)]
        process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if not out_path.exists():
            return {}
        executed = nbformat.read(out_path, as_version=4)
    return {c.metadata["grade_id"]: cell_error(c) for c in executed.cells if c.metadata.get("grade_id")}


def print_report(report: dict) -> None:
    """Print a report as JSON."""
    print(json.dumps(report, indent=2))
