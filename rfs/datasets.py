"""Problem sets for evaluation: MATH-500 and pocket-math, as lists of MATH-style records (chapter 3).

A record is a dict ``{problem, solution, answer, level, type, unique_id}``. MATH-500 comes from the Hugging
Face hub (``HuggingFaceH4/MATH-500``) or from a local JSON/JSONL file; pocket-math is generated on the spot by
``rfs.pocket.data``, so it needs no download at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MATH500_REPO, MATH500_FILE = "HuggingFaceH4/MATH-500", "test.jsonl"


def read_json_records(path: str | Path) -> list[dict]:
    """Records from a JSON list or a JSONL file (one JSON object per line)."""
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _as_math_record(record: dict, index: int) -> dict:
    """Fill the MATH layout's keys: MATH-500 calls the type 'subject'."""
    return {"problem": record["problem"], "solution": record.get("solution", ""), "answer": record["answer"],
            "level": record.get("level"), "type": record.get("type", record.get("subject")),
            "unique_id": record.get("unique_id", f"item/{index}")}


def load_math500(path: str | Path | None = None) -> list[dict]:
    """The 500 MATH-500 test problems, from ``path`` (JSON or JSONL) or else from the Hugging Face hub."""
    if path is None:
        from huggingface_hub import hf_hub_download

        try:
            path = hf_hub_download(MATH500_REPO, MATH500_FILE, repo_type="dataset")
        except Exception as error:
            offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "")
            raise FileNotFoundError(
                f"MATH-500 is not available ({'the hub is offline and it is not cached' if offline else error}). "
                f"Pass a local copy with --data PATH (JSON or JSONL), or fetch it where there is internet with "
                f"`hf download {MATH500_REPO} {MATH500_FILE} --repo-type dataset`.") from None
    return [_as_math_record(r, i) for i, r in enumerate(read_json_records(path))]


def load_dataset(name: str, split: str = "test", limit: int | None = None,
                 path: str | Path | None = None) -> list[dict]:
    """Records of ``name`` ("pocket-math" or "math500"), the first ``limit`` of them if given."""
    if name == "pocket-math":
        from rfs.pocket.data import test_records, train_records

        records = test_records() if split == "test" else train_records(limit or 10_000)
    elif name == "math500":
        if split != "test":
            raise ValueError("MATH-500 has only a 'test' split")
        records = load_math500(path)
    else:
        raise ValueError(f"unknown dataset {name!r}: use 'pocket-math' or 'math500'")
    return records[:limit] if limit else records
