"""The learner's kernel under an audit hook (PEP 578), installed after the traps and before the first learner cell.

The traps (:mod:`autograder.shim`) turn the reference functions into tripwires in memory, and where Linux user
namespaces are available the sandbox (:mod:`autograder.sandbox`) hides the instructor's files and makes every
folder but the kernel's own read-only. This hook is the layer under both, in the kernel's Python itself. It
cannot be removed, and from ``lock_kernel`` on it refuses, with a PermissionError that says why:

- reading the source or compiled file of an rfs module loaded before the hook (the traps load every reference's),
  under any name (a link, ``/proc/self/fd/N``): no ``importlib.reload``, ``exec(open(module.__file__).read())``,
  ``inspect.getsource``, ``.pyc`` and ``marshal``, ``runpy``, nor a second import of such a module;
- reading or changing the instructor's files (``protect``: solutions/, the submissions, the gradebook), and other
  processes' files in /proc (the grader's memory): a second lock where the namespaces hide them, the only one
  where they cannot;
- writing outside the kernel's working folder (but to /dev/null), and opening a folder outside it (a descriptor
  of a folder lets ``os.open(name, dir_fd=...)`` reach a file whose name this hook never sees whole);
- starting a process (``subprocess``, ``os.system``, ``os.exec*``, ``os.fork``, ``os.posix_spawn``): a child's
  code runs out of this hook's sight. rfs's answer judge, the one helper process the kernel needs, starts first;
- what would go around all this: links, ctypes' and cffi's native calls, the garbage collector's lists of every
  object, and changing the code or defaults of this module's functions.

What it cannot see: native code that opens files itself (``torch.from_file``). Under the namespaces the kernel
owns its mounts, and ``lock_kernel`` also puts an empty file over rfs's guarded files, so such code reads nothing
there (the namespaces hide the instructor's files already); without them it is a gap, hence: grade in a
container. Source text a learner pastes into the notebook is for ``python -m autograder similarity``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import linecache
import os
import stat
import sys
import types
from types import MappingProxyType

PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
                            "os.forkpty"})
LINK, NATIVE, MEMORY = ("a link is a second name for a file", "native calls are out of the grader's sight",
                         "reading memory or listing every object reaches what the grader hid")
# Read-only mappings (the hook keeps them): the learner's code cannot empty them.
AROUND_EVENTS = MappingProxyType({
    "os.link": LINK, "os.symlink": LINK, "ctypes.dlopen": NATIVE, "ctypes.dlsym": NATIVE,
    "ctypes.dlsym/handle": NATIVE, "ctypes.cdata": MEMORY, "ctypes.string_at": MEMORY, "ctypes.wstring_at": MEMORY,
    "gc.get_objects": MEMORY, "gc.get_referrers": MEMORY, "gc.get_referents": MEMORY})
# _posixsubprocess starts a process without an audit event of its own; _cffi_backend calls C without any.
NATIVE_MODULES = frozenset({"_posixsubprocess", "_cffi_backend"})
# Events other than ``open`` that name files: the positions of their paths (all of these change files).
FILE_EVENTS = MappingProxyType({"os.rename": (0, 1), "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,),
                                "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,),
                                "sqlite3.connect": (0,)})
MS_BIND = 4096  # mount(2)'s flag for a bind mount
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
WATCHED = frozenset({"open", "import", "object.__setattr__", *PROCESS_EVENTS, *AROUND_EVENTS, *FILE_EVENTS})


def lock_kernel(protect: list[str], own_mounts: bool) -> None:
    """Start rfs's answer judge and wait until it is ready, forget the native modules, then install the hook.

    ``protect`` lists the instructor's files and folders; ``own_mounts``: the kernel runs in the sandbox's
    namespaces, where its mounts are its own. Runs in the learner's kernel, in its working folder, after the
    traps, which import the modules of every reference: their files are among those the hook guards.
    """
    from rfs.verify import start_judge

    start_judge(wait=60)  # where it cannot start (no sympy), answers that need it come out False, as anywhere
    device = os.environ.get("RFS_DEVICE", "cpu")
    if device != "cpu":  # start CUDA now: torch loads some of its libraries through ctypes, which the hook refuses
        import torch

        torch.zeros(1, device=device)
    forget(NATIVE_MODULES)
    linecache.clearcache()  # source lines read before now (a warning's) would answer inspect.getsource
    paths = [path for path in rfs_code_files() if status(path) is not None]
    code = frozenset([identity(path) for path in paths] + (cover(paths) if own_mounts else []))
    files, folders = set(), set()
    for path in protect:
        found = status(path)
        if found is not None and stat.S_ISDIR(found.st_mode):
            folders.add(identity(path))
        elif found is not None and stat.S_ISREG(found.st_mode):  # not the /dev/null the sandbox put in its place
            files.add(identity(path))
    others = frozenset(identity(f"/proc/{pid}") for pid in other_processes())
    sys.addaudithook(hook_for((code, frozenset(files), frozenset(folders), others, identity(os.getcwd()),
                               identity(os.devnull))))


def other_processes() -> list[str]:
    """The process ids in /proc other than this one: their files there (``mem``, ``environ``) are theirs, the
    grader's memory with its hidden cases among them where no namespace hides it."""
    if not os.path.isdir("/proc"):
        return []
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and int(pid) != os.getpid()]


def rfs_code_files() -> list[str]:
    """The source file and compiled file of every rfs module loaded now. A module imported later is read by the
    import system as usual: it holds no reference of this chapter, and no copy of the ones trapped."""
    paths = []
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if (name == "rfs" or name.startswith("rfs.")) and source:
            paths += [source, importlib.util.cache_from_source(source)]
    return paths


def cover(paths: list[str]) -> list[tuple[int, int]]:
    """Mount an empty file over each of ``paths``, in the kernel's own mount namespace (never call it elsewhere: as
    root it would cover them for the whole machine): then even native code that reads files itself
    (``torch.from_file``) finds nothing there. Returns the empty file's identity, which the hook guards like the
    files it covers (nothing where no mount succeeded)."""
    empty = os.path.abspath(".autograder-cover")
    open(empty, "w").close()
    libc = ctypes.CDLL(None, use_errno=True)
    covered = [libc.mount(os.fsencode(empty), os.fsencode(path), None, MS_BIND, None) == 0 for path in paths]
    return [identity(empty)] if any(covered) else []


def forget(names: frozenset[str]) -> None:
    """Take the modules ``names`` out of sys.modules, and every module's name for them or for their functions:
    with their import refused, the learner's code has no way back to them."""
    gone = [sys.modules.pop(name) for name in names if name in sys.modules]
    doomed = {id(module) for module in gone}
    doomed |= {id(value) for module in gone for value in vars(module).values()
               if getattr(value, "__module__", None) == module.__name__}
    for module in list(sys.modules.values()):
        if isinstance(module, types.ModuleType):
            namespace = vars(module)
            for name in [name for name, value in list(namespace.items()) if id(value) in doomed]:
                del namespace[name]


# --- The hook ---------------------------------------------------------------------------------------------------
# The hook and its helpers use only what their default arguments bound when this module was imported (builtins,
# os's C functions): nothing the learner's code rebinds later (builtins, os.path, this module's globals) changes
# what they do, and the hook refuses any change to their code or defaults.

def status(path, stat_=os.stat, error=OSError):
    """``os.stat`` of ``path``, following links, or None where there is nothing to find."""
    try:
        return stat_(path)
    except error:
        return None


def identity(path, status=status) -> tuple[int, int] | None:
    """(device, inode): what a file is, whatever name reaches it."""
    found = status(path)
    return None if found is None else (found.st_dev, found.st_ino)


def folders_up(folder, status=status, isinstance=isinstance) -> list[tuple[int, int]]:
    """The identities of ``folder`` and of every folder above it up to the root, through the real ``..``."""
    chain = []
    up = "/.." if isinstance(folder, str) else b"/.."
    here = status(folder)
    while here is not None and (here.st_dev, here.st_ino) not in chain:
        chain.append((here.st_dev, here.st_ino))
        folder = folder + up
        here = status(folder)
    return chain


def parent(path, isinstance=isinstance):
    """The folder that holds ``path``, by its text: ``a/b`` -> ``a``, ``b`` -> ``.``, ``/b`` -> ``/``."""
    sep, here = ("/", ".") if isinstance(path, str) else (b"/", b".")
    stripped = path.rstrip(sep)
    if not stripped:
        return sep
    cut = stripped.rfind(sep)
    return here if cut < 0 else stripped[:cut] or sep


def plain_path(value, isinstance=isinstance, type=type, str_=str, bytes_=bytes, int_=int, slice_=slice,
               refused=PermissionError):
    """``value`` as an exact str or bytes; None for an int (a descriptor, already checked when opened).

    ``open`` and ``os`` hand the hook a path as text; only ``io.FileIO`` hands over the path object itself, which
    is refused: the open and this check would each ask it for its text, and it could answer differently.
    """
    if isinstance(value, str_):
        return str_.__str__(value)  # an exact str, whatever subclass came in
    if isinstance(value, bytes_):
        return bytes_.__getitem__(value, slice_(None))
    if isinstance(value, int_):
        return None
    raise refused(f"opening a path given as a {type(value).__name__} object is not allowed during grading: "
                  "give its text, str(path)")


def file_problem(path, opening, writing, through_descriptor, rules, status=status, folders_up=folders_up,
                 parent=parent, isinstance=isinstance, is_dir=stat.S_ISDIR):
    """Why reading (``writing``: changing) ``path`` is refused, or None; ``opening``: an ``open`` event;
    ``through_descriptor``: the call may resolve a relative path against a folder descriptor."""
    code, files, folders, others, work, devnull = rules
    sep, climb = ("/", "..") if isinstance(path, str) else (b"/", b"..")
    if through_descriptor and not path.startswith(sep) and climb in path.split(sep):
        return "a relative path that climbs with '..' may resolve against a folder descriptor"
    found = status(path)
    if found is not None and (found.st_dev, found.st_ino) in code:
        return "rfs's source and compiled files hold the reference implementations you are asked to write"
    if found is not None and (found.st_dev, found.st_ino) in files:
        return "it is one of the instructor's files"
    above = folders_up(parent(path))
    for folder in above:
        if folder in folders:
            return "it is in one of the instructor's folders"
        if folder in others:
            return "it belongs to another process"
    if opening and found is not None and is_dir(found.st_mode) and work not in folders_up(path):
        return "a folder may be opened only inside the kernel's working folder"
    if writing and work not in above and not (found is not None and (found.st_dev, found.st_ino) == devnull):
        return "the kernel may write only inside its working folder"
    return None


def hook_for(rules: tuple, watched=WATCHED):
    """The audit hook over ``rules``: the identities of rfs's code files, the instructor's files and folders, other
    processes' folders in /proc, the working folder and /dev/null."""
    def refuse(event, args, rules=rules, watched=watched, processes=PROCESS_EVENTS, around=AROUND_EVENTS,
               natives=NATIVE_MODULES, file_events=FILE_EVENTS, write_flags=WRITE_FLAGS, problem=file_problem,
               plain_path=plain_path, here=__file__, isinstance=isinstance, function=types.FunctionType, str_=str,
               refused=PermissionError):
        if event not in watched:
            return
        what, why = event, None
        if event == "open":
            path = plain_path(args[0])
            writing = args[2] is not None and args[2] & write_flags
            if path is not None:
                what = f"{'writing' if writing else 'reading'} {path!r}"
                why = problem(path, True, writing, args[1] is None, rules)  # os.open (mode None) takes dir_fd
        elif event in file_events:
            for index in file_events[event]:
                path = plain_path(args[index])
                if path is not None and why is None:
                    what = f"{event} on {path!r}"
                    why = problem(path, False, True, True, rules)
        elif event == "import" and isinstance(args[0], str_):
            name = str_.__str__(args[0])
            if name.rpartition(".")[2] in natives:
                what, why = f"importing {name}", "native calls are out of the grader's sight"
        elif event in processes:
            what = f"starting a process ({event})"
            why = "a process's code is out of the grader's sight"
        elif event in around:
            why = around[event]
        elif event == "object.__setattr__" and isinstance(args[0], function) and args[0].__code__.co_filename == here:
            what, why = f"changing {args[0].__qualname__}.{args[1]}", "the grader relies on it"
        if why is not None:
            raise refused(f"{what} is not allowed during grading: {why}")
    return refuse
