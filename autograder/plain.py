"""Plain data: what may cross between a learner's kernel and the grader.

A learner's function runs in its own process; its arguments go there, and its results come back, as JSON text
in which only plain values may appear: None, booleans, numbers, strings, lists, tuples, dicts with string keys,
tensors (as safetensors bytes, base64) and a few named stand-ins (``{"__stand__": name, ...}``) that each side
builds into its own object. The grader decodes the text itself, so an object whose ``__eq__`` says yes to
anything never reaches a comparison: it is not plain data, and its part fails with a message saying so.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

MAX_DEPTH = 20


class NotPlain(TypeError):
    """A value that is not plain data (a subclass of str, an object with its own ``__eq__``, ...)."""


@dataclass(frozen=True)
class Stand:
    """A named stand-in for an object each side builds itself: a fake model, a Completion, a scorer."""

    name: str
    fields: tuple = ()


def encode(value: object, depth: int = 0) -> object:
    """``value`` as JSON-ready data; raises NotPlain for anything else. Types are checked exactly (no subclasses)."""
    if depth > MAX_DEPTH:
        raise NotPlain("a value nested more than 20 levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind is tuple:
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise NotPlain("a dict whose keys are not all strings")
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    if kind is torch.Tensor:
        data = save_tensors({"t": value.detach().cpu().contiguous()})
        return {"__tensor__": base64.b64encode(data).decode("ascii")}
    if kind is Stand:
        return {"__stand__": value.name, "fields": [encode(v, depth + 1) for v in value.fields]}
    raise NotPlain(f"a value of type {kind.__module__}.{kind.__qualname__}")


def decode(data: object, depth: int = 0) -> object:
    """The value that ``encode`` wrote; raises ValueError on anything it did not write."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, depth + 1) for v in data]
    if type(data) is dict and len(data) == 1:
        [(tag, inner)] = data.items()
        if tag == "__tuple__" and type(inner) is list:
            return tuple(decode(v, depth + 1) for v in inner)
        if tag == "__dict__" and type(inner) is dict:
            return {k: decode(v, depth + 1) for k, v in inner.items()}
        if tag == "__tensor__" and type(inner) is str:
            return load_tensors(base64.b64decode(inner, validate=True))["t"]
    if type(data) is dict and set(data) == {"__stand__", "fields"} and type(data["fields"]) is list:
        return Stand(str(data["__stand__"]), tuple(decode(v, depth + 1) for v in data["fields"]))
    raise ValueError(f"not plain data: {str(data)[:80]}")


def dumps(value: object) -> str:
    """``value`` as JSON text (NotPlain if it is not plain data)."""
    return json.dumps(encode(value))


def loads(text: str) -> object:
    """The value in JSON text written by ``dumps``; ValueError if the text holds anything else."""
    return decode(json.loads(text))


def describe(value: object, limit: int = 120) -> str:
    """A short, readable spelling of a plain value for messages (tensors by shape and dtype)."""
    if isinstance(value, torch.Tensor):
        text = f"tensor of shape {tuple(value.shape)}, {value.dtype}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
