"""Print how long each lesson took to execute in the last site build, read from the build's jupyter-cache.

Usage: python .ci/lesson_times.py _build/.jupyter_cache   (make site-build runs it after the build)
A lesson whose code did not change since an earlier build comes from the cache: its time is that earlier run's.
"""

import sys
from pathlib import Path

from jupyter_cache import get_cache


def lesson_times(cache_path: str) -> dict[str, float]:
    """Seconds each notebook's latest cached execution took, by notebook path relative to the working directory."""
    times: dict[str, tuple] = {}  # path -> (when cached, seconds)
    for record in get_cache(cache_path).list_cache_records():
        path = Path(record.uri).resolve()
        seconds = record.data.get("execution_seconds")
        if seconds is not None and (path not in times or record.created > times[path][0]):
            times[path] = (record.created, seconds)
    cwd = Path.cwd().resolve()
    return {str(p.relative_to(cwd) if p.is_relative_to(cwd) else p): s for p, (_, s) in sorted(times.items())}


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: python .ci/lesson_times.py BUILD_CACHE_FOLDER (e.g. _build/.jupyter_cache, after a build)")
    print("Lesson execution times (seconds; from the cache of the last site build):")
    for path, seconds in lesson_times(sys.argv[1]).items():
        print(f"  {seconds:7.1f}  {path}")
