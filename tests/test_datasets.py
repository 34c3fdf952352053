"""Problem sets: MATH-500 from a local file (JSON or JSONL) or the hub, pocket-math from its generator."""

import json

import huggingface_hub
import pytest
from conftest import SHARED

from rfs.datasets import load_dataset, load_math500

MATH500 = SHARED / "data" / "math500_test.json"
KEYS = {"problem", "solution", "answer", "level", "type", "unique_id"}


def math500_path():
    if not MATH500.is_file():
        pytest.skip(f"MATH-500 is not at {MATH500} (set RFS_SHARED to the shared folder)")
    return MATH500


def test_math500_from_a_local_json_file():
    records = load_math500(math500_path())
    assert len(records) == 500
    assert all(set(r) == KEYS for r in records)
    assert len({r["unique_id"] for r in records}) == 500
    assert {r["level"] for r in records} == {1, 2, 3, 4, 5}
    assert "Precalculus" in {r["type"] for r in records}  # MATH-500's "subject" becomes the MATH "type"


def test_math500_from_a_jsonl_file_fills_missing_keys(tmp_path):
    path = tmp_path / "test.jsonl"
    rows = [{"problem": "1+1?", "answer": "2", "subject": "Algebra", "level": 1},
            {"problem": "2+2?", "answer": "4", "type": "Algebra", "level": 2, "unique_id": "mine/7"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    first, second = load_math500(path)
    assert first == {"problem": "1+1?", "solution": "", "answer": "2", "level": 1, "type": "Algebra",
                     "unique_id": "item/0"}
    assert second["unique_id"] == "mine/7" and second["type"] == "Algebra"


def test_math500_offline_without_a_copy_says_how_to_fix_it(monkeypatch):
    def offline(*args, **kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError("no connection and not in the cache")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(FileNotFoundError) as error:
        load_math500()
    assert "--data PATH" in str(error.value) and "hf download HuggingFaceH4/MATH-500" in str(error.value)


def test_load_dataset_math500_with_a_limit():
    records = load_dataset("math500", limit=5, path=math500_path())
    assert [r["unique_id"] for r in records] == [r["unique_id"] for r in load_math500(MATH500)[:5]]
    with pytest.raises(ValueError, match="only a 'test' split"):
        load_dataset("math500", split="train", path=MATH500)


def test_load_dataset_pocket_math_needs_no_download():
    test = load_dataset("pocket-math", limit=20)
    assert len(test) == 20 and all(KEYS <= set(r) for r in test)
    assert test == load_dataset("pocket-math")[:20]  # the fixed test split, the same every time
    train = load_dataset("pocket-math", split="train", limit=20)
    assert not {r["problem"] for r in train} & {r["problem"] for r in load_dataset("pocket-math")}


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="pocket-math"):
        load_dataset("gsm8k")
