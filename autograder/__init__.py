"""The course autograder: the assignments' parts as tables, the learner's visible self-check, and a grader that
runs a learner's code in a fenced kernel and judges it in its own process.

``python -m autograder grade NOTEBOOK`` grades one notebook; ``batch SUBMITTED --gradebook DB`` a whole
nbgrader course; ``similarity DIR`` compares learners' functions with rfs's source and with each other;
``check`` grades the instructor's own notebooks (a self-test, e.g. on a GPU runner). Hidden cases are not in
this package: they are read from the repository's ``solutions/`` on the instructor's machine. Nothing in
``rfs`` imports this package; it imports ``rfs`` for the references.
"""
