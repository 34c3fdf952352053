"""Grading a whole course (``python -m autograder batch SUBMITTED --gradebook gradebook.db``).

Every notebook in nbgrader's layout (``submitted/<student>/<assignment>/<notebook>.ipynb``) is graded like a
single notebook, in its own fenced kernel; the scores go into nbgrader's gradebook through its own API (so
``nbgrader export`` and formgrader work as after ``nbgrader autograde``), and every part's score and message
into a CSV report. A submission that cannot be graded gets zero with the reason; the batch always goes on.
The learners' folders and the gradebook are hidden from every learner's kernel.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.assignments import ASSIGNMENTS
from autograder.grade import grade_notebook
from autograder.kernel import Limits


def submissions(submitted: Path, only: list[str] | None) -> list[tuple[str, str, Path]]:
    """(student, assignment, notebook) for every submitted notebook of a known assignment, sorted."""
    found = []
    for notebook in sorted(submitted.glob("*/*/*.ipynb")):
        student, assignment = notebook.parent.parent.name, notebook.parent.name
        if assignment in ASSIGNMENTS and (not only or assignment in only):
            found.append((student, assignment, notebook))
    return found


def ensure_assignment(gradebook: Gradebook, assignment: str) -> str:
    """The assignment, its notebook and its graded cells in the gradebook (as generate_assignment makes them);
    returns the notebook's name."""
    notebook = f"{assignment}_exercises"
    gradebook.update_or_create_assignment(assignment)
    try:
        gradebook.find_notebook(notebook, assignment)
    except MissingEntry:
        gradebook.add_notebook(notebook, assignment)
    for part in ASSIGNMENTS[assignment]:
        gradebook.update_or_create_grade_cell(part.grade_id, notebook, assignment, max_score=part.points,
                                              cell_type="code")
    return notebook


def record(gradebook: Gradebook, student: str, assignment: str, report: dict) -> None:
    """Write a report's points into the gradebook as the autograder's scores of the student's submission."""
    notebook = ensure_assignment(gradebook, assignment)
    gradebook.update_or_create_student(student)
    try:
        gradebook.find_submission(assignment, student)
    except MissingEntry:
        gradebook.add_submission(assignment, student)
    points = {f"{part['part']}_tests": part["points"] for part in report["parts"]}
    for part in ASSIGNMENTS[assignment]:
        grade = gradebook.find_grade(part.grade_id, notebook, assignment, student)
        grade.auto_score = float(points.get(part.grade_id, 0))
        grade.needs_manual_grade = False
    gradebook.db.commit()


def failed_report(notebook: Path, assignment: str, reason: str) -> dict:
    """A zero report for a submission the grader could not grade."""
    parts = [{"part": p.name, "points": 0, "max_points": p.points, "message": reason} for p in ASSIGNMENTS[assignment]]
    return {"notebook": str(notebook), "assignment": assignment, "parts": parts, "points": 0,
            "max_points": sum(p.points for p in ASSIGNMENTS[assignment]), "error": reason}


def grade_course(submitted: str | Path, gradebook_path: str | Path, report_path: str | Path,
                 only: list[str] | None = None, solutions: str | Path | None = None, device: str | None = None,
                 limits: Limits | None = None, timeout: float = 600) -> str:
    """Grade every submission, record it, write the CSV report; a one-line summary."""
    submitted, gradebook_path = Path(submitted).resolve(), Path(gradebook_path).resolve()
    if not submitted.is_dir():
        raise FileNotFoundError(f"no folder {submitted}: pass nbgrader's submitted/ folder")
    found = submissions(submitted, only)
    hide = [str(submitted), str(gradebook_path), str(Path(report_path).resolve())]
    rows = []
    # nbgrader makes a new gradebook by running the `alembic` command: the one beside this Python, if not on PATH.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with Gradebook(f"sqlite:///{gradebook_path}") as gradebook:
        for student, assignment, notebook in found:
            try:
                report = grade_notebook(notebook, assignment, solutions=solutions, device=device,
                                        limits=limits, timeout=timeout, hide=hide)
            except Exception as error:  # a submission the grader cannot handle costs that submission only
                report = failed_report(notebook, assignment, f"could not be graded: {type(error).__name__}: {error}")
            record(gradebook, student, assignment, report)
            print(f"{student} {assignment}: {report['points']}/{report['max_points']}", flush=True)
            rows += [{"student": student, "assignment": assignment, "part": p["part"], "points": p["points"],
                      "max_points": p["max_points"], "message": p["message"]} for p in report["parts"]]
    with open(report_path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, ["student", "assignment", "part", "points", "max_points", "message"])
        writer.writeheader()
        writer.writerows(rows)
    return f"graded {len(found)} submissions into {gradebook_path}; every part's message is in {report_path}"
