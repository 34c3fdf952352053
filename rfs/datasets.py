"""Problem sets for evaluation and training: MATH-500, MATH's training split and pocket-math, as lists of
MATH-style records (chapter 3).

A record is a dict ``{problem, solution, answer, level, type, unique_id}``. MATH-500 comes from the Hugging
Face hub (``HuggingFaceH4/MATH-500``) or from a local JSON/JSONL file. MATH's training split (the 12,000 MATH
problems outside MATH-500, for reinforcement learning and distillation on real models) comes from the hub as a
parquet file (``nlile/hendrycks-MATH-benchmark``; reading it needs ``pyarrow``, the ``hub-data`` extra), with
every problem whose text is also in MATH-500 left out, so that training never sees a test problem.
pocket-math is generated on the spot by ``rfs.pocket.data``, so it needs no download at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MATH500_REPO, MATH500_FILE = "HuggingFaceH4/MATH-500", "test.jsonl"
MATH_TRAIN_REPO, MATH_TRAIN_FILE = "nlile/hendrycks-MATH-benchmark", "data/train-00000-of-00001.parquet"


def read_json_records(path: str | Path) -> list[dict]:
    """Records from a JSON list or a JSONL file (one JSON object per line)."""
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_records(path: str | Path) -> list[dict]:
    """Records from a parquet file (one record per row; needs ``pyarrow``) or a JSON/JSONL file."""
    if str(path).endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(f"reading {path} needs pyarrow: pip install pyarrow (or pip install 'rfs[hub-data]'), "
                              "or pass a JSON/JSONL copy") from None
        return pq.read_table(path).to_pylist()
    return read_json_records(path)


def _as_math_record(record: dict, index: int) -> dict:
    """Fill the MATH layout's keys: MATH-500 calls the type 'subject'."""
    return {"problem": record["problem"], "solution": record.get("solution", ""), "answer": record["answer"],
            "level": record.get("level"), "type": record.get("type", record.get("subject")),
            "unique_id": record.get("unique_id", f"item/{index}")}


def hub_dataset_file(repo: str, filename: str, name: str, local_copy: str) -> str:
    """The local path of ``filename`` from the hub dataset ``repo``: from the Hugging Face cache, else downloaded.

    Where neither works (offline and not cached, or no connection) it raises a ``FileNotFoundError`` that names
    the fix: ``local_copy`` (how to pass a file instead), or the command that fetches the file.
    """
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(repo, filename, repo_type="dataset")
    except Exception as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "")
        reason = "the hub is offline (HF_HUB_OFFLINE=1) and it is not cached" if offline else str(error)
        raise FileNotFoundError(
            f"{name} is not available ({reason}). Pass a local copy with {local_copy}, or fetch it where there is "
            f"internet with `{'HF_HUB_OFFLINE=0 ' if offline else ''}hf download {repo} {filename} "
            f"--repo-type dataset`.") from None


def load_math500(path: str | Path | None = None) -> list[dict]:
    """The 500 MATH-500 test problems, from ``path`` (JSON or JSONL) or else from the Hugging Face hub."""
    path = path or hub_dataset_file(MATH500_REPO, MATH500_FILE, "MATH-500", "--data PATH (JSON or JSONL)")
    return [_as_math_record(r, i) for i, r in enumerate(read_json_records(path))]


def problem_key(problem: str) -> str:
    """A problem's text with its spacing evened out: two copies of one problem get the same key."""
    return " ".join(problem.split())


def load_math_train(path: str | Path | None = None, math500_path: str | Path | None = None) -> list[dict]:
    """MATH's training problems without any MATH-500 problem, for reinforcement learning and distillation.

    They come from ``path`` (parquet, JSON or JSONL) or else from the hub (``MATH_TRAIN_REPO``); the MATH-500
    problems to leave out from ``math500_path`` or else from the hub (:func:`load_math500`). A problem is left
    out when its text, spacing aside, is a MATH-500 problem's.
    """
    path = path or hub_dataset_file(MATH_TRAIN_REPO, MATH_TRAIN_FILE, "MATH's training split",
                                    "path=... (parquet, JSON or JSONL)")
    test = {problem_key(r["problem"]) for r in load_math500(math500_path)}
    records = [_as_math_record(r, i) for i, r in enumerate(read_records(path))]
    return [r for r in records if problem_key(r["problem"]) not in test]


def load_dataset(name: str, split: str = "test", limit: int | None = None,
                 path: str | Path | None = None) -> list[dict]:
    """Records of ``name`` ("pocket-math", "math500" or "math"), the first ``limit`` of them if given.

    "math" is MATH: its "train" split is :func:`load_math_train`, its "test" split MATH-500. ``path`` is a local
    copy of the chosen split (else it comes from the hub).
    """
    if name == "pocket-math":
        from rfs.pocket.data import test_records, train_records

        records = test_records() if split == "test" else train_records(limit or 10_000)
    elif name == "math500":
        if split != "test":
            raise ValueError("MATH-500 has only a 'test' split: for training problems use load_dataset('math', "
                             "split='train')")
        records = load_math500(path)
    elif name == "math":
        if split not in ("train", "test"):
            raise ValueError(f"MATH has the splits 'train' and 'test', not {split!r}")
        records = load_math_train(path) if split == "train" else load_math500(path)
    else:
        raise ValueError(f"unknown dataset {name!r}: use 'pocket-math', 'math500' or 'math'")
    return records[:limit] if limit else records
