"""A learner's kernel: a Jupyter kernel in its own fenced process, driven over Jupyter's messaging protocol.

The grader talks to it on the shell channel (run this code, did it finish) and the control channel (interrupt)
only. It never subscribes to the kernel's output channel, so nothing a notebook prints or displays reaches
the grader's memory; the kernel's file descriptors 1 and 2 go into a pipe that the grader reads and throws
away, counting the bytes, so that a flood of output costs the part that made it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file


@dataclass
class Limits:
    """What a learner's kernel may use. Seconds are wall-clock except ``cpu_seconds``."""

    part_seconds: float = 30.0  # all calls of one part together
    cell_seconds: float = 60.0  # one notebook cell
    cpu_seconds: int = 600  # CPU time of one kernel process
    memory_bytes: int = 6 * 2**30  # address space (not applied on CUDA, which reserves far more)
    file_bytes: int = 64 * 2**20  # the largest file the kernel may write
    output_bytes: int = 1_000_000  # printed bytes one part may produce
    processes: int = 4096  # processes and threads of this user
    hide: list[str] = field(default_factory=list)  # instructor's folders and files the kernel must not see


@dataclass
class Reply:
    """How one execution ended: ``ok``, ``error`` (with ``ename``, ``evalue``), ``timeout`` or ``died``."""

    status: str
    ename: str = ""
    evalue: str = ""


SIGNAL_MEANINGS = {
    signal.SIGXCPU: "it used up its CPU time limit of {cpu} s",
    signal.SIGXFSZ: "it wrote a file larger than the limit of {file} MB",
    signal.SIGKILL: "it was killed (SIGKILL: its memory limit of {memory} GB, or its own code)",
    signal.SIGSEGV: "it crashed (segmentation fault)",
}


@cache
def namespaces_available() -> bool:
    """Whether ``unshare`` can give a process its own user, mount and process namespaces here (Linux only)."""
    if not shutil.which("unshare"):
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


class Kernel:
    """One fenced kernel process with a temporary working folder; ``restart`` gives a fresh one."""

    def __init__(self, limits: Limits, device: str | None = None) -> None:
        self.limits, self.device = limits, device
        self.output_bytes = 0  # bytes the kernel wrote to its stdout and stderr so far
        self.process: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.work: Path | None = None
        self.namespaced = False  # whether the kernel runs in namespaces of its own (its mounts are its own)

    def start(self) -> None:
        """Start the kernel and wait until it answers (at most a minute)."""
        self.work = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.namespaced = namespaces_available()
        connection = str(self.work / "connection.json")
        write_connection_file(connection, ip="127.0.0.1", key=os.urandom(16).hex().encode())
        settings = self.work / "sandbox.json"
        settings.write_text(json.dumps(self.sandbox_settings(connection)))
        command = [sys.executable, "-m", "autograder.sandbox", str(settings)]
        if self.namespaced:
            command = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child",
                       "--mount-proc", *command]
        self.process = subprocess.Popen(command, cwd=self.work, env=self.environment(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._count_output, args=(self.process.stdout,), daemon=True).start()
        self.client = BlockingKernelClient(connection_file=connection)
        self.client.load_connection_file()
        self.client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            msg_id = self.client.kernel_info()
            if self._reply_to(msg_id, deadline=min(deadline, time.monotonic() + 2)) is not None:
                return
        status = self.process.poll()
        self.stop()
        raise RuntimeError(f"the grader's kernel did not start within a minute (exit status {status}); is ipykernel "
                           "installed beside this Python?")

    def sandbox_settings(self, connection: str) -> dict:
        """What ``autograder.sandbox`` needs: the folders to hide, the limits, how to start the kernel."""
        limits = {"RLIMIT_CPU": self.limits.cpu_seconds, "RLIMIT_FSIZE": self.limits.file_bytes,
                  "RLIMIT_NPROC": self.limits.processes}
        if (self.device or "cpu") == "cpu":
            limits["RLIMIT_AS"] = self.limits.memory_bytes
        kernel = ["-m", "ipykernel_launcher", "-f", connection, "--IPKernelApp.capture_fd_output=False",
                  "--HistoryManager.enabled=False"]
        return {"namespaced": self.namespaced, "hide": self.limits.hide, "work": str(self.work),
                "limits": limits, "kernel": kernel, "env": self.environment()}

    def environment(self) -> dict[str, str]:
        """A fresh, small environment: nothing of the grader's but where Python finds its packages."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work), "LANG": "C.UTF-8",
               "IPYTHONDIR": str(self.work / ".ipython"), "JUPYTER_CONFIG_DIR": str(self.work / ".jupyter"),
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.work / ".matplotlib"), "OMP_NUM_THREADS": "1",
               "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "TMPDIR": str(self.work)}  # tempfile's folders in the one folder the kernel may write to
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        if self.device:
            env["RFS_DEVICE"] = self.device
        return env

    def _count_output(self, stream) -> None:
        """Read the kernel's stdout and stderr to the end, keeping only the count of bytes."""
        while chunk := stream.read1(1 << 16):
            self.output_bytes += len(chunk)

    def _reply_to(self, msg_id: str, deadline: float) -> dict | None:
        """The shell reply to ``msg_id``, or None when the deadline passes or the kernel dies first."""
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                message = self.client.get_shell_msg(timeout=min(0.2, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                continue
            if message.get("parent_header", {}).get("msg_id") == msg_id:
                return message["content"]
        return None

    def execute(self, code: str, seconds: float) -> Reply:
        """Run ``code``; after ``seconds`` interrupt it, and kill the kernel if it does not stop (``timeout``)."""
        # stop_on_error=False: otherwise the kernel skips ("aborts") a request that arrives just after an error
        msg_id = self.client.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        content = self._reply_to(msg_id, time.monotonic() + seconds)
        if content is None and self.alive():
            self.client.control_channel.send(self.client.session.msg("interrupt_request", {}))
            if self._reply_to(msg_id, time.monotonic() + 3) is None:  # it ignores KeyboardInterrupt
                self.kill()
            return Reply("timeout")
        if content is None or not self.alive():  # without namespaces a kernel may answer as its parent dies
            return Reply("died", evalue=self.death())
        if content.get("status") == "ok":
            return Reply("ok")
        return Reply("error", str(content.get("ename", "")), str(content.get("evalue", ""))[:2000])

    def alive(self) -> bool:
        """Whether the kernel process still runs."""
        return self.process is not None and self.process.poll() is None

    def death(self) -> str:
        """Why the kernel ended, in words that name the limit it hit, if any."""
        status = self.process.wait()
        number = status - 128 if status > 128 else -status if status < 0 else 0
        if number:
            meaning = SIGNAL_MEANINGS.get(number, f"it was ended by signal {signal.Signals(number).name}")
            return meaning.format(cpu=self.limits.cpu_seconds, file=self.limits.file_bytes // 2**20,
                                  memory=f"{self.limits.memory_bytes / 2**30:g}")
        return f"the kernel exited (status {status}: os._exit or sys.exit in the notebook's code)"

    def kill(self) -> None:
        """End the kernel and everything it started (its session; with namespaces, its whole process tree)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        """Kill the kernel and remove its working folder."""
        self.kill()
        if self.client is not None:
            self.client.stop_channels()
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)

    def restart(self) -> None:
        """A fresh kernel in a fresh folder."""
        self.stop()
        self.start()
