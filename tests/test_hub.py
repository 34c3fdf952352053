"""Loading checkpoints: a transformers-written model from an offline Hugging Face cache, and clear errors."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import tiny_config

from rfs import hub
from rfs.hub import CheckpointError, compute_dtype, count_parameters, hub_repo, list_models, load_model, save_model
from rfs.qwen3 import Qwen3

transformers = pytest.importorskip("transformers", reason="transformers is the test oracle (pip install -e .[dev])")

REPO = "rfs-tests/tiny-qwen3"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fill_hf_cache(cache, hf_model, tokenizer_file):
    """Lay a checkpoint out exactly as huggingface_hub's cache does: snapshots/<commit>/ and refs/main."""
    repo_dir = cache / ("models--" + REPO.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / COMMIT
    hf_model.save_pretrained(snapshot, safe_serialization=True)
    (snapshot / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return snapshot


@pytest.mark.slow  # over 10 s: imports transformers
@pytest.mark.parametrize("tied", [True, False])
def test_transformers_checkpoint_loads_offline_from_the_hf_cache(tmp_path, tiny_tokenizer_file, tied):
    torch.manual_seed(3)
    hf_config = transformers.Qwen3Config(**{k: v for k, v in tiny_config(tie_word_embeddings=tied).to_hf_dict().items()
                                            if k != "architectures"})
    hf = transformers.Qwen3ForCausalLM(hf_config).eval()
    fill_hf_cache(tmp_path / "hub", hf, tiny_tokenizer_file)
    ids = torch.randint(0, 320, (2, 11))
    torch.save({"ids": ids, "logits": hf(ids).logits.detach()}, tmp_path / "expected.pt")
    script = (
        "import sys, torch, rfs.hub as hub\n"
        f"model = hub.load_model({REPO!r}, device='cpu')\n"
        f"tok = hub.load_tokenizer({REPO!r})\n"
        f"expected = torch.load({str(tmp_path / 'expected.pt')!r})\n"
        "with torch.no_grad():\n"
        "    diff = (model(expected['ids']) - expected['logits']).abs().max().item()\n"
        "print(diff, tok.im_end_id)\n"
    )
    env = os.environ | {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    diff, im_end = done.stdout.split()
    assert float(diff) < 1e-4 and int(im_end) > 0


def test_offline_model_not_in_cache_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(CheckpointError) as error:
        load_model("qwen3-0.6b")
    message = str(error.value)
    assert "Qwen/Qwen3-0.6B" in message and "rfs download qwen3-0.6b" in message and "offline" in message


def test_save_and_load_round_trip(tmp_path, tiny_tokenizer_file):
    torch.manual_seed(0)
    model = Qwen3(tiny_config()).eval()
    save_model(model, tmp_path, tokenizer_json=tiny_tokenizer_file)
    loaded = load_model(tmp_path, device="cpu")
    ids = torch.randint(0, 320, (1, 9))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), model(ids))
    assert loaded.lm_head.weight is loaded.embed_tokens.weight  # still tied after loading
    assert load_model(tmp_path, device="cpu", dtype=torch.bfloat16).embed_tokens.weight.dtype == torch.bfloat16


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    save_model(Qwen3(tiny_config()), tmp_path)
    return tmp_path


def test_missing_weights_file(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing weights file .*model.safetensors"):
        load_model(saved, device="cpu")


def test_missing_config(saved):
    (saved / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(saved, device="cpu")


def test_truncated_safetensors(saved):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(saved, device="cpu")


def test_shape_mismatch_names_the_tensor(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps(config | {"intermediate_size": 100}))
    with pytest.raises(CheckpointError, match=r"layers\.0\.mlp\.gate_proj\.weight has shape \(96, 64\)"):
        load_model(saved, device="cpu")


def test_unknown_name():
    with pytest.raises(CheckpointError, match="rfs models"):
        load_model("qwen9-huge")


def test_list_models_covers_pocket_and_hub():
    rows = {row["name"]: row for row in list_models()}
    assert rows["qwen3-0.6b-base"]["source"] == "Qwen/Qwen3-0.6B-Base"
    assert rows["pocket-base"]["source"] == "shipped with rfs"
    if rows["pocket-base"]["cached"]:
        model = load_model("pocket-base", device="cpu")
        assert rows["pocket-base"]["params"] == f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M" == "1.7M"


def test_package_level_entry_points_load_a_model_and_its_tokenizer(tmp_path, tiny_tokenizer_file):
    import rfs

    save_model(Qwen3(tiny_config()), tmp_path, tokenizer_json=tiny_tokenizer_file)
    assert rfs.load_model is load_model
    assert isinstance(rfs.load_model(tmp_path, device="cpu"), Qwen3)
    assert rfs.load_tokenizer(tmp_path).encode("<|im_end|>") == [rfs.load_tokenizer(tmp_path).im_end_id]
    with pytest.raises(AttributeError, match="no attribute 'load_modle'"):
        rfs.load_modle  # noqa: B018


def test_hub_repo_takes_short_names_and_repository_ids_and_refuses_the_rest():
    assert hub_repo("qwen3-0.6b") == "Qwen/Qwen3-0.6B" and hub_repo("Qwen/Qwen3-0.6B") == "Qwen/Qwen3-0.6B"
    for name in ["foo", "./model", "a/b/c"]:
        with pytest.raises(CheckpointError, match="unknown model"):
            hub_repo(name)


@pytest.mark.parametrize("flags, bf16", [("fpu avx2 avx512f", False), ("avx512f avx512_bf16", True),
                                          ("amx_bf16 amx_tile", True), ("fp asimd bf16 i8mm", True), ("", False)])
def test_bfloat16_is_the_default_only_where_the_cpu_computes_it(flags, bf16, monkeypatch, saved):
    monkeypatch.setattr(hub, "cpu_flags", lambda: flags)
    cpu = torch.device("cpu")
    assert compute_dtype(torch.bfloat16, cpu) == (torch.bfloat16 if bf16 else torch.float32)
    assert compute_dtype(torch.float32, cpu) == torch.float32 and compute_dtype(torch.float16, cpu) == torch.float32
    bf16_folder = save_model(load_model(saved, device="cpu", dtype=torch.bfloat16), saved / "bf16")
    assert next(load_model(bf16_folder, device="cpu").parameters()).dtype == compute_dtype(torch.bfloat16, cpu)
    assert next(load_model(bf16_folder, device="cpu", dtype=torch.bfloat16).parameters()).dtype == torch.bfloat16


def test_count_parameters_reads_the_headers(saved):
    model = load_model(saved, device="cpu")
    assert count_parameters(saved) == sum(p.numel() for p in model.parameters())


def test_offline_download_of_a_cached_model_returns_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "cached", lambda repo: tmp_path / repo if repo == "Qwen/Qwen3-0.6B" else None)
    assert hub.download("qwen3-0.6b") == tmp_path / "Qwen/Qwen3-0.6B"
    with pytest.raises(CheckpointError, match="Qwen/Qwen3-1.7B is not in the Hugging Face cache"):
        hub.download("qwen3-1.7b")


@pytest.mark.slow  # over 10 s: imports transformers
def test_sharded_checkpoint_written_by_transformers_loads_with_equal_logits(tmp_path):
    torch.manual_seed(4)
    hf_config = transformers.Qwen3Config(**{k: v for k, v in tiny_config(tie_word_embeddings=False).to_hf_dict().items()
                                            if k != "architectures"})
    hf = transformers.Qwen3ForCausalLM(hf_config).eval()
    hf.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="50KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*-of-*.safetensors"))
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(shards) > 2 and sorted(set(index["weight_map"].values())) == shards
    assert not (tmp_path / "model.safetensors").exists()
    assert hub.weight_files(tmp_path) == [tmp_path / name for name in shards]
    assert count_parameters(tmp_path) == sum(p.numel() for p in hf.parameters())
    model = load_model(tmp_path, device="cpu", dtype=torch.float32)
    ids = torch.randint(0, 320, (2, 11))
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max().item() < 1e-4
    (tmp_path / shards[-1]).unlink()
    with pytest.raises(CheckpointError, match=f"missing weights file .*{shards[-1]}"):
        load_model(tmp_path, device="cpu")
