"""The first program of a learner's kernel process: it fences the process in, then starts the Jupyter kernel.

``python -m autograder.sandbox SETTINGS.json`` runs inside the kernel's own temporary folder. Where Linux user
namespaces are available the grader starts it under ``unshare`` (its own user, mount and process namespaces);
then it hides the instructor's files (``hide``: folders behind an empty tmpfs, files behind /dev/null), makes
every mount read-only but the temporary folder, and enters a second user namespace so that the kernel cannot
undo any of it. Everywhere it sets resource limits (CPU seconds, memory, file size, processes) and stays as a
small parent that waits for the kernel: a kernel that kills its parent kills only this one (and dies with it,
during the cell that did it), and when this process ends, the process namespace takes every process the
learner's code left behind with it.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
PR_SET_PDEATHSIG = 1


def hide(paths: list[str]) -> None:
    """Cover each existing path: a folder with an empty tmpfs, a file with /dev/null."""
    for path in paths:
        if os.path.isdir(path):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1k,ro", "hidden", path], check=True)
        elif os.path.exists(path):
            subprocess.run(["mount", "--bind", "/dev/null", path], check=True)


def read_only_except(work: str) -> None:
    """Every mount read-only but /proc (the next step writes its user maps there) and the temporary folder."""
    subprocess.run(["mount", "--bind", work, work], check=True)
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted(set(mounts)):
        if mount != work and not mount.startswith("/proc"):
            subprocess.run(["mount", "-o", "remount,bind,ro", mount], stderr=subprocess.DEVNULL)


def lock_mounts() -> None:
    """Enter a nested user and mount namespace: the mounts made above become locked (no umount, no remount rw)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text("0 0 1")
    Path("/proc/self/gid_map").write_text("0 0 1")


def set_limits(limits: dict) -> None:
    """CPU seconds, address space, file size and processes, as the grader set them."""
    for name, value in limits.items():
        which = getattr(resource, name)
        resource.setrlimit(which, (value, value))


def die_with_parent(parent: int) -> None:
    """Have this (forked) process killed the moment its parent ends (Linux). Otherwise a kernel that kills its
    parent runs on, and the grader, which watches the parent, notices only during a later cell, which would
    take the blame."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def main() -> None:
    """Fence in, then run the kernel as a child and exit with its status."""
    settings = json.loads(Path(sys.argv[1]).read_text())
    if settings["namespaced"]:
        hide(settings["hide"])
        read_only_except(settings["work"])
        os.chdir(settings["work"])  # the working folder through its writable mount, not the one below it
        lock_mounts()
    set_limits(settings["limits"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel, not for this parent
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(sys.executable, [sys.executable, *settings["kernel"]], settings["env"])
    _, status = os.waitpid(child, 0)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
