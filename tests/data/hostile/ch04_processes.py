# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% added
# A process left behind, to overwrite what it can after the kernel is gone: the audit hook refuses to start it
# (and under namespaces it would end with the kernel).
import subprocess
import sys

LATER = """
import pathlib, sys, time
time.sleep(6)
for path in sys.argv[1:]:
    try:
        pathlib.Path(path).write_text("tampered")
    except OSError:
        pass
"""
subprocess.Popen([sys.executable, "-c", LATER, *{TARGETS}], start_new_session=True)
# %% added
import os
import signal

os.kill(os.getppid(), signal.SIGKILL)  # kill the parent
# %% added
# The kernel ends a moment after this cell has answered, during the next cell, which must not take the blame (nor
# may the cells after it).
import threading

threading.Timer(0.3, os._exit, (1,)).start()
# %% added
import time

time.sleep(3)
# %% majority_vote
import signal


def majority_vote(answers, equal=None):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # no KeyboardInterrupt can stop this
    while True:
        pass
# %% pass_at_k
import os


def pass_at_k(n, c, k):
    os._exit(1)
