"""The autograder: a full nbgrader round trip, and `python -m autograder grade` on hostile submissions."""

import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from test_assignments import ROOT, make_course, nbgrader

from autograder.grade import assemble, imported_references

SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.DOTALL)


def submission(release: Path, source: Path, bodies: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The learner copy with its solution cells filled: the instructor's code, or ``bodies[part]`` instead."""
    learner = nbformat.read(release, as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in learner.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in solutions:
            part = grade_id.rsplit("_", 1)[0]
            code = SOLUTION.sub(lambda m: m.group(1), solutions[grade_id])
            cell.source = bodies[part] if bodies and part in bodies else code
    return learner


def body(signature: str, statement: str) -> str:
    return f"{signature}\n    {statement}\n"


CH03 = {"extract": "def extract_boxed(text):", "normalize": "def normalize(answer):",
        "grade": "def grade(output, reference):"}


def test_nbgrader_round_trip(tmp_path):
    course = make_course(tmp_path, ["ch03"], timeout=10)
    assert nbgrader("generate_assignment", "ch03", "--force", cwd=course).returncode == 0
    release, source = course / "release/ch03/ch03_exercises.ipynb", course / "solutions/ch03/ch03_exercises.ipynb"
    students = {
        "correct": submission(release, source),
        "wrong": submission(release, source, {p: body(s, "return None") for p, s in CH03.items()}),
        "raising": submission(release, source, {p: body(s, "raise ValueError('oops')") for p, s in CH03.items()}),
        "looping": submission(release, source, {p: body(s, "while True: pass") for p, s in CH03.items()}),
    }
    for name, notebook in students.items():
        folder = course / "submitted" / name / "ch03"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "ch03_exercises.ipynb")
    start = time.perf_counter()
    done = nbgrader("autograde", "ch03", "--create", "--force", cwd=course, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.perf_counter() - start < 300
    assert nbgrader("export", cwd=course).returncode == 0
    scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(course / "grades.csv"))}
    assert scores == {"correct": 10.0, "wrong": 0.0, "raising": 0.0, "looping": 0.0}


def grade(path: Path, *extra: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--cell-timeout", "8",
                           "--timeout", "240", *extra], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_grade_correct_and_hostile_submissions(tmp_path):
    release = ROOT / "book/assignments/ch03/ch03_exercises.ipynb"
    source = ROOT / "solutions/ch03/ch03_exercises.ipynb"
    good = tmp_path / "ch03_good.ipynb"
    nbformat.write(submission(release, source), good)
    report = grade(good)
    assert (report["points"], report["max_points"]) == (10, 10)

    bad = submission(release, source, {
        "normalize": "from rfs.verify import normalize_answer as normalize\n",
        "grade": body(CH03["grade"], "while True: print('spam ' * 100)"),
    })
    for cell in bad.cells:  # edit the locked test cell of the extraction part
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "extract_tests":
            cell.source = "pass"
    bad_path = tmp_path / "ch03_bad.ipynb"
    nbformat.write(bad, bad_path)
    start = time.perf_counter()
    report = grade(bad_path)
    assert time.perf_counter() - start < 120
    parts = {p["part"]: p for p in report["parts"]}
    assert report["points"] == 0
    assert "edited" in parts["extract"]["message"] and "reference" in parts["normalize"]["message"]
    assert parts["grade"]["points"] == 0


def test_corrupt_notebook_gets_a_report_not_a_crash(tmp_path):
    broken = tmp_path / "ch03_broken.ipynb"
    broken.write_text("{ this is not json")
    report = grade(broken)
    assert report["points"] == 0 and "cannot read" in report["error"]


def test_deleted_test_cells_and_imports_score_zero_before_running():
    source = nbformat.read(ROOT / "solutions/ch02/ch02_exercises.ipynb", as_version=4)
    learner = nbformat.read(ROOT / "book/assignments/ch02/ch02_exercises.ipynb", as_version=4)
    learner.cells = [c for c in learner.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "top_p_tests"]
    _, zero = assemble(source, learner)
    assert zero == {"top_p": "the test cell was deleted"}
    assert imported_references("from rfs.qwen3 import rms_norm as f", "rms_norm") == ["rms_norm"]
    assert imported_references("import rfs\nrfs.generate.filter_top_p(x, 0.9)", "top_p") == ["filter_top_p"]
    assert imported_references("from rfs.qwen3 import KVCache", "decode") == []


def grade_parts(tmp_path: Path, chapter: str, bodies: dict[str, str]) -> tuple[dict, dict[str, dict]]:
    """Grade the solution of ``chapter`` with ``bodies`` in place of some parts: the report, and its parts by name."""
    release = ROOT / f"book/assignments/{chapter}/{chapter}_exercises.ipynb"
    source = ROOT / f"solutions/{chapter}/{chapter}_exercises.ipynb"
    path = tmp_path / f"{chapter}_exercises.ipynb"
    nbformat.write(submission(release, source, bodies), path)
    report = grade(path)
    return report, {p["part"]: p for p in report["parts"]}


def test_grade_ch04_catches_the_reference_imported_or_called(tmp_path):
    report, parts = grade_parts(tmp_path, "ch04", {
        "majority_vote": "from rfs.scaling import majority_vote\n",
        "pass_at_k": body("from rfs import scaling\n\n\ndef pass_at_k(n, c, k):", "return scaling.pass_at_k(n, c, k)"),
    })
    assert (report["points"], report["max_points"]) == (2, 10)
    assert "imports the reference" in parts["majority_vote"]["message"]
    assert "calls rfs's pass_at_k" in parts["pass_at_k"]["message"]  # caught at run time
    assert parts["best_of_n"]["message"] == "ok"


def test_grade_ch05_catches_a_reference_constant_read_at_run_time(tmp_path):
    report, parts = grade_parts(tmp_path, "ch05", {  # the claims regex of rfs.refine, reached through the module
        "find_claims": body("from rfs import refine\n\n\ndef find_claims(text):",
                            "return [(f'{m[1]} {m[2]} {m[3]}', m[4], m.start(4), m.end(4)) "
                            "for m in refine.CLAIM.finditer(text)]"),
    })
    assert (report["points"], report["max_points"]) == (3, 10)
    assert "calls rfs's CLAIM" in parts["find_claims"]["message"]
    assert parts["revision_prefix"]["message"] == "ok"
    assert "calls rfs's CLAIM" in parts["refine_round"]["message"]  # the round uses that find_claims
