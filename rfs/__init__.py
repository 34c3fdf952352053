"""rfs: reasoning from scratch.

A small, readable library that builds a reasoning LLM step by step on top of the Qwen3 architecture.
Each module is one idea and names the lesson (chapter) that explains it.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``rfs.load_model`` and ``rfs.load_tokenizer``, the entry points of :mod:`rfs.hub` (lesson 2).

    They are imported on first use, so that ``import rfs`` (and ``rfs --help``) does not wait for torch.
    """
    if name in ("load_model", "load_tokenizer"):
        from rfs import hub

        return getattr(hub, name)
    raise AttributeError(f"module 'rfs' has no attribute {name!r}")
