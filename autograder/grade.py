"""Grading one notebook (``python -m autograder grade NOTEBOOK``): the learner's code runs in its own fenced
kernel, the checks run here.

1. The cells to run are the learner's: solution cells, and any cell the learner added (helpers, imports). The
   instructor's locked setup cells are restored from the instructor's notebook when it is there; test cells are
   never run in the learner's kernel. A test cell deleted or edited scores zero for its part.
2. The kernel starts with the chapter's rfs references turned into traps and an audit hook
   (``autograder.guard``) that keeps the learner's code from rebuilding them from disk, from starting
   processes and from reading the instructor's files; then it runs those cells.
3. For each part, each case is one call of a learner function through the plain-data channel
   (``autograder.shim``), judged in this process. A part's failure, time limit, output flood or a kernel that
   dies costs that part only: the kernel is restarted and the learner's cells run again for the next part.
On the instructor's machine the hidden cases (``solutions/<chapter>/hidden_cases.py``) run after the visible
ones; elsewhere the report says that only the visible cases ran.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from autograder.assignments import ASSIGNMENTS, NOT_GRADED, REPOSITORY_SOLUTIONS, hidden_cases, recognise
from autograder.kernel import Kernel, Limits
from autograder.part import Part, verdict
from autograder.plain import dumps, loads
from autograder.shim import MAX_RESULT_BYTES

PACKAGES = [Path(__file__).resolve().parents[1]]  # where autograder (and, in a checkout, rfs) is imported from


class UnknownAssignment(ValueError):
    """The notebook's assignment cannot be told from its name or contents."""


@dataclass
class Cell:
    """A code cell the learner's kernel runs: its text, and the part it belongs to ("" for none)."""

    code: str
    part: str = ""
    label: str = ""


@dataclass
class Plan:
    """What grading one notebook needs: its cells to run, and parts that score zero before anything runs."""

    assignment: str
    cells: list[Cell]
    zero: dict[str, str] = field(default_factory=dict)


def nbgrader_info(cell) -> dict:
    """A cell's nbgrader metadata (empty for a cell the learner added)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def part_of(grade_id: str, parts: list[Part]) -> str:
    """The part a cell belongs to, by its grade id (``rms_norm_solution`` -> ``rms_norm``); "" for none."""
    for part in parts:
        if grade_id.startswith(part.name + "_"):
            return part.name
    return ""


def imported_references(code: str, names: set[str]) -> list[str]:
    """Which of ``names`` the code imports from rfs, or reaches as ``rfs.module.name``; one line at a time."""
    found = set()
    for imported in re.findall(r"^[ \t]*from[ \t]+rfs[\w.]*[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", code, re.M):
        found |= {n.split(" as ")[0].strip() for n in imported.strip("()").replace("\n", " ").split(",")}
    found |= set(re.findall(r"\brfs(?:\.\w+)*\.(\w+)", code))
    return sorted(found & names)


def assignment_of(notebook, path: Path, assignment: str | None, source: Path | None, unreadable: str = "") -> str:
    """The assignment: as given, from ``--source``'s name, or recognised from the notebook's nbgrader cells;
    ``unreadable`` says why the notebook could not be read, if it could not."""
    if assignment:
        if assignment not in ASSIGNMENTS:
            raise UnknownAssignment(f"unknown assignment {assignment!r}: one of {', '.join(ASSIGNMENTS)}")
        return assignment
    for name in ASSIGNMENTS:
        if source is not None and name in source.name:
            return name
    found = recognise(notebook)
    if found is None:
        why = unreadable or "it has none of the exercises' test cells"
        raise UnknownAssignment(f"cannot tell which assignment {path.name} is ({why}); pass --source "
                                "solutions/chNN/chNN_exercises.ipynb or --assignment chNN")
    return found


def plan(notebook, assignment: str, source_nb=None) -> Plan:
    """The cells to run, in the learner's order, and the parts that score zero for edits or reference imports."""
    parts = ASSIGNMENTS[assignment]
    locked = {nbgrader_info(c).get("grade_id"): c for c in (source_nb.cells if source_nb else [])
              if nbgrader_info(c).get("locked") and c.cell_type == "code"}
    forbidden = {p.name: {ref.rsplit(".", 1)[1] for ref in p.references} for p in parts}
    result = Plan(assignment, [])
    seen = set()
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        info = nbgrader_info(cell)
        grade_id = info.get("grade_id") or ""
        seen.add(grade_id)
        part = part_of(grade_id, parts)
        if info.get("grade") or grade_id in NOT_GRADED:
            continue
        if info.get("solution") or not grade_id:
            names = imported_references(cell.source, set().union(*forbidden.values()))
            for other in parts:
                if set(names) & forbidden[other.name] and other.name not in result.zero:
                    result.zero[other.name] = (f"imports the reference implementation ({', '.join(names)}): write "
                                               "your own")
            result.cells.append(Cell(cell.source, part, grade_id or "a cell you added"))
        else:  # a locked setup cell: the instructor's version when we have it
            result.cells.append(Cell(locked[grade_id].source if grade_id in locked else cell.source, "", grade_id))
    missing = [Cell(c.source, "", gid) for gid, c in locked.items()
               if gid not in seen and not nbgrader_info(c).get("grade") and gid not in NOT_GRADED]
    result.cells[:0] = missing
    if source_nb is not None:
        mine = {nbgrader_info(c).get("grade_id"): c.source for c in notebook.cells}
        for cell in source_nb.cells:
            info = nbgrader_info(cell)
            if not info.get("grade"):
                continue
            part = part_of(info["grade_id"], parts)
            if info["grade_id"] not in mine:
                result.zero[part] = "the test cell was deleted"
            elif test_code(mine[info["grade_id"]]) != test_code(cell.source):
                result.zero[part] = "the locked test cell was edited"
    return result


def test_code(source: str) -> list[str]:
    """A test cell's code lines without comments: copies made from an older release, whose comments or hidden
    tests differ, are not edits."""
    source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.DOTALL)
    return [line for line in (re.sub(r"#.*", "", line).strip() for line in source.splitlines()) if line]


def preamble(assignment: str, protect: list[str], own_mounts: bool) -> str:
    """The first code the learner's kernel runs: output to the counted file descriptors, the traps, then the
    audit hook (``autograder.guard``) that keeps the learner's code from going around them or reading
    ``protect``; ``own_mounts``: the kernel runs in namespaces of its own. It ends in a statement: IPython keeps a
    cell's last value in ``_``, within the learner's reach."""
    references = sorted({ref for part in ASSIGNMENTS[assignment] for ref in part.references})
    return ("import sys as _sys\n_sys.stdout, _sys.stderr = _sys.__stdout__, _sys.__stderr__\n"
            "import rfs.verify as _rfs_verify\n_rfs_verify.start_judge()  # loads sympy while this loads torch\n"
            f"import autograder.shim as _autograder_shim\n_autograder_shim.install_traps({references!r})\n"
            "import autograder.guard as _autograder_guard\n"
            f"_autograder_guard.lock_kernel({protect!r}, {own_mounts!r})\n")


class Session:
    """A learner's kernel with the notebook's cells run in it, restarted (cells run again) when a part kills it."""

    def __init__(self, plan_: Plan, limits: Limits, device: str | None) -> None:
        self.plan, self.limits = plan_, limits
        self.kernel = Kernel(limits, device)
        self.cell_errors: dict[str, str] = {}  # part -> how its solution cell failed
        self.skip: set[int] = set()  # cells that timed out or killed the kernel: not run again
        self.suspects: set[int] = set()  # cells that timed out or during which the kernel died, once
        self.calls = 0

    def open(self) -> None:
        """Start the kernel and run the preamble and the notebook's cells, each within the cell time limit."""
        self.kernel.start()
        while not self.run_cells():
            self.kernel.restart()

    def run_cells(self) -> bool:
        """Run the preamble and the cells; False when a cell stopped the kernel (it is skipped from then on).

        A cell gets the blame the second time, not the first: the kernel can die during a cell for another cell's
        doing (a thread that ends the process a moment after its cell answered), and a busy machine can push an
        innocent cell past its time limit. So a first time limit or death only makes the cell a suspect; on the
        next run the grader waits a moment before a suspect and blames the cell before it if the kernel is gone
        by then, else the suspect if it stops the kernel again.
        """
        reply = self.kernel.execute(preamble(self.plan.assignment, self.limits.hide, self.kernel.namespaced), 120)
        if reply.status != "ok":
            raise RuntimeError(f"the grader's preamble failed: {reply.status} {reply.ename}: {reply.evalue}")
        previous = None
        for index, cell in enumerate(self.plan.cells):
            if index in self.skip:
                continue
            if index in self.suspects and previous is not None and not self.settled():
                self.blame(previous, "the kernel died just after this cell ran")
                return False
            reply = self.kernel.execute(cell.code, self.limits.cell_seconds)
            if reply.status == "error" and cell.part:
                self.cell_errors.setdefault(cell.part, f"raised {reply.ename}: {reply.evalue}"[:300])
            if reply.status in ("timeout", "died"):
                if index in self.suspects:
                    self.blame(index, f"it ran past the cell time limit of {self.limits.cell_seconds:g} s "
                                      "(--cell-timeout)" if reply.status == "timeout" else reply.evalue)
                self.suspects.add(index)
                return False
            previous = index
        return True

    def settled(self) -> bool:
        """Whether the kernel is still alive a moment after the last cell answered."""
        time.sleep(1.0)
        return self.kernel.alive()

    def blame(self, index: int, why: str) -> None:
        """Cell ``index`` stopped the kernel: it is not run again, and its part says why."""
        self.skip.add(index)
        part = self.plan.cells[index].part
        if part:
            self.cell_errors.setdefault(part, f"did not finish: {why}")

    def call(self, function: str, args: tuple, keep: tuple, seconds: float) -> tuple[dict | None, str]:
        """One call of a learner function: (its result, "") or (None, why there is none)."""
        self.calls += 1
        request = self.kernel.work / f"request-{self.calls}.json"
        result = self.kernel.work / f"result-{self.calls}.json"
        request.write_text(dumps((list(args), list(keep))))
        printed = self.kernel.output_bytes
        code = (f"_autograder_shim.answer(get_ipython().user_ns, {function!r}, {str(request)!r}, "
                f"{str(result)!r})")
        reply = self.kernel.execute(code, seconds)
        time.sleep(0.02)  # let the output counter catch up with what the call printed
        if reply.status == "timeout":
            self.recover()
            return None, f"it ran past the part's time limit of {self.limits.part_seconds:g} s (--part-timeout)"
        if reply.status == "died":
            self.recover()
            return None, f"the kernel died during {function}: {reply.evalue}"
        if self.kernel.output_bytes - printed > self.limits.output_bytes:
            return None, (f"{function} printed more than {self.limits.output_bytes:,} bytes, the output limit of "
                          "a part")
        if not result.is_file():
            detail = f" ({reply.ename}: {reply.evalue[:200]})" if reply.status == "error" else ""
            return None, f"the grader could not call {function}: your code changed what the grader needs{detail}"
        with open(result, "rb") as stream:
            text = stream.read(MAX_RESULT_BYTES + 1)
        if len(text) > MAX_RESULT_BYTES:
            return None, f"{function} returned more than {MAX_RESULT_BYTES:,} bytes of data"
        try:
            return loads(text.decode("utf-8")), ""
        except (ValueError, UnicodeDecodeError):
            return None, f"the result of {function} could not be read as plain data"

    def recover(self) -> None:
        """After a time limit or a death: a fresh kernel with the notebook's cells run again, if it is gone."""
        if self.kernel.alive():
            return
        self.kernel.restart()
        while not self.run_cells():
            self.kernel.restart()

    def close(self) -> None:
        """Kill the kernel and everything it started."""
        self.kernel.stop()


def grade_part(session: Session, part: Part, hidden: list | None, deadline: float) -> str:
    """"ok", or the first thing wrong with the part (all of its cases share the part's time limit)."""
    if part.name in session.plan.zero:
        return session.plan.zero[part.name]
    budget_end = min(deadline, time.monotonic() + session.limits.part_seconds)
    for is_hidden, cases in ((False, part.visible()), (True, hidden or [])):
        for case in cases:
            seconds = budget_end - time.monotonic()
            if seconds <= 0:
                return (f"not finished within the part's time limit of {session.limits.part_seconds:g} s "
                        "(--part-timeout)" if time.monotonic() < deadline else
                        "not graded: the notebook used its total time limit (--timeout)")
            result, why = session.call(case.function, case.args, case.keep, seconds)
            problem = why or verdict(case, result, is_hidden)
            if problem:
                if part.name in session.cell_errors and "defines no function" in problem:
                    problem += f"; your solution cell {session.cell_errors[part.name]}"
                if "raised MemoryError" in problem:
                    problem += f" (the memory limit is {session.limits.memory_bytes / 2**30:g} GB)"
                return problem
    return "ok"


def grade_notebook(submission: str | Path, assignment: str | None = None, source: str | Path | None = None,
                   solutions: str | Path | None = None, device: str | None = None, limits: Limits | None = None,
                   timeout: float = 600, hide: list[str] | None = None) -> dict:
    """Grade one notebook; a report with each part's points, maximum and message. Never raises for a bad
    submission (UnknownAssignment when its assignment cannot be told)."""
    started = time.monotonic()
    submission = Path(submission)
    limits = limits or Limits()
    try:
        notebook = nbformat.read(submission, as_version=4)
    except Exception as error:  # unreadable, or not a notebook
        notebook, unreadable = nbformat.v4.new_notebook(), f"cannot read the submission: {error}"[:300]
    else:
        unreadable = ""
    source = Path(source) if source else None
    name = assignment_of(notebook, submission, assignment, source, unreadable)
    solutions = Path(solutions) if solutions else REPOSITORY_SOLUTIONS
    if source is None and (solutions / name / f"{name}_exercises.ipynb").is_file():
        source = solutions / name / f"{name}_exercises.ipynb"
    source_nb = nbformat.read(source, as_version=4) if source else None
    hidden = hidden_cases(name, solutions)
    parts = ASSIGNMENTS[name]
    report: dict = {"notebook": str(submission), "assignment": name, "hidden_tests": hidden is not None,
                    "parts": [], "points": 0, "max_points": sum(p.points for p in parts)}
    if unreadable:
        report["error"] = unreadable
        report["parts"] = [{"part": p.name, "points": 0, "max_points": p.points, "message": unreadable}
                           for p in parts]
        return report
    limits = replace(limits, hide=limits.hide + hidden_paths(solutions, source, submission, hide or []))
    session = Session(plan(notebook, name, source_nb), limits, device)
    deadline = started + timeout
    try:
        session.open()
        for part in parts:
            message = grade_part(session, part, hidden.get(part.name) if hidden else None, deadline)
            points = part.points if message == "ok" else 0
            report["parts"].append({"part": part.name, "points": points, "max_points": part.points,
                                    "message": message})
            report["points"] += points
    finally:
        session.close()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def hidden_paths(solutions: Path, source: Path | None, submission: Path, extra: list[str]) -> list[str]:
    """What the learner's kernel must not see: the instructor's solutions and notebook, the submission's folder,
    the repository's history; never a folder Python imports autograder or rfs from, nor one holding the
    kernel's temporary folder."""
    candidates = [solutions, solutions.parent / ".git", submission.resolve().parent, *map(Path, extra)]
    if source is not None:
        candidates.append(source.resolve().parent)
    needed = [Path(p).resolve() for p in [*PACKAGES, *sys.path, tempfile.gettempdir()] if p]  # the kernel's too
    return sorted({str(p.resolve()) for p in candidates
                   if p.exists() and not any(n == p.resolve() or p.resolve() in n.parents for n in needed)})


def print_report(report: dict) -> None:
    """Print a report as JSON."""
    print(json.dumps(report, indent=2))


def self_test(device: str | None = None) -> int:
    """Grade each instructor's notebook (visible and hidden cases): every part must score. Prints one line each."""
    failed = 0
    for name in ASSIGNMENTS:
        source = REPOSITORY_SOLUTIONS / name / f"{name}_exercises.ipynb"
        if not source.is_file():
            print(f"skipped {name}: no {source}")
            continue
        report = grade_notebook(source, name, device=device)
        for part in report["parts"]:
            failed += part["message"] != "ok"
            print(f"{'ok    ' if part['message'] == 'ok' else 'FAILED'} {name} {part['part']}: {part['message']}")
    return 1 if failed else 0
