"""Problem sets: MATH-500 from a local file (JSON or JSONL) or the hub, MATH's training split from a Hugging Face
cache the tests fill (offline), pocket-math from its generator."""

import json

import huggingface_hub
import pytest
from conftest import SHARED

from rfs.datasets import MATH500_FILE, MATH500_REPO, MATH_TRAIN_FILE, MATH_TRAIN_REPO, load_dataset, load_math500

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
    with pytest.raises(ValueError, match="only a 'test' split.*split='train'"):
        load_dataset("math500", split="train", path=MATH500)


def test_load_dataset_pocket_math_needs_no_download():
    test = load_dataset("pocket-math", limit=20)
    assert len(test) == 20 and all(KEYS <= set(r) for r in test)
    assert test == load_dataset("pocket-math")[:20]  # the fixed test split, the same every time
    train = load_dataset("pocket-math", split="train", limit=20)
    assert not {r["problem"] for r in train} & {r["problem"] for r in load_dataset("pocket-math")}


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="pocket-math.*'math'"):
        load_dataset("gsm8k")
    with pytest.raises(ValueError, match="'train' and 'test'"):
        load_dataset("math", split="validation")


# --- MATH's training split, from a Hugging Face cache the test fills ---------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def put_in_hf_cache(cache, repo: str, filename: str, write) -> None:
    """Lay out one file of a hub dataset as huggingface_hub's cache does: snapshots/<commit>/FILE and refs/main."""
    repo_dir = cache / ("datasets--" + repo.replace("/", "--"))
    (repo_dir / "snapshots" / COMMIT / filename).parent.mkdir(parents=True, exist_ok=True)
    write(repo_dir / "snapshots" / COMMIT / filename)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(COMMIT)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline (tests/conftest.py sets HF_HUB_OFFLINE=1 before the hub is imported)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_math_train_comes_from_the_hub_cache_without_the_math500_problems(hf_cache):
    pq = pytest.importorskip("pyarrow.parquet", reason="reading the parquet file needs pyarrow (the hub-data extra)")
    import pyarrow as pa

    test = json.loads(math500_path().read_text())[:3]
    train = [{"problem": "What is $1 + 1$?", "solution": "It is $\\boxed{2}$.", "answer": "2", "subject": "Algebra",
              "level": 1, "unique_id": "train/algebra/1.json"},
             {"problem": "  " + test[1]["problem"].replace(" ", "  ") + "\n", "solution": "", "answer": "x",
              "subject": "Algebra", "level": 2, "unique_id": "train/algebra/2.json"},  # a MATH-500 problem, respaced
             {"problem": "Find $x$ if $2x = 6$.", "solution": "", "answer": "3", "subject": "Prealgebra",
              "level": 1, "unique_id": "train/prealgebra/3.json"}]
    put_in_hf_cache(hf_cache, MATH_TRAIN_REPO, MATH_TRAIN_FILE,
                    lambda path: pq.write_table(pa.Table.from_pylist(train), path))
    put_in_hf_cache(hf_cache, MATH500_REPO, MATH500_FILE,
                    lambda path: path.write_text("".join(json.dumps(r) + "\n" for r in test)))
    records = load_dataset("math", split="train")
    assert [r["unique_id"] for r in records] == ["train/algebra/1.json", "train/prealgebra/3.json"]
    assert records[0] == {"problem": "What is $1 + 1$?", "solution": "It is $\\boxed{2}$.", "answer": "2",
                          "level": 1, "type": "Algebra", "unique_id": "train/algebra/1.json"}
    assert load_dataset("math", split="train", limit=1) == records[:1]
    assert [r["problem"] for r in load_dataset("math")] == [r["problem"] for r in test]  # MATH's test split


def test_math_train_offline_and_not_cached_names_the_fix(hf_cache):
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("math", split="train")
    message = str(error.value)
    assert "MATH's training split" in message and "offline" in message
    assert f"HF_HUB_OFFLINE=0 hf download {MATH_TRAIN_REPO} {MATH_TRAIN_FILE} --repo-type dataset" in message
