"""rfs: reasoning from scratch.

A small, readable library that builds a reasoning LLM step by step on top of the Qwen3 architecture.
Each module is one idea and names the lesson (chapter) that explains it.
"""

__version__ = "0.1.0"
