"""The audit hook of the learner's kernel (autograder.guard), in a process of its own: a hook cannot be removed.

The hostile submissions (test_hostile_submissions.py) show the routes a learner would try first, each costing
its part; this test tries the ways around the hook's own checks, and what a correct notebook still needs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r'''
import builtins, ctypes, gc, importlib, io, json, os, pathlib, sys, tempfile
import rfs.answers
import autograder.guard
from rfs.verify import grade_answer

instructor = sys.argv[1]
autograder.guard.lock_kernel([instructor], own_mounts=False)  # this process's mounts are the machine's
source = rfs.answers.__file__  # torch-free, so this test starts fast
outside = os.path.dirname(os.getcwd())
outcomes = {}


class Shifty:
    """A path object that names one file to the first question and another to the second (io.FileIO asks for
    the open, and hands the object itself to the hook, which must ask again)."""
    answers = [source, "harmless.txt"]

    def __fspath__(self):
        return self.answers.pop()


def attempt(name, action):
    try:
        action()
        outcomes[name] = "allowed"
    except PermissionError as error:
        outcomes[name] = "refused: " + str(error)
    except Exception as error:
        outcomes[name] = f"{type(error).__name__}: {error}"


def patched_builtins():
    real = builtins.isinstance
    builtins.isinstance = lambda *args: False
    try:
        open(source).read()
    finally:
        builtins.isinstance = real


def relative_after_chdir():
    here = os.getcwd()
    os.chdir(os.path.dirname(source))
    try:
        open("answers.py").read()
    finally:
        os.chdir(here)


def temporary_folder():
    with tempfile.TemporaryDirectory() as folder:
        pathlib.Path(folder, "x.txt").write_text("x")


def fresh_module():
    import rfs.prompts
    assert rfs.prompts.pocket_notation("What is 2 * 3?") == "What is 2 \\times 3?"


attempt("reload", lambda: importlib.reload(rfs.answers))
attempt("through /proc/self/root", lambda: open("/proc/self/root" + source).read())
attempt("relative after chdir", relative_after_chdir)
attempt("with builtins patched", patched_builtins)
attempt("symlink", lambda: os.symlink(source, "link.py"))
attempt("hard link", lambda: os.link(source, "link.py"))
attempt("shifty path", lambda: io.FileIO(Shifty()).read())
attempt("instructor file", lambda: open(os.path.join(instructor, "hidden_cases.py")).read())
attempt("instructor file through ..", lambda: open(f"{instructor}/../{os.path.basename(instructor)}/hidden_cases.py"))
attempt("rename instructor file", lambda: os.rename(os.path.join(instructor, "hidden_cases.py"), "mine.py"))
attempt("write outside", lambda: open(os.path.join(outside, "escape.txt"), "w"))
attempt("folder outside", lambda: os.open("/", os.O_RDONLY))
attempt("another process's memory", lambda: open(f"/proc/{os.getppid()}/environ", "rb").read())
attempt("climb with ..", lambda: os.open("../escape.txt", os.O_RDONLY))
attempt("hook helper", lambda: setattr(autograder.guard.status, "__defaults__", (lambda path: None, OSError)))
attempt("gc", gc.get_objects)
attempt("ctypes", lambda: ctypes.CDLL(None))
attempt("fork_exec", lambda: importlib.import_module("_posixsubprocess"))
attempt("fork", os.fork)
attempt("write and read in the working folder", lambda: (open("notes.txt", "w").write("x"), open("notes.txt").read()))
attempt("a temporary folder", temporary_folder)
attempt("/dev/null", lambda: open(os.devnull, "w").write("x"))
attempt("a library file", lambda: open(json.__file__).read())
attempt("a fresh rfs module", fresh_module)
attempt("sympy's judge", lambda: grade_answer("\\sqrt{4}", "2") or 1 / 0)
print(json.dumps(outcomes))
'''
REFUSED = {
    "reload": "answers.py' is not allowed during grading: rfs's source and compiled files",
    "through /proc/self/root": "rfs's source and compiled files",
    "relative after chdir": "reading 'answers.py' is not allowed during grading: rfs's source",
    "with builtins patched": "rfs's source and compiled files",
    "symlink": "os.symlink is not allowed during grading: a link is a second name for a file",
    "hard link": "os.link is not allowed during grading",
    "shifty path": "opening a path given as a Shifty object is not allowed during grading",
    "instructor file": "hidden_cases.py' is not allowed during grading: it is in one of the instructor's folders",
    "instructor file through ..": "it is in one of the instructor's folders",
    "rename instructor file": "it is in one of the instructor's folders",
    "write outside": "escape.txt' is not allowed during grading: the kernel may write only inside its working",
    "folder outside": "reading '/' is not allowed during grading: a folder may be opened only inside",
    "another process's memory": "environ' is not allowed during grading: it belongs to another process",
    "climb with ..": "a relative path that climbs with '..'",
    "hook helper": "changing status.__defaults__ is not allowed during grading",
    "gc": "gc.get_objects is not allowed during grading",
    "ctypes": "ctypes.dlopen is not allowed during grading: native calls",
    "fork_exec": "importing _posixsubprocess is not allowed during grading",
    "fork": "starting a process (os.fork) is not allowed during grading",
}
ALLOWED = ["write and read in the working folder", "a temporary folder", "/dev/null", "a library file",
           "a fresh rfs module", "sympy's judge"]


def test_the_hook_refuses_the_ways_around_it_and_allows_what_a_notebook_needs(tmp_path):
    instructor = tmp_path / "solutions"
    instructor.mkdir()
    (instructor / "hidden_cases.py").write_text("HIDDEN = {}\n")
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "TMPDIR": str(work),
           "HOME": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(instructor)], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.splitlines()[-1])
    for name, fragment in REFUSED.items():
        assert outcomes[name].startswith("refused: ") and fragment in outcomes[name], (name, outcomes[name])
    for name in ALLOWED:
        assert outcomes[name] == "allowed", (name, outcomes[name])
    assert (instructor / "hidden_cases.py").is_file() and not (tmp_path / "escape.txt").exists()
