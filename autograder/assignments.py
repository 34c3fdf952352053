"""Which assignments exist, how to recognise one from a notebook, and where its hidden cases are.

``ASSIGNMENTS`` maps an assignment's name to its table of parts. Hidden cases are not part of the package a
learner installs: they live in the repository, ``solutions/<name>/hidden_cases.py``, which only the instructor's
grader reads (``--solutions DIR``, by default the ``solutions/`` folder beside this package when there is one).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from autograder.chapters import appendix_c, appendix_d, appendix_e, appendix_f, ch02, ch03, ch04, ch05, ch06, ch07, ch08
from autograder.part import Case, Part

ASSIGNMENTS: dict[str, list[Part]] = {
    "ch02": ch02.PARTS,
    "ch03": ch03.PARTS,
    "ch04": ch04.PARTS,
    "ch05": ch05.PARTS,
    "ch06": ch06.PARTS,
    "ch07": ch07.PARTS,
    "ch08": ch08.PARTS,
    "appendix_c": appendix_c.PARTS,
    "appendix_d": appendix_d.PARTS,
    "appendix_e": appendix_e.PARTS,
    "appendix_f": appendix_f.PARTS,
}
REPOSITORY_SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
# Locked cells of the instructor's notebooks that grading skips: a demo that loads a model and grades nothing.
NOT_GRADED = {"try_it", "colab_install"}


def grade_ids(notebook) -> set[str]:
    """The nbgrader grade ids of a notebook's cells."""
    return {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in notebook.cells} - {None}


def recognise(notebook) -> str | None:
    """The assignment whose test cells the notebook holds most of (at least one), from nbgrader metadata."""
    ids = grade_ids(notebook)
    counts = {name: sum(part.grade_id in ids for part in parts) for name, parts in ASSIGNMENTS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def hidden_cases_file(assignment: str, solutions: Path | None = None) -> Path | None:
    """The hidden cases' file of an assignment, if this machine has it."""
    path = (solutions or REPOSITORY_SOLUTIONS) / assignment / "hidden_cases.py"
    return path if path.is_file() else None


def hidden_cases(assignment: str, solutions: Path | None = None) -> dict[str, list[Case]] | None:
    """Part name -> hidden cases, read from the instructor's solutions folder; None where it is absent."""
    path = hidden_cases_file(assignment, solutions)
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location(f"hidden_cases_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HIDDEN
