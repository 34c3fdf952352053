"""``python -m autograder grade|batch|similarity|check`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys

GRADE_HELP = """Grade one notebook and print a JSON report. On a learner's machine only the visible cases run; on the
instructor's (the repository's solutions/ folder, or --solutions) the hidden cases run too."""


def add_limits(parser: argparse.ArgumentParser) -> None:
    """The options every grading command takes."""
    parser.add_argument("--device", default=None, help="cuda or cpu for the learner's functions (default: cpu)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for a whole notebook (default 600)")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per notebook cell (default 60)")
    parser.add_argument("--part-timeout", type=float, default=30, help="seconds for all calls of a part (default 30)")
    parser.add_argument("--solutions", default=None, help="the instructor's solutions folder (default: the "
                        "repository's solutions/, when there is one)")


def limits_of(args: argparse.Namespace):
    """The kernel limits the options ask for."""
    from autograder.kernel import Limits

    return Limits(part_seconds=args.part_timeout, cell_seconds=args.cell_timeout, cpu_seconds=int(args.timeout))


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse the command line, run the command, turn expected failures into one line on stderr."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one notebook and print a JSON report", description=GRADE_HELP)
    g.add_argument("notebook", help="the submitted .ipynb")
    g.add_argument("--assignment", default=None, help="chNN (default: recognised from the notebook's cells)")
    g.add_argument("--source", default=None, help="the instructor's notebook (default: found by assignment)")
    add_limits(g)
    b = sub.add_parser("batch", help="grade every submission of an nbgrader course into its gradebook")
    b.add_argument("submitted", help="nbgrader's submitted/ folder: submitted/<student>/<assignment>/*.ipynb")
    b.add_argument("--gradebook", required=True, help="nbgrader's gradebook.db (created if missing)")
    b.add_argument("--report", default="grades-report.csv", help="CSV of every part's score and message")
    b.add_argument("--assignment", action="append", default=None, help="only this assignment (repeatable)")
    add_limits(b)
    s = sub.add_parser("similarity", help="how close learners' functions are to rfs's source and to each other")
    s.add_argument("folder", help="a folder of submitted notebooks (searched recursively)")
    s.add_argument("--threshold", type=float, default=0.8, help="flag pairs at least this similar (default 0.8)")
    c = sub.add_parser("check", help="self-test: grade the instructor's notebooks, which must score full marks")
    c.add_argument("--device", default=None, help="cuda or cpu (default: cpu)")
    args = parser.parse_args(argv)
    try:
        from autograder.grade import UnknownAssignment
    except ImportError as error:  # nbformat, jupyter_client, ipykernel come with the course extra
        print(f"autograder: {error.name} is missing: pip install 'rfs[course]'", file=sys.stderr)
        return 2
    try:
        return run(args)
    except (UnknownAssignment, FileNotFoundError, IsADirectoryError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # never a traceback for a learner: one line that can be reported
        print(f"autograder: the grader failed ({type(error).__name__}: {error}); please report this line",
              file=sys.stderr)
        return 3


def run(args: argparse.Namespace) -> int:
    """Run one parsed command."""
    if args.command == "grade":
        from autograder.grade import grade_notebook, print_report

        if not __import__("pathlib").Path(args.notebook).is_file():
            raise FileNotFoundError(f"no notebook at {args.notebook}")
        print_report(grade_notebook(args.notebook, args.assignment, args.source, args.solutions, args.device,
                                    limits_of(args), args.timeout))
        return 0
    if args.command == "batch":
        from autograder.batch import grade_course

        summary = grade_course(args.submitted, args.gradebook, args.report, args.assignment, args.solutions,
                               args.device, limits_of(args), args.timeout)
        print(summary)
        return 0
    if args.command == "similarity":
        from autograder.similarity import print_similarity

        return print_similarity(args.folder, args.threshold)
    from autograder.grade import self_test

    return self_test(args.device)


if __name__ == "__main__":
    sys.exit(main())
