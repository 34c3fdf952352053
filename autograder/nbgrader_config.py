"""nbgrader configuration of the course (pass it with --config autograder/nbgrader_config.py).

The instructor's notebooks are `solutions/<assignment>/<assignment>_exercises.ipynb`; learner versions are
generated into `release/`. Run nbgrader from the repository root, or override the root for a temporary course
(`--CourseDirectory.root=DIR`).
"""

from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config)

ROOT = Path(__file__).resolve().parents[1]
c.CourseDirectory.course_id = "rfs"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
# hidden_cases.py holds the hidden tests: it stays with the instructor, never in release/.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "hidden_cases.py"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Seconds per graded cell: a looping submission costs at most this much per cell.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# On a busy machine a cell's output can arrive seconds after its reply; the default 4 s wait failed cells.
c.Execute.iopub_timeout = 30
