"""Loading and saving models: names → Hugging Face repos → safetensors → our ``Qwen3`` modules (chapter 2).

A model directory in the Hugging Face layout holds ``config.json``, ``tokenizer.json`` and the weights in
``model.safetensors`` (or shards listed in ``model.safetensors.index.json``). Real Qwen3 models are
downloaded into the Hugging Face cache with ``huggingface_hub``; the pocket models ship inside this package
in the same layout and load through the same code.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from rfs.qwen3 import Qwen3, Qwen3Config
from rfs.tokenizer import Tokenizer

POCKET_DIR = Path(__file__).parent / "pocket" / "models"

# Short names a learner types → where the model lives. Pocket models ship with rfs; the rest are on the hub.
MODELS: dict[str, dict] = {
    "pocket-base": {"path": POCKET_DIR / "pocket-base"},  # parameters: counted from the file (rfs models)
    "pocket-reasoning": {"path": POCKET_DIR / "pocket-reasoning"},
    "qwen3-0.6b-base": {"repo": "Qwen/Qwen3-0.6B-Base", "params": "0.6B"},
    "qwen3-0.6b": {"repo": "Qwen/Qwen3-0.6B", "params": "0.6B"},
    "qwen3-1.7b-base": {"repo": "Qwen/Qwen3-1.7B-Base", "params": "1.7B"},
    "qwen3-1.7b": {"repo": "Qwen/Qwen3-1.7B", "params": "1.7B"},
    "qwen3-4b-base": {"repo": "Qwen/Qwen3-4B-Base", "params": "4B"},
    "qwen3-4b": {"repo": "Qwen/Qwen3-4B", "params": "4B"},
    "qwen3-8b-base": {"repo": "Qwen/Qwen3-8B-Base", "params": "8B"},
    "qwen3-8b": {"repo": "Qwen/Qwen3-8B", "params": "8B"},
    "qwen3-14b": {"repo": "Qwen/Qwen3-14B", "params": "14B"},
    "qwen3-32b": {"repo": "Qwen/Qwen3-32B", "params": "32B"},
}

# Only these files are fetched: the weights, their index, the config and the tokenizer.
HUB_FILES = ["config.json", "tokenizer.json", "*.safetensors", "model.safetensors.index.json"]


class CheckpointError(RuntimeError):
    """A model directory or checkpoint that cannot be loaded; the message says what is wrong and the fix."""


# --- Finding a model directory ------------------------------------------------------------------------

def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


# A hub repository id is "owner/name"; anything else with a slash (./nope, /data/model, a/b/c) is a local path.
HUB_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def hub_repo(name: str) -> str:
    """The hub repository of a model name (``qwen3-0.6b`` -> ``Qwen/Qwen3-0.6B``); a repository id stays as it is.

    Raises a :class:`CheckpointError` for a name that is neither, saying what to use instead.
    """
    entry = MODELS.get(name)
    if entry and "path" in entry:
        raise CheckpointError(f"{name} ships with rfs: it needs no download (load it by name)")
    if entry:
        return entry["repo"]
    if HUB_REPO.fullmatch(name):
        return name
    raise CheckpointError(f"unknown model {name!r}: use a local folder, a hub repository such as Qwen/Qwen3-0.6B, "
                          f"or one of {sorted(MODELS)} (`rfs models` lists them)")


def cached(repo: str) -> Path | None:
    """The folder of a hub repository in the Hugging Face cache, or None when it is not (completely) there."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, allow_patterns=HUB_FILES, local_files_only=True))
    except Exception:
        return None


def download(name: str) -> Path:
    """Download a hub model (``qwen3-0.6b`` or ``Qwen/Qwen3-0.6B``) into the Hugging Face cache; return its folder.

    Offline (``HF_HUB_OFFLINE=1``) a cached model is returned as it is, and one that is not cached raises a
    :class:`CheckpointError` naming the cache and the fix; so does a hub that cannot be reached.
    """
    from huggingface_hub import constants, snapshot_download

    repo = hub_repo(name)
    if _hub_offline():
        if folder := cached(repo):
            return folder
        raise CheckpointError(f"{repo} is not in the Hugging Face cache at {constants.HF_HUB_CACHE}, and the hub is "
                              f"offline (HF_HUB_OFFLINE=1): unset HF_HUB_OFFLINE (`HF_HUB_OFFLINE=0 rfs download "
                              f"{name}`), or run `rfs download {name}` on a machine with internet and copy the cache.")
    try:
        return Path(snapshot_download(repo, allow_patterns=HUB_FILES))
    except Exception as error:
        raise CheckpointError(f"could not download {repo} from the Hugging Face hub ({error}). Check the "
                              f"connection and the name, or run `rfs download {name}` where there is one.") from None


def model_dir(name_or_path: str | Path) -> Path:
    """The local folder of a model: a pocket model, a local path, or a hub model (from cache, else downloaded).

    A path that is not a folder raises a :class:`CheckpointError` saying so; offline (``HF_HUB_OFFLINE=1``) a
    hub model that is not cached raises one naming the cache and the command that fetches it.
    """
    name = str(name_or_path)
    entry = MODELS.get(name)
    if entry and "path" in entry:
        if not (entry["path"] / "config.json").is_file():
            raise CheckpointError(f"the pocket model {name!r} is missing from {entry['path']}; "
                                  f"rebuild it with `rfs pocket train --preset {name.split('-')[1]}`")
        return entry["path"]
    if Path(name).is_dir():
        return Path(name)
    if not entry and not HUB_REPO.fullmatch(name) and ("/" in name or os.sep in name or name.startswith(".")):
        raise CheckpointError(f"there is no folder {name} ({Path(name).resolve()} does not exist): give the "
                              "folder of a model (config.json, tokenizer.json and its weights) or a name from "
                              "`rfs models`")
    return cached(hub_repo(name)) or download(name)


# --- Reading weights ----------------------------------------------------------------------------------

def read_config(folder: Path) -> Qwen3Config:
    """Read ``config.json`` of a model folder into a :class:`Qwen3Config`."""
    path = folder / "config.json"
    try:
        return Qwen3Config.from_hf_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise CheckpointError(f"missing {path}: a model folder needs config.json next to its weights") from None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a valid Qwen3 config: {error}") from None


def weight_files(folder: Path) -> list[Path]:
    """The files that hold a folder's weights: ``model.safetensors``, or the shards its index lists."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return [folder / shard for shard in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    return [folder / "model.safetensors"]


def read_safetensors(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a folder's weights (:func:`weight_files`)."""
    tensors: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        if not path.is_file():
            raise CheckpointError(f"missing weights file {path}; download the model again")
        try:
            tensors.update(load_file(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"cannot read {path} (corrupt or truncated: {error}); delete it and "
                                  "download the model again") from None
    return tensors


# Our Qwen3 computes q, k and v with one matrix and gate and up with another (rfs/qwen3.py); checkpoints store
# the parts apart. Each fused matrix is its parts stacked row-wise, in this order.
FUSED_PARTS = {"self_attn.qkv_proj": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
               "mlp.gate_up_proj": ("mlp.gate_proj", "mlp.up_proj")}


def part_rows(config: Qwen3Config) -> dict[str, list[int]]:
    """Rows of each part of the fused matrices, e.g. ``[H*E, K*E, K*E]`` for q, k, v."""
    q, kv = config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim
    return {"self_attn.qkv_proj": [q, kv, kv], "mlp.gate_up_proj": [config.intermediate_size] * 2}


def to_checkpoint_names(state: dict[str, torch.Tensor], config: Qwen3Config) -> dict[str, torch.Tensor]:
    """Our weights under checkpoint names (``model.layers.0.self_attn.q_proj.weight``), fused matrices split:
    the inverse of :func:`from_checkpoint_names`.

    This is the layout ``transformers`` and the hub use; a tied ``lm_head.weight`` is left in.
    """
    out = {name if name.startswith("lm_head") else f"model.{name}": tensor for name, tensor in state.items()}
    for layer in range(config.num_hidden_layers):
        for fused, parts in FUSED_PARTS.items():
            rows = out.pop(f"model.layers.{layer}.{fused}.weight").split(part_rows(config)[fused])
            out |= {f"model.layers.{layer}.{part}.weight": r for part, r in zip(parts, rows, strict=True)}
    return out


def from_checkpoint_names(tensors: dict[str, torch.Tensor], config: Qwen3Config) -> dict[str, torch.Tensor]:
    """Map checkpoint tensors onto our modules: strip the ``model.`` prefix and stack the parts of each fused
    matrix (``q_proj``, ``k_proj``, ``v_proj`` -> ``qkv_proj``). A tied model reuses the embedding as output
    head, so a stored ``lm_head.weight`` is dropped."""
    state = {name.removeprefix("model."): tensor for name, tensor in tensors.items()}
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    for layer in range(config.num_hidden_layers):
        for fused, parts in FUSED_PARTS.items():
            names = [f"layers.{layer}.{part}.weight" for part in parts]
            state[f"layers.{layer}.{fused}.weight"] = torch.cat([state.pop(name) for name in names])
    return state


def check_checkpoint(model: Qwen3, tensors: dict[str, torch.Tensor]) -> None:
    """Raise a :class:`CheckpointError` naming each missing, unexpected or mis-shaped tensor of a checkpoint."""
    expected = {name: tuple(t.shape) for name, t in to_checkpoint_names(model.state_dict(), model.config).items()}
    if model.config.tie_word_embeddings:
        expected.pop("lm_head.weight")
        tensors = {name: t for name, t in tensors.items() if name != "lm_head.weight"}  # allowed, not used
    problems = [f"missing tensor {name} {shape}" for name, shape in expected.items() if name not in tensors]
    problems += [f"unexpected tensor {name}" for name in tensors if name not in expected]
    problems += [f"tensor {name} has shape {tuple(tensors[name].shape)}, config.json implies {shape}"
                 for name, shape in expected.items() if name in tensors and tuple(tensors[name].shape) != shape]
    if problems:
        raise CheckpointError("checkpoint does not match its config: " + "; ".join(problems[:10]))


def cpu_flags() -> str:
    """The CPU's feature flags as Linux lists them in ``/proc/cpuinfo`` ("" elsewhere)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def computes_natively(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``device`` has instructions for ``dtype`` arithmetic. Without them PyTorch emulates 16-bit floats
    through float32, and bfloat16 matrix products and autocast run about 10x slower than float32 on a CPU.

    x86 CPUs compute bfloat16 with AVX-512 BF16 or AMX, Arm CPUs with their bf16 extension (``/proc/cpuinfo``
    flags ``avx512_bf16``, ``amx_bf16``, ``bf16``); float16 on a CPU counts as emulated. GPUs compute float16,
    and bfloat16 where CUDA says so.
    """
    if dtype == torch.float32:
        return True
    if device.type == "cuda":
        return dtype == torch.float16 or torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return dtype == torch.bfloat16 and re.search(r"\b(avx512_bf16|amx_bf16|bf16)\b", cpu_flags()) is not None
    return dtype == torch.float16  # MPS


def compute_dtype(stored: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype a model stored in ``stored`` computes in on ``device`` by default: as stored where the device
    computes that natively, else float32 (twice the memory of 16-bit weights, but far faster than emulation)."""
    return stored if computes_natively(device, stored) else torch.float32


def load_model(name_or_path: str | Path, device: str | torch.device | None = None,
               dtype: torch.dtype | None = None) -> Qwen3:
    """Load a model by name (``pocket-base``, ``qwen3-0.6b``, ...), folder or book ``.pth`` checkpoint, ready for
    inference (eval mode).

    ``device`` defaults to :func:`rfs.generate.default_device` (CUDA, then MPS, then CPU); ``dtype`` defaults to
    the checkpoint's own where the device computes it natively, else float32 (:func:`compute_dtype`).
    """
    from rfs.generate import default_device

    device = torch.device(device) if device else default_device()
    if str(name_or_path).endswith(".pth"):  # the book's own checkpoints, under its parameter names
        from rfs.book_checkpoints import read_book_checkpoint

        config, tensors = read_book_checkpoint(name_or_path)
    else:
        folder = model_dir(name_or_path)
        config, tensors = read_config(folder), read_safetensors(folder)
    with torch.device("meta"):  # build without allocating, then take the loaded tensors as they are
        model = Qwen3(config)
    check_checkpoint(model, tensors)
    state = from_checkpoint_names(tensors, config)
    dtype = dtype or compute_dtype(next(iter(state.values())).dtype, device)
    state = {name: tensor.to(dtype) for name, tensor in state.items()}
    model.load_state_dict(state, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    return model.to(device).eval()


def model_kind(folder: Path) -> str:
    """The kind of model in a folder: "pocket" for a model rfs trained on pocket-math (its ``config.json`` says
    ``"rfs_kind": "pocket"``), else "qwen3". The kind decides prompts and defaults (``rfs.prompts.defaults_for``)."""
    path = folder / "config.json"
    kind = json.loads(path.read_text()).get("rfs_kind", "qwen3") if path.is_file() else "qwen3"
    if kind not in ("pocket", "qwen3"):
        raise CheckpointError(f"{path} says rfs_kind {kind!r}: use 'pocket' or 'qwen3', or leave it out")
    return kind


def load_tokenizer(name_or_path: str | Path) -> Tokenizer:
    """Load the tokenizer that belongs to a model (its folder's ``tokenizer.json``, or the one beside a book
    ``.pth`` checkpoint), knowing the model's kind."""
    if str(name_or_path).endswith(".pth"):  # the book's checkpoints are real Qwen3
        from rfs.book_checkpoints import book_tokenizer_file

        return Tokenizer.from_file(book_tokenizer_file(name_or_path))
    folder = model_dir(name_or_path)
    return Tokenizer.from_file(folder / "tokenizer.json", model_kind(folder))


def save_model(model: Qwen3, out_dir: str | Path, tokenizer_json: str | Path | None = None,
               kind: str = "qwen3", weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``model`` in the Hugging Face layout (``config.json``, ``model.safetensors``), loadable by
    :func:`load_model` and by ``transformers``' ``Qwen3ForCausalLM``. Optionally copy a ``tokenizer.json``.

    A pocket model (``kind="pocket"``) says so in its ``config.json`` (see :func:`model_kind`). ``weights``
    replaces ``model.state_dict()``: a model sharded across processes passes its gathered weights
    (``rfs.distributed.full_state``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = model.state_dict() if weights is None else weights
    state = {name: t.detach().contiguous().cpu() for name, t in to_checkpoint_names(weights, model.config).items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")  # shared with the embedding; transformers re-ties it on load
    dtype = next(iter(state.values())).dtype
    config = model.config.to_hf_dict() | {"torch_dtype": str(dtype).removeprefix("torch.")}
    if kind != "qwen3":
        config["rfs_kind"] = kind
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(state, out / "model.safetensors", metadata={"format": "pt"})
    if tokenizer_json is not None:
        (out / "tokenizer.json").write_bytes(Path(tokenizer_json).read_bytes())
    return out


def count_parameters(folder: Path) -> int:
    """The number of parameters stored in a model folder, read from the safetensors headers (no tensor is loaded)."""
    total = 0
    for path in weight_files(folder):
        with safe_open(path, "pt") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())
    return total


def list_models() -> list[dict]:
    """One row per known model: name, parameters, where it comes from, and whether it is available offline."""
    from huggingface_hub import try_to_load_from_cache

    rows = []
    for name, entry in MODELS.items():
        if "path" in entry:
            available, source = (entry["path"] / "config.json").is_file(), "shipped with rfs"
            params = f"{count_parameters(entry['path']) / 1e6:.1f}M" if available else "?"
        else:
            available, source = isinstance(try_to_load_from_cache(entry["repo"], "config.json"), str), entry["repo"]
            params = entry["params"]
        rows.append({"name": name, "params": params, "source": source, "cached": available})
    return rows
