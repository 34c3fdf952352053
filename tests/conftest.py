"""Shared test fixtures: tiny models and a tiny tokenizer, so every test runs offline in seconds."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# No test may reach the network: make huggingface_hub answer from its cache only (set before it is imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402

from rfs.qwen3 import Qwen3, Qwen3Config  # noqa: E402
from rfs.tokenizer import SPECIAL_TOKENS, Tokenizer  # noqa: E402

SHARED = Path(os.environ.get("RFS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
QWEN3_TOKENIZER = SHARED / "qwen3-tokenizer" / "tokenizer.json"

TRAINING_TEXT = [
    "Q: What is 12+7?\nA: Let's think step by step. 12+7=19. The answer is \\boxed{19}.",
    "The quick brown fox jumps over the lazy dog. Hello there, how are you today?",
    "<think>\nAdd the tens, then the ones.\n</think>\n\nSo 30+4=34.",
] * 20


@pytest.fixture(scope="session")
def qwen3_tokenizer() -> Tokenizer:
    """The real Qwen3 tokenizer from ../shared (skips where it is absent)."""
    if not QWEN3_TOKENIZER.is_file():
        pytest.skip(f"the real Qwen3 tokenizer is not at {QWEN3_TOKENIZER} (set RFS_SHARED to the shared folder)")
    return Tokenizer.from_file(QWEN3_TOKENIZER)


@pytest.fixture(scope="session")
def tiny_tokenizer_file(tmp_path_factory) -> Path:
    """A byte-level BPE tokenizer.json with Qwen3's special tokens, trained in a blink on a few sentences."""
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=320, special_tokens=list(SPECIAL_TOKENS),
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_file) -> Tokenizer:
    """The tiny tokenizer wrapped as an rfs Tokenizer."""
    return Tokenizer.from_file(tiny_tokenizer_file)


def tiny_config(**overrides) -> Qwen3Config:
    """A 2-layer Qwen3 config small enough for exact CPU tests."""
    base = dict(vocab_size=320, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=512, rope_theta=10_000.0)
    return Qwen3Config(**(base | overrides))


@pytest.fixture
def tiny_model() -> Qwen3:
    """A random tiny Qwen3 (seeded) in eval mode. Its weights are scaled up so its outputs are not uniform."""
    torch.manual_seed(0)
    model = Qwen3(tiny_config()).eval()
    with torch.no_grad():
        model.embed_tokens.weight.mul_(4)
    return model


@pytest.fixture(scope="session")
def pocket_base():
    """The shipped pocket-base model and its tokenizer, on the CPU (skips where the pocket models are not built)."""
    from rfs.hub import MODELS, load_model, load_tokenizer

    if not (MODELS["pocket-base"]["path"] / "config.json").is_file():
        pytest.skip("the pocket models are not built (rfs pocket train --preset base)")
    return load_model("pocket-base", device="cpu"), load_tokenizer("pocket-base")


def assert_same_weights(folder_a: Path, folder_b: Path) -> None:
    """The two saved models hold the same weights, tensor by tensor (float tolerance): a resumed training run
    against an uninterrupted one."""
    from rfs.hub import load_model

    a, b = load_model(folder_a, device="cpu"), load_model(folder_b, device="cpu")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)


def run_script(script: str, *args: str | Path) -> subprocess.Popen:
    """``python -c script args...`` with this checkout's rfs and one thread; its output is read as text."""
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def assert_sigkill_resumes_to_the_same_weights(train: Callable[[Path], subprocess.Popen], tmp_path: Path) -> None:
    """``train(out)`` starts a training run writing to ``out``: one runs straight through, another is killed with
    SIGKILL after its third step and started again; both must end with the same weights."""
    straight, killed = train(tmp_path / "straight"), train(tmp_path / "killed")
    metrics = tmp_path / "killed" / "metrics.csv"
    while not metrics.is_file() or len(metrics.read_text().splitlines()) < 4:  # header + 3 steps
        assert killed.poll() is None, killed.stdout.read()
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "model.safetensors").exists()  # it did not finish
    resumed = train(tmp_path / "killed")
    output = resumed.communicate()[0]
    assert resumed.returncode == 0 and "resuming from step" in output, output
    assert straight.wait() == 0, straight.stdout.read()
    assert_same_weights(tmp_path / "straight", tmp_path / "killed")
