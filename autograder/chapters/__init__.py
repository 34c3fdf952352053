"""One module per assignment, each a table of its graded parts (``PARTS``): adding a chapter's checks means
adding a module here and its hidden cases in ``solutions/<chapter>/hidden_cases.py``."""
