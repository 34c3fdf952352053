"""How close learners' functions are to rfs's source and to each other (``python -m autograder similarity DIR``).

Copying the library's code is not caught by the traps (the copy is new code), so the instructor gets a report:
every function a learner wrote for an exercise, compared with the rfs references of its part and with the same
function of every other learner. Sources are compared after normalising them (docstrings and comments dropped,
every name replaced by one placeholder), with difflib's ratio over tokens: 1.0 is the same code up to names.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import io
import tokenize
from itertools import combinations
from pathlib import Path

import nbformat

from autograder.assignments import ASSIGNMENTS, recognise


def normalised_tokens(source: str) -> list[str]:
    """The tokens of a function's source with docstrings, comments and the spelling of names removed."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    text = ast.unparse(tree)
    return [("NAME" if t.type == tokenize.NAME and t.string not in KEYWORDS else t.string)
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]


KEYWORDS = set(__import__("keyword").kwlist)


def learner_functions(notebook_path: Path) -> tuple[str | None, dict[str, str]]:
    """The assignment of a notebook and the source of each exercise function it defines (name -> source)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    assignment = recognise(notebook)
    wanted = {f for part in ASSIGNMENTS.get(assignment, []) for f in part.functions}
    found = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in wanted:
                found[node.name] = ast.get_source_segment(cell.source, node)
    return assignment, found


def reference_sources(assignment: str, function: str) -> dict[str, str]:
    """Dotted name -> source of the rfs references of the part that asks for ``function``."""
    sources = {}
    for part in ASSIGNMENTS[assignment]:
        if function in part.functions:
            for dotted in part.references:
                module, name = dotted.rsplit(".", 1)
                target = getattr(importlib.import_module(module), name, None)
                if inspect.isfunction(target) or inspect.isclass(target):
                    sources[dotted] = inspect.getsource(target)
    return sources


def ratio(a: str, b: str) -> float:
    """Similarity of two sources after normalising, from 0 to 1."""
    return difflib.SequenceMatcher(None, normalised_tokens(a), normalised_tokens(b), autojunk=False).ratio()


def similarity_rows(folder: Path) -> list[tuple[float, str, str, str]]:
    """(ratio, function, one notebook, the reference or another notebook), most similar first."""
    notebooks = {path: learner_functions(path) for path in sorted(folder.rglob("*.ipynb"))}
    rows = []
    for path, (assignment, functions) in notebooks.items():
        for name, source in functions.items():
            for dotted, reference in reference_sources(assignment, name).items():
                rows.append((ratio(source, reference), name, str(path), dotted))
    for (a, (assignment_a, fa)), (b, (assignment_b, fb)) in combinations(notebooks.items(), 2):
        if assignment_a == assignment_b:
            rows += [(ratio(fa[name], fb[name]), name, str(a), str(b)) for name in fa.keys() & fb.keys()]
    return sorted(rows, reverse=True)


def print_similarity(folder: str | Path, threshold: float) -> int:
    """Print the rows as tab-separated text, flagging those at or above ``threshold``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    print("similarity\tfunction\tnotebook\tcompared with")
    for value, name, notebook, other in similarity_rows(folder):
        flag = "  <- check" if value >= threshold else ""
        print(f"{value:.2f}\t{name}\t{notebook}\t{other}{flag}")
    return 0
