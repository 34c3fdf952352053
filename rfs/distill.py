"""Teacher data for distillation: a stronger model's reasoning traces, checked and kept as JSONL (chapter 8).

Distillation trains a small student on what a teacher writes. This module asks the teacher: either a model
loaded in this process (batched generation, the fastest way on a CPU) or any OpenAI-compatible HTTP endpoint
(the course's own ``rfs serve``, Ollama, vLLM, a hosted API). Each answer is split into its thinking and its
final answer, graded against the reference with the verifier, and counted in tokens.

One JSON record per problem, a superset of the book's distillation files (``problem``, ``gtruth_answer``,
``message_thinking``, ``message_content``), so the book's published teacher files load as they are::

    {"id", "problem", "gtruth_answer", "message_thinking", "message_content", "answer", "correct",
     "prompt_tokens", "completion_tokens", "finish_reason", "teacher", "kept"}

Records are appended as answers arrive, so an interrupted run resumes: problems already in the file are not
asked again. Every answer is written, each marked ``kept`` or not by the filter (correct answers only, and
at most ``max_tokens`` tokens), so that the filter can be changed later without asking the teacher again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from rfs.datasets import read_json_records
from rfs.verify import extract_answer, grade_answer


@dataclass(frozen=True)
class TeacherSettings:
    """Who the teacher is and how it is asked.

    ``teacher`` is a model name or folder (run in this process) or the base URL of an OpenAI-compatible
    endpoint (``http://127.0.0.1:8000/v1``). ``model_name`` is the model id sent to an endpoint (default: the
    first one its ``/v1/models`` lists). ``concurrency`` requests are in flight at once; a request answered
    with HTTP 429 or 5xx is retried ``retries`` times, waiting ``backoff_s``, then twice as long each time.
    """

    teacher: str
    model_name: str | None = None
    api_key: str | None = None
    thinking: bool = True
    temperature: float = 0.0
    max_new_tokens: int = 384
    seed: int = 0
    concurrency: int = 8
    batch_size: int = 128  # problems generated together by a local teacher
    retries: int = 6
    backoff_s: float = 1.0

    @property
    def is_endpoint(self) -> bool:
        """Whether the teacher is reached over HTTP."""
        return self.teacher.startswith(("http://", "https://"))


@dataclass(frozen=True)
class TraceFilter:
    """Which traces a student learns from: verified-correct ones only (``correct_only``), at most ``max_tokens``
    completion tokens, and finished (not cut by the token limit)."""

    correct_only: bool = True
    max_tokens: int | None = None

    def keeps(self, record: dict) -> bool:
        """Whether ``record`` passes the filter."""
        if self.correct_only and not record["correct"]:
            return False
        if record.get("finish_reason") == "length":
            return False
        tokens = record.get("completion_tokens")
        return self.max_tokens is None or tokens is None or tokens <= self.max_tokens


# --- One teacher answer as a record ---------------------------------------------------------------------------

def make_record(problem: dict, thinking: str, content: str, prompt_tokens: int | None, completion_tokens: int | None,
                finish_reason: str, teacher: str) -> dict:
    """A trace record: the problem, the teacher's thinking and answer, the verifier's verdict and token counts."""
    answer = extract_answer(content)
    return {"id": problem["unique_id"], "problem": problem["problem"], "gtruth_answer": problem["answer"],
            "message_thinking": thinking, "message_content": content, "answer": answer,
            "correct": answer is not None and grade_answer(answer, problem["answer"]),
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "finish_reason": finish_reason,
            "teacher": teacher}


def ask_local(problems: list[dict], settings: TeacherSettings, progress: bool = True) -> Iterator[list[dict]]:
    """Ask a model loaded in this process, ``settings.batch_size`` problems at a time; yields each batch's records."""
    import torch

    from rfs.hub import load_model, load_tokenizer
    from rfs.prompts import build_prompt
    from rfs.scaling import sample_solutions
    from rfs.serve import split_reasoning

    model = load_model(settings.teacher, dtype=torch.float32)
    tokenizer = load_tokenizer(settings.teacher)
    for start in tqdm(range(0, len(problems), settings.batch_size), desc="teacher batches", disable=not progress):
        batch = problems[start:start + settings.batch_size]
        completions = sample_solutions(model, tokenizer, [p["problem"] for p in batch], 1, settings.temperature,
                                       prompt="chat", thinking=settings.thinking,
                                       max_new_tokens=settings.max_new_tokens, seed=settings.seed + start)
        records = []
        for problem, [completion] in zip(batch, completions, strict=True):
            prompt_tokens = len(tokenizer.encode(build_prompt(tokenizer, problem["problem"], "chat",
                                                              settings.thinking)))
            thinking, content = split_reasoning(completion.text if settings.thinking else
                                                "<think>\n\n</think>\n\n" + completion.text)
            records.append(make_record(problem, thinking, content, prompt_tokens, len(completion.token_ids),
                                       completion.finish_reason, settings.teacher))
        yield records


# --- Asking an HTTP endpoint ------------------------------------------------------------------------------------

def with_retries(request: Callable[[], object], retries: int, backoff_s: float) -> object:
    """``request()``, retried after HTTP 429 (rate limit), 5xx (server trouble) or a lost connection.

    The wait doubles after each failure (``backoff_s``, 2x, 4x, ...): a busy server gets room to recover. Other
    errors (a bad request, a wrong key) are raised at once, since asking again cannot help.
    """
    import openai

    for attempt in range(retries + 1):
        try:
            return request()
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError):
            if attempt == retries:
                raise
            time.sleep(backoff_s * 2 ** attempt)
    raise AssertionError("unreachable")


def endpoint_client(settings: TeacherSettings):
    """An ``openai.OpenAI`` client for the endpoint, and the model id to ask (its first model by default)."""
    import os

    import openai

    # The client's own retries are off: with_retries does them, visibly.
    client = openai.OpenAI(base_url=settings.teacher, api_key=settings.api_key or os.environ.get("OPENAI_API_KEY")
                           or "unused", max_retries=0)
    name = settings.model_name or with_retries(lambda: client.models.list().data[0].id, settings.retries,
                                               settings.backoff_s)
    return client, name


def ask_endpoint_once(client, name: str, problem: dict, settings: TeacherSettings) -> dict:
    """One chat request for ``problem``; the reasoning comes in ``reasoning_content`` (vLLM, DeepSeek, rfs serve)
    or inside ``<think>...</think>`` at the start of the content (Ollama and others)."""
    from rfs.serve import split_reasoning

    response = with_retries(lambda: client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": problem["problem"]}], temperature=settings.temperature,
        max_tokens=settings.max_new_tokens, seed=settings.seed,
        extra_body={"chat_template_kwargs": {"enable_thinking": settings.thinking}}),
        settings.retries, settings.backoff_s)
    choice = response.choices[0]
    reasoning = getattr(choice.message, "reasoning_content", None) or (choice.message.model_extra or {}).get(
        "reasoning_content")
    content = choice.message.content or ""
    if reasoning is None:
        reasoning, content = split_reasoning(content)
    usage = response.usage
    return make_record(problem, reasoning, content, usage and usage.prompt_tokens, usage and usage.completion_tokens,
                       choice.finish_reason, settings.teacher)


def ask_endpoint(problems: list[dict], settings: TeacherSettings, progress: bool = True) -> Iterator[list[dict]]:
    """Ask an OpenAI-compatible endpoint, ``settings.concurrency`` requests at a time; yields each answer as soon
    as it arrives (as a list of one record)."""
    client, name = endpoint_client(settings)
    with ThreadPoolExecutor(settings.concurrency) as pool:
        futures = [pool.submit(ask_endpoint_once, client, name, p, settings) for p in problems]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc="teacher answers",
                               disable=not progress):
                yield [future.result()]
        finally:  # an error or Ctrl-C: drop the requests not yet sent rather than wait for all of them
            for future in futures:
                future.cancel()


# --- The data command -------------------------------------------------------------------------------------------

def read_trace_file(path: str | Path) -> list[dict]:
    """The records of one file: a JSON list (the book's files) or JSONL, whose last line may have been cut short
    by an interrupt (it is dropped, and asked again on resume)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no trace file at {path}: write one with `rfs distill data --out {path}`")
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_traces(paths: str | Path | list[str | Path], keep: TraceFilter | None = TraceFilter()) -> list[dict]:
    """Trace records from JSONL or JSON-list files (ours, or the book's distillation files as they are).

    A record without a verdict (the book's) is graded here. With ``keep`` (default: correct answers only), only
    records that pass the filter are returned; ``keep=None`` returns all.
    """
    records = []
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        for record in read_trace_file(path):
            missing = {"problem", "message_content"} - set(record)
            if missing:
                raise ValueError(f"{path}: a record lacks {sorted(missing)}; a trace file needs at least "
                                 "problem and message_content (and gtruth_answer to be graded)")
            if "correct" not in record:
                answer = extract_answer(record["message_content"])
                reference = record.get("gtruth_answer")
                record |= {"answer": answer, "correct": answer is not None and reference is not None
                           and grade_answer(answer, str(reference))}
            record.setdefault("message_thinking", "")
            records.append(record)
    return [r for r in records if keep is None or keep.keeps(r)]


def load_problems(dataset: str, split: str, n: int | None) -> list[dict]:
    """The problems to ask: ``pocket-math`` or ``math500`` (see :func:`rfs.datasets.load_dataset`) or a
    JSON/JSONL file of ``{problem, answer}`` records."""
    from rfs.datasets import load_dataset

    if dataset in ("pocket-math", "math500"):
        return load_dataset(dataset, split=split, limit=n)
    path = Path(dataset)
    if not path.is_file():
        raise FileNotFoundError(f"{dataset} is neither pocket-math, math500 nor a JSON/JSONL file of problems")
    records = read_json_records(path)[:n]
    if records and not {"problem", "answer"} <= set(records[0]):
        raise ValueError(f"{dataset}: each record needs a 'problem' and an 'answer'")
    return [{"unique_id": r.get("unique_id", f"{path.stem}/{i}"), **r} for i, r in enumerate(records)]


def write_traces(problems: list[dict], settings: TeacherSettings, out: str | Path,
                 keep: TraceFilter = TraceFilter(), progress: bool = True) -> dict:
    """Ask the teacher every problem not yet in ``out`` (JSONL) and append each answer as it arrives.

    Every answer is written with ``kept`` (whether it passes ``keep``). Resuming with another teacher is
    refused. Returns counts over the whole file, ``{"asked", "answers", "correct", "kept"}``, and the time this
    call took, ``{"seconds", "cpu_seconds"}`` (CPU time, which a machine busy with other work inflates less).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_traces(out, keep=None) if out.is_file() else []
    others = {r["teacher"] for r in done} - {settings.teacher}
    if others:
        raise ValueError(f"{out} holds answers of another teacher ({sorted(others)[0]}); use another --out "
                         "(or delete the file) to start afresh")
    asked = {r["id"] for r in done}
    todo = [p for p in problems if p["unique_id"] not in asked]
    began, cpu_began = time.perf_counter(), time.process_time()
    ask = ask_endpoint if settings.is_endpoint else ask_local
    if todo:
        with open(out, "a") as f:
            if out.stat().st_size and not out.read_text().endswith("\n"):
                f.write("\n")  # the last line was cut short by a kill: start a fresh line after it
            for records in ask(todo, settings, progress):
                for record in records:
                    f.write(json.dumps(record | {"kept": keep.keeps(record)}) + "\n")
                f.flush()
    records = read_traces(out, keep=None)
    return {"asked": len(todo), "answers": len(records), "correct": sum(r["correct"] for r in records),
            "kept": sum(keep.keeps(r) for r in records), "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - cpu_began}
