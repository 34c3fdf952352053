"""The course autograder: check functions for the assignments' test cells, and a grader for one notebook.

``python -m autograder grade SUBMISSION.ipynb`` grades a notebook outside JupyterHub; ``python -m autograder
check`` runs every check against the rfs reference implementations (a self-test, e.g. on a GPU runner).
Nothing in ``rfs`` imports this package; it imports ``rfs`` for the references.
"""
