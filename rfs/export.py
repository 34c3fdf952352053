"""Taking a model out of the course: a Hugging Face model folder, and uploading it to the hub (chapter 8).

``rfs export DIR --to hf OUT`` writes what ``transformers`` and the tools built on it (vLLM, llama.cpp's
converter, Ollama imports) expect in a model folder:

- ``config.json`` and ``model.safetensors``, written by :func:`rfs.hub.save_model` (Qwen3ForCausalLM names);
- ``generation_config.json``: which tokens end generation;
- ``tokenizer.json`` and ``tokenizer_config.json``, whose ``chat_template`` is the chat format of
  :meth:`rfs.tokenizer.Tokenizer.render_chat` written in Jinja, the template language ``transformers`` runs
  (``enable_thinking=False`` switches thinking off, as for real Qwen3).

Then ``AutoModelForCausalLM.from_pretrained(OUT)`` gives the same logits as ``rfs.load_model(OUT)``, and
``AutoTokenizer.from_pretrained(OUT).apply_chat_template(...)`` the same text as ``render_chat``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer

# render_chat in Jinja. An assistant turn before the last user message loses its <think> block; later ones keep
# it, with an empty block when there was none. The generation prompt opens the assistant's turn, and with
# enable_thinking=false it also closes an empty thinking block, so the model answers directly.
CHAT_TEMPLATE = """\
{%- set ns = namespace(last_user=-1) -%}
{%- for message in messages -%}
  {%- if message['role'] == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
  {%- set content = message['content'] -%}
  {%- if message['role'] == 'assistant' -%}
    {%- set reasoning = '' -%}
    {%- set answer = content -%}
    {%- if '<think>' in content and '</think>' in content.split('<think>', 1)[1] -%}
      {%- set inside = content.split('<think>', 1)[1].split('</think>', 1) -%}
      {%- set reasoning = inside[0].strip('\\n') -%}
      {%- set answer = content.split('<think>', 1)[0] + inside[1].lstrip() -%}
    {%- endif -%}
    {%- set answer = answer.lstrip('\\n') -%}
    {%- if loop.index0 < ns.last_user -%}
      {%- set content = answer -%}
    {%- else -%}
      {%- set content = '<think>\\n' + reasoning + '\\n</think>\\n\\n' + answer -%}
    {%- endif -%}
  {%- endif -%}
  {{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}
{%- endif -%}
"""


def tokenizer_config(tokenizer: Tokenizer, context_length: int) -> dict:
    """The ``tokenizer_config.json`` that lets ``AutoTokenizer`` load ``tokenizer.json`` as it is, with the chat
    template and the special tokens by name."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",  # reads tokenizer.json unchanged, whatever its vocabulary
        "eos_token": "<|im_end|>",  # ends a chat turn, as in Qwen3's chat models
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "model_max_length": context_length,
        "clean_up_tokenization_spaces": False,  # decode exactly what was encoded
        "chat_template": CHAT_TEMPLATE,
    }


def write_hf_folder(model: Qwen3, tokenizer: Tokenizer, out_dir: str | Path) -> Path:
    """Write ``model`` and its tokenizer as a Hugging Face model folder (see the module docstring)."""
    from rfs.hub import save_model

    out = save_model(model, out_dir, kind=tokenizer.kind)  # a pocket model stays one when rfs reads it back
    tokenizer.tokenizer.save(str(out / "tokenizer.json"))
    generation = {"eos_token_id": tokenizer.stop_ids, "pad_token_id": tokenizer.pad_id, "bos_token_id": None}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    config = tokenizer_config(tokenizer, model.config.max_position_embeddings)
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out


def export_hf(name_or_path: str | Path, out_dir: str | Path) -> Path:
    """Export a model by name (``pocket-reasoning``), folder (a training run's output) or book ``.pth``
    checkpoint to ``out_dir``."""
    from rfs.hub import load_model, load_tokenizer

    return write_hf_folder(load_model(name_or_path, device="cpu"), load_tokenizer(name_or_path), out_dir)


def push_to_hub(folder: str | Path, repo_id: str, private: bool = True) -> str:
    """Upload an exported folder to the Hugging Face hub as the model repo ``repo_id``; returns its URL.

    Needs a token (``hf auth login`` or the ``HF_TOKEN`` variable). The repo is created if missing, private unless
    asked otherwise.
    """
    from huggingface_hub import HfApi, get_token

    if get_token() is None:
        raise ValueError("no Hugging Face token is configured: run `hf auth login` or set HF_TOKEN, then retry")
    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload a model exported by rfs")
    return f"https://huggingface.co/{repo_id}"
