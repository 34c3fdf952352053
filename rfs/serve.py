"""An OpenAI-compatible HTTP server around the batched engine: ``rfs serve`` (chapter 8).

Any program that speaks the OpenAI API (the official ``openai`` client, ``curl``, chat front ends, the
distillation scripts of chapter 8) can ask a course model for completions::

    rfs serve --model pocket-reasoning            # http://127.0.0.1:8000/v1

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    reply = client.chat.completions.create(model="pocket-reasoning", messages=[{"role": "user", "content": "2+3?"}])
    reply.choices[0].message.reasoning_content, reply.choices[0].message.content

The server has three layers, top to bottom in this file:

1. **Text as it arrives**: turning a row's tokens into the text a client may see so far (stop strings,
   characters split across tokens) and splitting a chat answer's ``<think>...</think>`` reasoning from its
   content, the way vLLM and DeepSeek's API return it (``reasoning_content``).
2. **The batcher**: one worker thread owns the model. Requests wait in a queue; the worker takes every waiting
   request whose sampling settings match the oldest one's and runs them as one batch through
   :func:`rfs.generate.generate_ids`, which yields every row's token after every step, so streamed requests get
   their text as it is generated. Requests that arrive while a batch runs join the next one.
3. **The HTTP API** (FastAPI under uvicorn): ``GET /v1/models``, ``POST /v1/chat/completions`` and
   ``POST /v1/completions``, streamed as server-sent events with ``"stream": true``, errors in OpenAI's shape;
   ``GET /chat`` is a browser chat page over them (``rfs/chat_page.html``, appendix G).

Finally :func:`serve` runs it, :func:`running_server` runs it in a background thread (tests, notebooks), and
:func:`bench_serve` measures what batching buys.
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rfs.generate import generate_ids
from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer

THINK, END_THINK = "<think>", "</think>"


# --- 1. Text as it arrives ------------------------------------------------------------------------------

def partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that is a beginning of ``marker`` (which may still complete it).

    ``partial_suffix("2+3 is 5.\\n\\nQ", "\\n\\nQ:") == 3``: those three characters are held back while they may
    still turn into the stop string.
    """
    for k in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:k]):
            return k
    return 0


class ChoiceText:
    """The text of one choice (one generated row) as its tokens arrive.

    :meth:`add` takes the next token and returns the text that became visible: decoded so far, cut before the
    first stop string, without a character whose bytes have not all arrived (``\\ufffd``) and without an end
    that may still grow into a stop string. ``finish_reason`` becomes ``"stop"`` (end token or stop string)
    or ``"length"`` (``max_tokens`` reached).
    """

    def __init__(self, tokenizer: Tokenizer, max_tokens: int, stop: list[str], end_ids: list[int]):
        self.tokenizer, self.max_tokens, self.stop, self.end_ids = tokenizer, max_tokens, stop, end_ids
        self.tokens: list[int] = []
        self.shown = ""
        self.finish_reason: str | None = None

    def add(self, token: int) -> str:
        """Take one generated token; return the newly visible text (may be empty)."""
        self.tokens.append(token)
        ended = token in self.end_ids
        text = self.tokenizer.decode(self.tokens[:-1] if ended else self.tokens)
        hits = [text.index(s) for s in self.stop if s in text]
        if hits:
            text = text[:min(hits)]
        if ended or hits:
            self.finish_reason = "stop"
        elif len(self.tokens) >= self.max_tokens:
            self.finish_reason = "length"
        if self.finish_reason is None:
            text = text.removesuffix("\ufffd")
            text = text[:len(text) - max((partial_suffix(text, s) for s in self.stop), default=0)]
        new, self.shown = text[len(self.shown):], text
        return new


def split_reasoning(text: str, final: bool = True) -> tuple[str, str]:
    """Split a chat answer into ``(reasoning, content)``: the text inside ``<think>...</think>`` and the rest.

    An answer that does not start with ``<think>`` is all content; one that never closes its ``</think>`` (cut
    by ``max_tokens``) is all reasoning. Newlines around the reasoning and before the content are dropped, as
    :meth:`rfs.tokenizer.Tokenizer.render_chat` writes them. With ``final=False`` the text is still growing and
    whatever may turn out to be a tag or those newlines is held back, so that each later split only extends the
    earlier one: a stream sends the differences.
    """
    if not text.startswith(THINK):
        if not final and THINK.startswith(text):
            return "", ""  # may still become <think>
        return "", text
    body = text[len(THINK):]
    if END_THINK in body:
        reasoning, content = body.split(END_THINK, 1)
        return reasoning.strip("\n"), content.lstrip("\n")
    reasoning = body.lstrip("\n")
    if not final:
        reasoning = reasoning[:len(reasoning) - partial_suffix(reasoning, END_THINK)]
    return reasoning.rstrip("\n"), ""


# --- 2. The batcher -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sampling:
    """Settings that rows of one ``generate_ids`` call must share; requests with equal ones share a batch."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    n: int = 1
    seed: int | None = None
    ignore_eos: bool = False  # generate past the end token, up to max_tokens (vLLM's option, for benchmarks)


@dataclass
class Update:
    """What one choice of a request gained in one step: new text, and how it ended once it ends."""

    index: int  # the choice's index in the response
    text: str
    finish_reason: str | None
    completion_tokens: int


@dataclass
class Job:
    """One request as the batcher sees it: prompts as token ids and how to continue them.

    ``deliver`` is called from the worker thread with a list of :class:`Update` after each step, or with an
    exception if generation failed. The HTTP layer sets ``cancelled`` when its client goes away.
    """

    prompts: list[list[int]]
    sampling: Sampling
    max_tokens: int
    stop: list[str]
    deliver: Callable[[list[Update] | Exception], None]
    stream: bool = False  # deliver text after every step (else all at once at the end)
    cancelled: bool = False

    @property
    def rows(self) -> int:
        """Rows the engine generates for this request: each prompt ``n`` times."""
        return len(self.prompts) * self.sampling.n


class Batcher:
    """Runs requests through the engine in batches, on one worker thread that owns the model.

    Each round the worker takes the oldest waiting request and every other waiting request with the same
    :class:`Sampling`, up to ``max_rows`` rows, and generates them together. When the queue was empty it first
    waits until no request has come for ``window_s``, so that requests sent at the same moment share the batch.
    """

    def __init__(self, model: Qwen3, tokenizer: Tokenizer, max_rows: int = 64, window_s: float = 0.05):
        self.model, self.tokenizer, self.max_rows, self.window_s = model, tokenizer, max_rows, window_s
        self.inbox: queue.Queue[Job | None] = queue.Queue()
        self.waiting: list[Job] = []
        self.batch_rows: list[int] = []  # rows of each batch run so far (to see how well requests shared)
        self.thread = threading.Thread(target=self._work, name="rfs-serve-batcher", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self.thread.start()

    def stop(self) -> None:
        """Let the worker finish its batch and end."""
        self.inbox.put(None)
        self.thread.join(timeout=30)

    def submit(self, job: Job) -> None:
        """Queue a request (thread-safe)."""
        self.inbox.put(job)

    def _take_batch(self) -> list[Job]:
        """The oldest waiting request and the waiting requests that can share its batch; removed from ``waiting``.

        Without a seed, rows of different prompts draw from the same random streams, so two requests for the
        same prompt would get the same samples: the second waits for a later batch.
        """
        self.waiting = [job for job in self.waiting if not job.cancelled]
        if not self.waiting:
            return []
        oldest, batch, rows, seen = self.waiting[0], [], 0, set()
        for job in list(self.waiting):
            if job.sampling != oldest.sampling or rows + job.rows > self.max_rows:
                continue
            prompts = {tuple(p) for p in job.prompts}
            if job.sampling.temperature > 0 and job.sampling.seed is None and prompts & seen:
                continue
            batch.append(job)
            rows += job.rows
            seen |= prompts
            self.waiting.remove(job)
        return batch

    def _gather(self) -> bool:
        """Move arrived requests into ``waiting``; False once :meth:`stop` was called.

        A busy worker takes what arrived during its last batch. An idle one blocks for the first request, then
        keeps taking requests until none has come for ``window_s`` (a burst of clients arrives spread over some
        milliseconds), for at most 20 windows.
        """
        arrived = []
        if not self.waiting:
            arrived.append(self.inbox.get())
            deadline = time.monotonic() + 20 * self.window_s
            while arrived[-1] is not None and time.monotonic() < deadline:
                try:
                    arrived.append(self.inbox.get(timeout=self.window_s))
                except queue.Empty:
                    break
        while not self.inbox.empty():
            arrived.append(self.inbox.get_nowait())
        self.waiting += [job for job in arrived if job is not None]
        return None not in arrived

    def _work(self) -> None:
        while self._gather():
            batch = self._take_batch()
            if batch:
                try:
                    self._generate(batch)
                except Exception as error:  # keep serving; the requests of this batch get a server error
                    for job in batch:
                        job.deliver(error)

    def _generate(self, batch: list[Job]) -> None:
        """Generate one batch; deliver each request's new text after every step."""
        sampling = batch[0].sampling
        end_ids = [] if sampling.ignore_eos else self.tokenizer.stop_ids
        choices: list[tuple[Job, int, ChoiceText]] = []  # engine row r -> (request, choice index, its text)
        for job in batch:
            choices += [(job, i, ChoiceText(self.tokenizer, job.max_tokens, job.stop, end_ids))
                        for i in range(job.rows)]
        prompts = [p for job in batch for p in job.prompts]
        self.batch_rows.append(len(choices))
        steps = generate_ids(self.model, prompts, max(job.max_tokens for job in batch), sampling.temperature,
                             sampling.top_k, sampling.top_p, sampling.n, sampling.seed, end_ids,
                             pad_id=self.tokenizer.pad_id)
        unfinished = {id(job): job.rows for job in batch}
        updates: dict[int, list[Update]] = {id(job): [] for job in batch}  # not yet delivered
        for events in steps:
            for row, token, _, _ in events:
                job, index, choice = choices[row]
                if job.cancelled or choice.finish_reason is not None:
                    continue  # the row still runs in the engine until the batch ends; nobody reads it
                text = choice.add(token)
                if text or choice.finish_reason:
                    updates[id(job)].append(Update(index, text, choice.finish_reason, len(choice.tokens)))
                unfinished[id(job)] -= choice.finish_reason is not None
            # A streamed request gets its text every step; the others once, at the end: waking the web server's
            # thread for every step of every request would cost the engine time.
            for job in batch:
                if updates[id(job)] and not job.cancelled and (job.stream or unfinished[id(job)] == 0):
                    job.deliver(updates[id(job)])
                    updates[id(job)] = []
            if all(job.cancelled or unfinished[id(job)] == 0 for job in batch):
                steps.close()  # every request has its answer: free the worker for the next batch
                return


# --- 3. The HTTP API ------------------------------------------------------------------------------------

class APIError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        """The JSON body of the error response."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class StreamOptions(BaseModel):
    include_usage: bool = False


class SamplingFields(BaseModel):
    """The request fields both endpoints share (others, like ``presence_penalty``, are accepted and ignored)."""

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(-1, ge=-1)  # vLLM's extra: sample among the k most likely tokens; -1 (or 0) for all
    n: int = Field(1, ge=1, le=64)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False  # vLLM's extra: always generate max_tokens tokens (for benchmarks)
    logprobs: bool | int | None = None  # not supported: refused when asked for


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict] | None = None

    def text(self) -> str:
        """The message text; a list of content parts contributes its ``text`` parts."""
        if isinstance(self.content, list):
            return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)  # the newer name of max_tokens
    chat_template_kwargs: dict = Field(default_factory=dict)  # {"enable_thinking": false}, as vLLM accepts


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]


@dataclass
class Served:
    """What the HTTP handlers need: the model's name, its tokenizer and context length, the batcher, the key."""

    name: str
    tokenizer: Tokenizer
    context_length: int
    batcher: Batcher
    api_key: str | None = None
    default_max_tokens: int = 4096
    created: int = field(default_factory=lambda: int(time.time()))


def _prompt_ids(served: Served, prompt: str | list) -> list[list[int]]:
    """The prompts of a completion request as token id lists (a string, strings, ids, or lists of ids)."""
    if isinstance(prompt, str):
        return [served.tokenizer.encode(prompt)]
    if prompt and all(isinstance(p, int) for p in prompt):
        return [list(prompt)]
    return [p if isinstance(p, list) else served.tokenizer.encode(p) for p in prompt]


def _make_job(served: Served, request: SamplingFields, prompts: list[list[int]],
              max_tokens: int | None) -> Job:
    """Check a request against the model and turn it into a :class:`Job` (its ``deliver`` is set later)."""
    if request.model != served.name:
        raise APIError(404, f"The model `{request.model}` does not exist; this server serves `{served.name}` "
                            "(GET /v1/models lists it).", "model", "model_not_found")
    if not prompts or any(not p for p in prompts):
        raise APIError(400, "The prompt is empty: give at least one token of text.", "prompt")
    vocab = served.tokenizer.vocab_size
    if any(not 0 <= t < vocab for p in prompts for t in p):
        raise APIError(400, f"Token ids must lie in [0, {vocab}).", "prompt")
    longest = max(len(p) for p in prompts)
    if longest + (max_tokens or 1) > served.context_length:
        raise APIError(400, f"This model's maximum context length is {served.context_length} tokens. However, you "
                            f"requested {longest + (max_tokens or 1)} tokens ({longest} in the prompt, "
                            f"{max_tokens or 1} for the completion). Shorten the prompt or lower max_tokens.",
                       "max_tokens" if max_tokens else "messages", "context_length_exceeded")
    if max_tokens is None:
        max_tokens = min(served.default_max_tokens, served.context_length - longest)
    if len(prompts) * request.n > served.batcher.max_rows:
        raise APIError(400, f"This request asks for {len(prompts) * request.n} completions (prompts x n); this server "
                            f"generates at most {served.batcher.max_rows} at once (rfs serve --max-rows). Send "
                            "fewer prompts per request.", "n")
    stop = [s for s in ([request.stop] if isinstance(request.stop, str) else request.stop or []) if s]
    greedy = request.temperature == 0
    if request.logprobs:
        raise APIError(400, "rfs serve does not return logprobs: leave logprobs out", "logprobs")
    sampling = Sampling(request.temperature, None if greedy or request.top_k < 1 else request.top_k,
                        None if greedy or request.top_p >= 1 else request.top_p,
                        request.n, None if greedy else request.seed, request.ignore_eos)
    return Job(prompts, sampling, max_tokens, stop, deliver=lambda _: None, stream=request.stream)


async def _updates(served: Served, job: Job) -> AsyncIterator[list[Update]]:
    """Submit ``job`` and yield its updates as the worker delivers them, until every choice has finished.

    Leaving early (the client went away) cancels the job, so the worker stops spending steps on it.
    """
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()
    job.deliver = lambda update: loop.call_soon_threadsafe(inbox.put_nowait, update)
    served.batcher.submit(job)
    unfinished = job.rows
    try:
        while unfinished:
            update = await inbox.get()
            if isinstance(update, Exception):
                raise APIError(500, f"generation failed: {update}", kind="server_error")
            unfinished -= sum(u.finish_reason is not None for u in update)
            yield update
    finally:
        job.cancelled = True


def _usage(prompts: list[list[int]], tokens: list[int]) -> dict:
    prompt_tokens, completion_tokens = sum(len(p) for p in prompts), sum(tokens)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _sse(payload: dict | str) -> str:
    """One server-sent event: a ``data:`` line holding JSON (or the literal ``[DONE]``) and a blank line."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


async def _collect(served: Served, job: Job) -> tuple[list[str], list[str | None], list[int]]:
    """Run a job to the end: each choice's text, finish reason and number of generated tokens."""
    texts, reasons, counts = [""] * job.rows, [None] * job.rows, [0] * job.rows
    async for update in _updates(served, job):
        for u in update:
            texts[u.index] += u.text
            reasons[u.index], counts[u.index] = u.finish_reason, u.completion_tokens
    return texts, reasons, counts


async def _stream_events(served: Served, job: Job, head: dict, choice_delta: Callable[[Update], dict | None],
                         first: list[dict], include_usage: bool) -> AsyncIterator[str]:
    """The server-sent events of a streamed response: ``first`` choices (if any), a chunk per step with each
    choice's ``choice_delta`` (``None``: nothing to send), the usage if asked for, and ``[DONE]``."""
    counts = [0] * job.rows
    try:
        if first:
            yield _sse(head | {"choices": first})
        async for update in _updates(served, job):
            for u in update:
                counts[u.index] = u.completion_tokens
            chunk_choices = [c for c in map(choice_delta, update) if c is not None]
            if chunk_choices:
                yield _sse(head | {"choices": chunk_choices})
        if include_usage:
            yield _sse(head | {"choices": [], "usage": _usage(job.prompts, counts)})
    except APIError as error:  # the status line is already sent: report the error as an event
        yield _sse(error.body())
    yield _sse("[DONE]")


def create_app(served: Served) -> FastAPI:
    """The FastAPI application: the OpenAI endpoints over ``served``'s batcher."""

    def check_key(request: Request) -> None:
        if served.api_key is None or request.url.path == "/chat":  # the page holds no secret; its requests do
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), served.api_key.encode()):
            raise APIError(401, "Missing or incorrect API key: send it as the header `Authorization: Bearer KEY` "
                                "(the openai client's api_key).", code="invalid_api_key")

    app = FastAPI(title="rfs serve", dependencies=[Depends(check_key)])

    @app.exception_handler(APIError)
    async def api_error(_: Request, error: APIError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"] if part != "body")
        message = "The body is not valid JSON." if problem["type"] == "json_invalid" else f"{where}: {problem['msg']}"
        return JSONResponse(APIError(400, message, where or None).body(), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(APIError(error.status_code, str(error.detail)).body(), status_code=error.status_code)

    @app.get("/chat", response_class=HTMLResponse)
    async def chat_page() -> str:  # a browser chat over this API (appendix G): rfs/chat_page.html
        return (resources.files("rfs") / "chat_page.html").read_text(encoding="utf-8")

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": served.name, "object": "model", "created": served.created,
                                            "owned_by": "rfs", "max_model_len": served.context_length}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: ChatRequest):
        thinking = request.chat_template_kwargs.get("enable_thinking", True) is not False
        messages = [{"role": m.role if m.role != "developer" else "system", "content": m.text()}
                    for m in request.messages]
        prompt = served.tokenizer.encode(served.tokenizer.render_chat(messages, thinking=thinking))
        job = _make_job(served, request, [prompt], request.max_completion_tokens or request.max_tokens)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": served.name}
        if request.stream:
            return _chat_stream(served, job, head | {"object": "chat.completion.chunk"}, request)
        texts, reasons, counts = await _collect(served, job)
        choices = []
        for i, (text, reason) in enumerate(zip(texts, reasons, strict=True)):
            reasoning, content = split_reasoning(text)
            message = {"role": "assistant", "content": content, "reasoning_content": reasoning or None}
            choices.append({"index": i, "message": message, "finish_reason": reason, "logprobs": None})
        return head | {"object": "chat.completion", "choices": choices, "usage": _usage(job.prompts, counts)}

    @app.post("/v1/completions")
    async def completions(request: CompletionRequest):
        job = _make_job(served, request, _prompt_ids(served, request.prompt), request.max_tokens)
        head = {"id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": served.name,
                "object": "text_completion"}
        if request.stream:
            def delta(u: Update) -> dict:
                return {"index": u.index, "text": u.text, "finish_reason": u.finish_reason, "logprobs": None}

            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(_stream_events(served, job, head, delta, [], include_usage),
                                     media_type="text/event-stream")
        texts, reasons, counts = await _collect(served, job)
        choices = [{"index": i, "text": t, "finish_reason": r, "logprobs": None}
                   for i, (t, r) in enumerate(zip(texts, reasons, strict=True))]
        return head | {"choices": choices, "usage": _usage(job.prompts, counts)}

    return app


def _chat_stream(served: Served, job: Job, head: dict, request: ChatRequest) -> StreamingResponse:
    """A streamed chat answer: each choice's text is split into reasoning and content as it grows."""
    texts, shown = [""] * job.rows, [("", "")] * job.rows

    def delta(u: Update) -> dict | None:
        texts[u.index] += u.text
        reasoning, content = split_reasoning(texts[u.index], final=u.finish_reason is not None)
        old_reasoning, old_content = shown[u.index]
        shown[u.index] = reasoning, content
        change = {}
        if len(reasoning) > len(old_reasoning):
            change["reasoning_content"] = reasoning[len(old_reasoning):]
        if len(content) > len(old_content):
            change["content"] = content[len(old_content):]
        if not change and u.finish_reason is None:
            return None
        return {"index": u.index, "delta": change, "finish_reason": u.finish_reason, "logprobs": None}

    first = [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}
             for i in range(job.rows)]
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return StreamingResponse(_stream_events(served, job, head, delta, first, include_usage),
                             media_type="text/event-stream")


# --- Running the server ---------------------------------------------------------------------------------

@dataclass
class ServeSettings:
    """How ``rfs serve`` runs: which model, where it listens, and how it batches.

    ``name`` is the model id clients send (default: the model's name, or its folder's name). ``host`` defaults to
    loopback, so nothing outside this machine can reach the server unless asked for (``--host 0.0.0.0``);
    with ``api_key`` set, every request must carry ``Authorization: Bearer KEY``.
    """

    model: str = "pocket-reasoning"
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    name: str | None = None
    device: str | None = None
    dtype: str | None = None  # "float32", "bfloat16", "float16"; default: as stored
    max_rows: int = 64  # rows (prompts x n) generated together at most
    window_s: float = 0.05  # how long an idle worker waits for requests sent at the same moment
    default_max_tokens: int = 4096  # when a request gives no max_tokens (at most what the context leaves)


def build_app(settings: ServeSettings, model: Qwen3 | None = None, tokenizer: Tokenizer | None = None):
    """Load the model (unless given), start its batcher, and return ``(app, batcher)``."""
    from pathlib import Path

    import torch

    from rfs.hub import load_model, load_tokenizer

    if model is None:
        model = load_model(settings.model, device=settings.device,
                           dtype=getattr(torch, settings.dtype) if settings.dtype else None)
    tokenizer = tokenizer or load_tokenizer(settings.model)
    batcher = Batcher(model, tokenizer, settings.max_rows, settings.window_s)
    batcher.start()
    served = Served(settings.name or Path(str(settings.model)).name, tokenizer, model.config.max_position_embeddings,
                    batcher, settings.api_key, settings.default_max_tokens)
    return create_app(served), batcher


def serve(settings: ServeSettings) -> None:
    """Serve the OpenAI API until interrupted (Ctrl-C): what ``rfs serve`` runs."""
    import uvicorn

    app, batcher = build_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"serving {settings.model} at {url}/v1, a chat page at {url}/chat (Ctrl-C stops)")
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        batcher.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the system picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    """A server started by :func:`running_server`: its base URL (``http://127.0.0.1:PORT/v1``) and batcher."""

    url: str
    batcher: Batcher


@contextmanager
def running_server(settings: ServeSettings, model: Qwen3 | None = None,
                   tokenizer: Tokenizer | None = None) -> Iterator[RunningServer]:
    """Run the server in a background thread for the ``with`` block (tests, notebooks, benchmarks).

    ``settings.port = 0`` picks a free port. The server stops when the block ends. Example::

        with running_server(ServeSettings("pocket-reasoning", port=0)) as server:
            client = OpenAI(base_url=server.url, api_key="unused")
    """
    import uvicorn

    if settings.port == 0:
        settings.port = free_port(settings.host)
    app, batcher = build_app(settings, model, tokenizer)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="rfs-serve-http", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {settings.host}:{settings.port}")
            time.sleep(0.01)
        yield RunningServer(f"http://{settings.host}:{settings.port}/v1", batcher)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        batcher.stop()


# --- What batching buys ---------------------------------------------------------------------------------

def _post_completion(url: str, body: dict, api_key: str | None = None) -> dict:
    """POST a JSON body with the standard library's HTTP client; return the JSON answer."""
    import urllib.request

    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
    request = urllib.request.Request(f"{url}/completions", json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def bench_serve(model: str = "pocket-base", clients: int = 8, max_tokens: int = 128,
                prompt_style: str = "cot", ignore_eos: bool = True) -> dict:
    """Total tokens/s of ``clients`` requests sent one after another against all at once, over loopback HTTP.

    Each client asks for a greedy completion of a different pocket-math problem, ``max_tokens`` tokens long
    (``ignore_eos``, so that every request does the same work; with ``ignore_eos=False`` the batch lasts as long
    as its longest answer). Sent together, the requests share a batch of the engine. Returns both rates and their
    ratio (what ``rfs bench serve`` prints).
    """
    from concurrent.futures import ThreadPoolExecutor

    from rfs.datasets import load_dataset
    from rfs.hub import load_tokenizer
    from rfs.prompts import build_prompt

    tokenizer = load_tokenizer(model)
    problems = [r["problem"] for r in load_dataset("pocket-math", limit=clients)]
    bodies = [{"model": "bench", "prompt": build_prompt(tokenizer, p, prompt_style), "max_tokens": max_tokens,
               "temperature": 0, "ignore_eos": ignore_eos} for p in problems]
    with running_server(ServeSettings(model, port=0, name="bench")) as server:
        url = server.url
        _post_completion(url, bodies[0] | {"max_tokens": 4})  # warm up
        start = time.perf_counter()
        one_by_one = [_post_completion(url, body) for body in bodies]
        sequential_s = time.perf_counter() - start
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            together = list(pool.map(lambda body: _post_completion(url, body), bodies))
        concurrent_s = time.perf_counter() - start
        concurrent_batches = server.batcher.batch_rows[1 + clients:]
    tokens_one, tokens_all = (sum(r["usage"]["completion_tokens"] for r in rs) for rs in (one_by_one, together))
    result = {"clients": clients, "max_tokens": max_tokens,
              "sequential_tokens": tokens_one, "sequential_s": sequential_s,
              "sequential_tok_s": tokens_one / sequential_s,
              "concurrent_tokens": tokens_all, "concurrent_s": concurrent_s,
              "concurrent_tok_s": tokens_all / concurrent_s, "concurrent_batches": concurrent_batches}
    result["ratio"] = result["concurrent_tok_s"] / result["sequential_tok_s"]
    return result
