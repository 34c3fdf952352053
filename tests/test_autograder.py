"""The autograder's pieces without a kernel (plain data, judges, plans, recognition, similarity, the CLI's
errors), and nbgrader's own round trip. The hostile submissions are in test_hostile_submissions.py."""

import csv
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from test_assignments import ROOT, make_course, nbgrader

from autograder import checks
from autograder.assignments import ASSIGNMENTS, recognise
from autograder.chapters.ch02 import top_p_cases
from autograder.grade import imported_references, plan
from autograder.part import Outcome, verdict
from autograder.plain import NotPlain, Stand, dumps, loads
from autograder.shim import install_traps, remove_traps
from autograder.similarity import ratio

SOURCE = {a: nbformat.read(ROOT / f"solutions/{a}/{a}_exercises.ipynb", as_version=4) for a in ASSIGNMENTS}
LEARNER = {a: nbformat.read(ROOT / f"book/assignments/{a}/{a}_exercises.ipynb", as_version=4) for a in ASSIGNMENTS}


def test_plain_data_round_trips_and_refuses_lookalikes():
    value = [1, 2.5, "a", None, True, (3, "b"), {"k": torch.arange(3)}, Stand("eq")]
    back = loads(dumps(value))
    assert back[:6] == value[:6] and isinstance(back[5], tuple) and back[7] == Stand("eq")
    assert torch.equal(back[6]["k"], torch.arange(3))

    class Anything(str):
        def __eq__(self, other):
            return True

    for hostile in (Anything("x"), [object()], {1: 2}, torch.nn.Parameter(torch.ones(1))):
        with pytest.raises(NotPlain):
            dumps(hostile)
    with pytest.raises(ValueError):
        loads('{"__tensor__": 3}')


def test_top_p_accepts_any_tie_and_says_what_differs():
    [case] = top_p_cases([([[0.0, 0.0, 0.0, 0.0]], 0.3)])
    ninf = float("-inf")
    assert case.judge(Outcome(torch.tensor([[ninf, 0.0, ninf, 0.0]]))) is None  # 2 of 4 tied tokens, any 2
    assert case.judge(Outcome(torch.tensor([[0.0, 0.0, 0.0, ninf]]))) == "row 0: expected to keep 2 tokens, " \
                                                                        "you kept 3"
    [case] = top_p_cases([([[2.0, 1.0, 0.5, -1.0]], 0.7)])
    message = case.judge(Outcome(torch.tensor([[2.0, ninf, 0.5, ninf]])))
    assert message == "row 0: you kept a token of logit 0.5 but dropped one of 1, which is more likely"


def test_hidden_messages_name_the_property_not_the_input():
    [case] = [c for c in __import__("autograder.assignments").assignments.hidden_cases("ch03")["extract"]
              if c.what == "the last of two boxes"]
    message = verdict(case, {"value": "1"}, hidden=True)
    assert message == "hidden case 'the last of two boxes': wrong result"
    assert verdict(case, {"raised": "KeyError", "message": "\\boxed{1} then"}, hidden=True) == \
        "hidden case 'the last of two boxes' raised KeyError"
    visible = verdict(case, {"value": "1"}, hidden=False)
    assert visible == "extract_boxed('\\\\boxed{1} then \\\\boxed{2}'): expected '2', got '1'"


def test_traps_catch_saved_references_and_are_removed():
    import importlib

    from rfs import scaling

    saved = scaling.pass_at_k
    undo = install_traps(["rfs.scaling.pass_at_k", "rfs.refine.CLAIM"])
    try:
        for reach in (saved, importlib.import_module("rfs.scaling").pass_at_k):
            with pytest.raises(RuntimeError, match="calls rfs.scaling.pass_at_k"):
                reach(4, 2, 2)
        with pytest.raises(RuntimeError, match="calls rfs.refine.CLAIM"):
            importlib.import_module("rfs.refine").CLAIM.finditer("1 + 1 = 2")
    finally:
        remove_traps(undo)
    assert saved(4, 2, 2) == pytest.approx(5 / 6)


def test_visible_self_check_runs_without_solutions_and_reports_expected_and_got(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("autograder.assignments.REPOSITORY_SOLUTIONS", tmp_path / "nothing")
    def majority_vote(answers, equal):
        firsts, counts = [], []
        for answer in filter(None, answers):
            i = next((i for i, first in enumerate(firsts) if equal(answer, first)), len(firsts))
            firsts, counts = (firsts, counts) if i < len(firsts) else (firsts + [answer], counts + [0])
            counts[i] += 1
        return firsts[counts.index(max(counts))] if firsts else None

    checks.check_majority_vote(majority_vote)
    with pytest.raises(AssertionError, match=r"majority_vote\(\['7', '8', '7'\], grade_answer\): expected '7', "
                       "got '8'"):
        checks.check_majority_vote(lambda answers, equal: answers[1])
    visible_only = lambda answers, equal: majority_vote(answers, equal) if answers else "?"  # noqa: E731
    checks.check_majority_vote(visible_only)  # no hidden cases on this "learner's machine"
    monkeypatch.chdir(ROOT / "book")  # in the instructor's repository the hidden cases run too
    with pytest.raises(AssertionError, match="hidden case 'no answers': wrong result"):
        checks.check_majority_vote(visible_only)


def test_the_import_check_reads_one_line_at_a_time():
    names = {"rms_norm", "filter_top_p"}
    assert imported_references("from rfs.qwen3 import rms_norm\nx = 1\n", names) == ["rms_norm"]
    assert imported_references("from rfs.qwen3 import (\n    rms_norm,\n)\n", names) == ["rms_norm"]
    assert imported_references("import rfs\nrfs.generate.filter_top_p(x, 0.9)", names) == ["filter_top_p"]
    assert imported_references("from rfs.qwen3 import KVCache\nfilter_top_p = 3", names) == []


def test_plan_keeps_learner_cells_and_restores_locked_ones():
    learner = nbformat.read(ROOT / "book/assignments/ch02/ch02_exercises.ipynb", as_version=4)
    learner.cells.insert(3, nbformat.v4.new_code_cell("import math\nHELPER = 1"))
    for cell in learner.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "imports":
            cell.source = "import torch\nimport os; os.system('cat /etc/passwd')"
        if grade_id == "rope_tests":
            cell.source = "pass"
        if grade_id == "decode_tests":  # as an older release wrote it: other comments are no edit
            cell.source = "check_decode_step(attend_with_cache)  # the visible tests: run this cell to check your work"
    learner.cells = [c for c in learner.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "top_p_tests"]
    result = plan(learner, "ch02", SOURCE["ch02"])
    codes = [c.code for c in result.cells]
    assert "import math\nHELPER = 1" in codes and not any("passwd" in c for c in codes)
    assert not any("check_" in c and "(" in c.split("import")[-1] for c in codes[1:])  # no test cell runs
    assert result.zero == {"rope": "the locked test cell was edited", "top_p": "the test cell was deleted"}


def test_assignments_are_recognised_from_their_cells_and_points_agree_with_the_notebooks():
    for name, notebook in LEARNER.items():
        assert recognise(notebook) == name
        points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in notebook.cells
                  if c.metadata.get("nbgrader", {}).get("grade")}
        assert points == {p.grade_id: p.points for p in ASSIGNMENTS[name]}
    assert recognise(nbformat.v4.new_notebook()) is None


@pytest.mark.slow  # three Python starts that import torch
def test_renamed_or_unknown_notebooks_get_one_line_not_a_traceback(tmp_path):
    renamed, broken = tmp_path / "my_notebook.ipynb", tmp_path / "broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), renamed)
    broken.write_text('{"cells": [')  # cut off while saving
    expected = {renamed: "none of the exercises' test cells); pass --source",
                broken: "(cannot read the submission: Notebook does not appear to be JSON",
                tmp_path / "missing.ipynb": "no notebook at"}
    for target, message in expected.items():
        done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(target)], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_similarity_sees_a_copy_through_renaming():
    import inspect

    from rfs.scaling import pass_at_k

    copy = re.sub(r"\bn\b", "total", inspect.getsource(pass_at_k).replace("pass_at_k", "mine"))
    own = "def mine(n, c, k):\n    if n - c < k:\n        return 1.0\n    p = 1.0\n    for i in range(n - c + 1, " \
          "n + 1):\n        p *= (i - k) / i\n    return 1.0 - p\n"
    assert ratio(copy, inspect.getsource(pass_at_k)) > 0.95
    assert ratio(own, inspect.getsource(pass_at_k)) < 0.8


CH03 = {"extract": "def extract_boxed(text):", "normalize": "def normalize(answer):",
        "grade": "def grade(output, reference):"}


@pytest.mark.slow
def test_nbgrader_round_trip(tmp_path):
    """Plain ``nbgrader autograde`` still works (hidden cases read from the course's solutions/), without the
    isolation of ``python -m autograder batch``."""
    from test_hostile_submissions import solved

    course = make_course(tmp_path, ["ch03"], timeout=30)  # per cell; 10 s failed imports on a busy host
    done = nbgrader("generate_assignment", "ch03", "--force", cwd=course)
    assert done.returncode == 0 and "checksum" not in done.stderr.lower()
    assert not (course / "release/ch03/hidden_cases.py").exists()
    students = {
        "correct": solved("ch03", {}, []),
        "wrong": solved("ch03", {p: f"{s}\n    return None\n" for p, s in CH03.items()}, []),
        "looping": solved("ch03", {p: f"{s}\n    while True: pass\n" for p, s in CH03.items()}, []),
    }
    for name, notebook in students.items():
        folder = course / "submitted" / name / "ch03"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "ch03_exercises.ipynb")
    start = time.perf_counter()
    done = nbgrader("autograde", "ch03", "--create", "--force", cwd=course, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "checksum has changed" not in done.stderr, done.stderr[-2000:]
    assert time.perf_counter() - start < 400  # the looping learner costs 3 cells x 30 s
    assert nbgrader("export", cwd=course).returncode == 0
    scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(course / "grades.csv"))}
    assert scores == {"correct": 10.0, "wrong": 0.0, "looping": 0.0}


def test_hidden_cases_stay_out_of_the_installed_package():
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert all(not p.startswith("solutions") for p in found["include"])
    assert not list(Path(ROOT / "autograder").rglob("hidden*"))


def test_similarity_report_flags_copied_library_code(tmp_path, capsys):
    import inspect

    from test_hostile_submissions import solved

    from autograder.similarity import print_similarity
    from rfs.scaling import pass_at_k

    copied = solved("ch04", {"pass_at_k": inspect.getsource(pass_at_k)}, [])
    for student, notebook in (("copier", copied), ("honest", solved("ch04", {}, []))):
        (tmp_path / student).mkdir()
        nbformat.write(notebook, tmp_path / student / "ch04_exercises.ipynb")
    assert print_similarity(tmp_path, 0.9) == 0
    flagged = [line for line in capsys.readouterr().out.splitlines() if line.endswith("<- check")]
    assert any("copier" in line and "rfs.scaling.pass_at_k" in line for line in flagged)
    assert not any("honest" in line and "rfs." in line for line in flagged)


def test_the_kernel_never_loses_its_own_folders(tmp_path):
    import tempfile

    from autograder.grade import hidden_paths

    solutions = ROOT / "solutions"
    hidden = hidden_paths(solutions, solutions / "ch02/ch02_exercises.ipynb",
                          Path(tempfile.gettempdir()) / "my_notebook.ipynb", [str(tmp_path)])
    assert str(solutions) in hidden and str(tmp_path) in hidden
    assert tempfile.gettempdir() not in hidden and str(ROOT) not in hidden


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_every_reference_a_part_traps_exists_in_rfs(assignment):
    # install_traps skips a name rfs no longer has; a renamed library function must fail here instead of
    # silently leaving the learner free to call it.
    import importlib

    for part in ASSIGNMENTS[assignment]:
        for dotted in part.references:
            module, name = dotted.rsplit(".", 1)
            assert hasattr(importlib.import_module(module), name), f"{assignment}/{part.name}: {dotted} is gone"


def test_ch07_checks_pass_the_solution_and_catch_the_typical_loss_bugs(monkeypatch):
    """Each bug the exercises' text warns about fails its part: in a visible case, or else in the named hidden one."""
    monkeypatch.chdir(ROOT)  # the instructor's repository: the hidden cases run too
    mine = {"torch": torch}
    for cell in SOURCE["ch07"].cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, mine)
    loss, kl, ratio, gspo = (mine[n] for n in ("clipped_token_loss", "k3_kl", "sequence_ratio", "gspo_loss"))
    checks.check_clipped_token_loss(loss)
    checks.check_k3_kl(kl)
    checks.check_gspo(ratio, gspo)

    def surrogate(ratio, a, mask, lo, hi):  # the clipped objective's loss, from any ratio
        objective = torch.minimum(ratio * a[:, None], ratio.clamp(1 - lo, 1 + hi) * a[:, None])
        return -(objective * mask).sum() / mask.sum()

    def min_of_ratios(logp, old, a, mask, lo, hi):  # min(r, clip(r)) * A: right for positive advantages only
        r = (logp - old).exp()
        return -(torch.minimum(r, r.clamp(1 - lo, 1 + hi)) * a[:, None] * mask).sum() / mask.sum()

    visible = "expected"  # a visible case's message; a hidden one's says 'wrong result'
    part1, part2, part3 = checks.check_clipped_token_loss, checks.check_k3_kl, checks.check_gspo
    bugs = [  # (check, the bug (a pair in Part 3), what its message says)
        (part1, lambda lp, old, a, m, lo, hi: loss(old, lp, a, m, lo, hi), visible),  # exp(old - logp)
        (part1, lambda lp, old, a, m, lo, hi: surrogate(lp / old, a, m, lo, hi), visible),  # logp / old
        (part1, lambda lp, old, a, m, lo, hi: surrogate(lp.exp() / old.exp(), a, m, lo, hi),
         "hidden case 'very unlikely tokens"),  # a quotient of probabilities: 0 / 0 near -110
        (part1, min_of_ratios, visible),
        (part1, lambda lp, old, a, m, lo, hi: loss(lp, old, a, m, lo, lo), visible),  # one epsilon
        (part1, lambda lp, old, a, m, lo, hi: loss(lp, old, a, m * 0 + 1, lo, hi), visible),  # padding counted
        (part2, lambda lp, ref, m: kl(ref, lp, m), visible),  # the sign of d
        (part2, lambda lp, ref, m: ((lp - ref) * m).sum() / m.sum(), visible),  # k1
        (part2, lambda lp, ref, m: kl(lp, ref, m * 0 + 1), visible),  # padding counted
        (part3, (lambda lp, old, m: ((lp - old) * m).sum(1).exp(), gspo), visible),  # sum, not mean
        (part3, (lambda lp, old, m: ((lp - old) * m).mean(1).exp(), gspo), visible),  # over padding
        (part3, (lambda lp, old, m: ((lp - old).exp() * m).sum(1) / m.sum(1), gspo), visible),  # mean of ratios
        (part3, (lambda lp, old, m: (((lp - old) * m).sum(1) / m.sum(1)).exp(), gspo),
         "hidden case 'a sequence without tokens has ratio 1': wrong result"),
        (part3, (ratio, lambda lp, old, a, m, lo, hi: loss(lp, old, a, m, lo, hi)), visible),  # clipped per token
    ]
    for check, bug, message in bugs:
        with pytest.raises(AssertionError, match=re.escape(message)):
            check(*bug) if isinstance(bug, tuple) else check(bug)


class ScriptedKernel:
    """Stands in for the learner's kernel: cell ``i`` answers ``script[i]`` (a list consumed run by run, then
    "ok"), and a cell in ``kills_later`` ends the kernel just after it answers (the next cell finds it dead)."""

    namespaced = False

    def __init__(self, script: dict[int, list[str]], kills_later: set[int] = frozenset()):
        self.script, self.kills_later, self.dead, self.runs = script, kills_later, False, []

    def execute(self, code: str, seconds: float):
        from autograder.kernel import Reply

        if code.startswith("import sys as _sys"):  # the preamble
            self.runs.append([])
            return Reply("ok")
        index = int(code)
        self.runs[-1].append(index)
        if self.dead:
            return Reply("died", evalue="the kernel exited")
        status = self.script.get(index, []).pop(0) if self.script.get(index) else "ok"
        self.dead = status == "died" or index in self.kills_later
        return Reply(status, evalue="the kernel exited" if status == "died" else "")

    def alive(self) -> bool:
        return not self.dead

    def restart(self) -> None:
        self.dead = False


def session_over(kernel: ScriptedKernel, cells: int):
    from autograder.grade import Cell, Limits, Plan, Session

    session = Session(Plan("ch04", [Cell(str(i), f"part{i}") for i in range(cells)]), Limits(cell_seconds=20), None)
    session.kernel = kernel
    session.settled = lambda: kernel.alive()  # no need to wait: the script's deaths are immediate
    while not session.run_cells():
        kernel.restart()
    return session


def test_a_cell_is_blamed_for_its_own_death_or_time_limit_not_for_another_cells_or_a_busy_machine():
    late = session_over(ScriptedKernel({}, kills_later={1}), 4)  # cell 1 ends the kernel after answering
    assert late.skip == {1} and late.kernel.runs[-1] == [0, 2, 3]
    assert late.cell_errors == {"part1": "did not finish: the kernel died just after this cell ran"}
    slow = session_over(ScriptedKernel({2: ["timeout"]}), 4)  # once past the limit (a busy machine): run again
    assert slow.skip == set() and slow.cell_errors == {} and slow.kernel.runs[-1] == [0, 1, 2, 3]
    looping = session_over(ScriptedKernel({2: ["timeout", "timeout"]}), 4)
    assert looping.skip == {2} and looping.kernel.runs[-1] == [0, 1, 3]
    assert looping.cell_errors == {"part2": "did not finish: it ran past the cell time limit of 20 s (--cell-timeout)"}
    dying = session_over(ScriptedKernel({0: ["died", "died"]}), 3)
    assert dying.skip == {0} and dying.cell_errors == {"part0": "did not finish: the kernel exited"}
