"""Turning a model into text: sampling and a KV-cached, batched generation engine (chapter 2; appendix E).

The engine works in two phases. *Prefill* runs all prompt tokens through the model at once and fills the
KV cache. *Decode* then feeds one new token per sequence per step, reusing the cached keys and values, so a
step costs one pass over the weights instead of a pass over the whole text. Prompts of different lengths
share a batch by left padding; several samples of one prompt share its prefill (the prompt's cache rows
are copied, not recomputed); sequences that finish leave the batch so the rest run faster.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from rfs.qwen3 import KVCache, Qwen3
from rfs.tokenizer import Tokenizer

# torch warns about Intel GPUs whenever the oneDNN flags are restored (see _decode_context), also on machines
# without one: noise in every lesson and benchmark that decodes in bf16 on a CPU.
warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN is available for Intel GPUs")


def default_device() -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


COMPILE_HELP = ("torch.compile the model: the first steps compile (about a minute for a pocket model on a CPU), "
                "later ones run faster")  # the --compile option of rfs generate, chat and eval


def compile_model(model: Qwen3) -> Qwen3:
    """The model wrapped by ``torch.compile``, for faster generation (optional).

    The compiler fuses the many small element-wise operations of a decode step into a few generated kernels.
    Shapes are marked dynamic, so the growing cache and the shrinking batch do not recompile at every step.
    The first calls pay for the compilation (one to two minutes on a CPU for a pocket model, far longer for
    Qwen3-0.6B); after that, a pocket model sampling 64 rows decoded 1.4-1.6x faster on our CPU (appendix E). The
    result (a ``torch.compile`` wrapper) has the model's attributes and runs in every function that takes a model.
    """
    return torch.compile(model, dynamic=True)


# --- Choosing the next token --------------------------------------------------------------------------

def filter_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest logits in each row of ``logits`` (..., V); set the rest to -inf."""
    if k is None or k >= logits.shape[-1]:
        return logits
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches ``p``.

    A token is dropped when the tokens ranked above it already hold ``p`` of the probability, so the most
    likely token always survives. Dropped logits become -inf; the shape (..., V) is unchanged.
    """
    if p is None or p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.float().softmax(dim=-1)
    mass_above = probs.cumsum(dim=-1) - probs
    sorted_logits = sorted_logits.masked_fill(mass_above >= p, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def sampling_logprobs(logits: torch.Tensor, temperature: float, top_k: int | None = None,
                      top_p: float | None = None) -> torch.Tensor:
    """Log-probabilities (B, V), in float32, of the distribution a token is sampled from.

    The logits (B, V) are divided by the temperature, filtered by top-k and then top-p (dropped tokens get
    -inf, i.e. probability 0), and normalised by a log-softmax. These are the log-probabilities a sampled
    token really had, which is what reinforcement learning needs as the sampler's ("old") log-probabilities.
    """
    return filter_top_p(filter_top_k(logits.float() / temperature, top_k), top_p).log_softmax(dim=-1)


def draw_token(logprobs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Draw one token id per row from the distribution ``logprobs`` (B, V), using ``uniform`` (B, V) noise in
    [0, 1); returns a LongTensor (B,).

    The draw is an "exponential race": token i gets a random waiting time ``E_i / p_i`` with ``E_i`` from an
    exponential distribution, and the first to arrive wins. It wins with probability exactly ``p_i`` (as
    ``torch.multinomial`` would pick it), but needs only uniform noise, which can be drawn ahead of time.
    """
    exponential = -torch.log(uniform)  # E_i ~ Exp(1); u = 0 gives an infinite wait, never chosen
    return (logprobs.exp() / exponential).argmax(dim=-1)


def sample_next_token(logits: torch.Tensor, temperature: float = 0.0, top_k: int | None = None,
                      top_p: float | None = None, generator: torch.Generator | None = None,
                      uniform: torch.Tensor | None = None) -> torch.Tensor:
    """Pick one token id per row of ``logits`` (B, V); returns a LongTensor (B,).

    ``temperature == 0`` is greedy decoding (the most likely token). Otherwise the token is drawn from
    :func:`sampling_logprobs` (temperature, top-k, top-p), with random numbers from ``generator``, or taken
    from ``uniform`` (B, V), uniform in [0, 1), when the caller draws them itself (the engine draws each row's
    from its own stream, see :class:`RowNoise`).
    """
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    logprobs = sampling_logprobs(logits, temperature, top_k, top_p)
    if uniform is None:
        uniform = torch.rand(logprobs.shape, generator=generator, device=logprobs.device)
    return draw_token(logprobs, uniform)


class RowNoise:
    """Uniform noise for sampling, each row from its own random stream, drawn many steps at a time.

    Row ``r`` uses ``generators[r]``, so its draws do not depend on the other rows. Drawing one step for each of
    64 rows costs 64 small calls per step, a good part of a pocket model's step; drawing a block of ``steps``
    steps per call costs 64 calls per block. A block holds about ``block_numbers`` numbers per row.
    """

    def __init__(self, generators: list[torch.Generator], width: int, device: torch.device,
                 block_numbers: int = 32_768):
        self.generators, self.width, self.device = generators, width, device
        self.steps = max(1, block_numbers // width)
        self.block = torch.empty(len(generators), 0, width, device=device)  # (B, steps, V); empty: draw first
        self.used = 0

    def next(self) -> torch.Tensor:
        """The noise of the next step: (B, V)."""
        if self.used == self.block.shape[1]:
            self.block = torch.stack([torch.rand(self.steps, self.width, generator=g, device=self.device)
                                      for g in self.generators])
            self.used = 0
        self.used += 1
        return self.block[:, self.used - 1]

    def keep(self, rows: list[int]) -> None:
        """Keep only the streams of ``rows`` (indices into the current rows), in that order."""
        self.generators = [self.generators[i] for i in rows]
        self.block = self.block[torch.tensor(rows, device=self.device)]


def decode_step(model: Qwen3, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Feed one new token per row, ``tokens`` (B, 1), through the model; return next-token logits (B, V).

    The new keys and values are written into ``cache`` in place, so the next step sees them.
    """
    return model(tokens, cache=cache)[:, -1]


# --- The engine -----------------------------------------------------------------------------------------

@dataclass
class Completion:
    """One generated continuation."""

    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (end token or stop string) or "length" (max_new_tokens reached)
    # Each generated token's log-probability under the distribution it was drawn from (after temperature,
    # top-k and top-p, see sampling_logprobs); when decoding greedily, under the model's own distribution.
    logprobs: list[float] | None = None


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack token lists of different lengths into ids (B, T) and a 0/1 attention mask, padding on the left.

    Left padding lines up every prompt's last token in the last column, where decoding continues.
    """
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def first_stream_seed(seed: int | torch.Generator | None) -> int:
    """The seed of sample 0's random stream (sample ``j`` uses this plus ``j``).

    An ``int`` is used as it is, so a fixed seed repeats the same samples. A ``torch.Generator`` gives a fresh
    seed drawn from it at every call: a caller that samples again and again (reinforcement learning) gets new
    noise each time, and a run that starts its generator from a fixed seed is still reproducible. ``None``
    draws a fresh seed from torch's global generator (so ``torch.manual_seed`` fixes it).
    """
    if isinstance(seed, int):
        return seed
    device = seed.device if seed is not None else None
    return int(torch.randint(0, 2**62, (), generator=seed, device=device))


def _decode_context(device: torch.device, dtype: torch.dtype, rows: int):
    # On CPU, a bf16 matrix-vector product (one row decoding) runs 2-3x faster without oneDNN, while
    # matrix-matrix products (prefill, several rows) run far faster with it: switch it off just there.
    if device.type == "cpu" and dtype == torch.bfloat16 and rows == 1:
        return torch.backends.mkldnn.flags(enabled=False)
    return nullcontext()


@torch.inference_mode()
def generate_ids(model: Qwen3, prompts: list[list[int]], max_new_tokens: int = 256, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, n: int = 1,
                 seed: int | torch.Generator | None = None, stop_ids: list[int] = (),
                 stop_fn: Callable[[list[int]], bool] | None = None, logprobs: bool = False, pad_id: int = 0,
                 progress: bool = False) -> Iterator[list[tuple[int, int, float | None, bool]]]:
    """The generation loop. After each step, yield ``(row, token, logprob, finished)`` for every running row.

    Row ``r`` is sample ``r % n`` of prompt ``r // n``. A row finishes when it emits a token in ``stop_ids``
    (that token is yielded, flagged finished) or when ``stop_fn(tokens so far)`` says so. With
    ``temperature > 0``, sample ``j`` of every prompt draws from its own random stream seeded with
    ``seed + j``, so its tokens do not depend on what else shares the batch; ``seed`` may also be a
    ``torch.Generator`` or None for fresh noise at every call (see :func:`first_stream_seed`). With
    ``logprobs``, ``logprob`` is the token's log-probability under the distribution it was sampled from
    (:func:`sampling_logprobs`), or under the model's own distribution when ``temperature == 0``; else None.
    """
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    ids, mask = left_pad(prompts, pad_id)
    # On a CPU the cache is kept in float32: decode attention computes in float32 anyway, and converting the
    # whole cache every step cost more than the cache's extra bytes.
    cache_dtype = torch.float32 if device.type == "cpu" else dtype
    cache = KVCache(model.config, len(prompts), ids.shape[1] + max_new_tokens, device, cache_dtype)
    # prefill: the whole prompts at once, (P, V) logits for the last position
    logits = model(ids.to(device), cache=cache, attention_mask=mask.to(device), last_only=True)[:, -1]
    if n > 1:  # share each prompt's prefill among its n samples
        rows = torch.arange(len(prompts), device=device).repeat_interleave(n)
        cache.select_rows(rows)
        logits = logits[rows]
    active = list(range(len(prompts) * n))  # rows still generating, in cache order
    generated: dict[int, list[int]] = {r: [] for r in active}
    noise = None
    if temperature > 0:
        base_seed = first_stream_seed(seed)
        generators = [torch.Generator(device=device).manual_seed(base_seed + r % n) for r in active]
        noise = RowNoise(generators, logits.shape[-1], device)
    stop = set(stop_ids)
    with _decode_context(device, dtype, len(active)):
        for _ in tqdm(range(max_new_tokens), desc="generating", unit="tok", disable=not progress, leave=False):
            if noise is None:  # greedy
                tokens = logits.argmax(dim=-1)  # (B,)
                dist = logits.float().log_softmax(dim=-1) if logprobs else None  # the model's own distribution
            else:
                dist = sampling_logprobs(logits, temperature, top_k, top_p)  # (B, V): what is sampled from
                tokens = draw_token(dist, noise.next())  # (B,)
            token_logprobs = (dist.gather(-1, tokens[:, None])[:, 0].tolist() if logprobs
                              else [None] * len(active))
            events, keep = [], []
            for i, (row, token) in enumerate(zip(active, tokens.tolist(), strict=True)):
                generated[row].append(token)
                finished = token in stop or (stop_fn is not None and stop_fn(generated[row]))
                events.append((row, token, token_logprobs[i], finished))
                if not finished:
                    keep.append(i)
            yield events
            if not keep:
                return
            if len(keep) < len(active):  # drop finished rows so later steps do less work
                keep_t = torch.tensor(keep, device=device)
                cache.select_rows(keep_t)
                tokens = tokens[keep_t]
                active = [active[i] for i in keep]
                if noise is not None:
                    noise.keep(keep)
            logits = decode_step(model, tokens[:, None], cache)


def _stop_string_check(tokenizer: Tokenizer, stop: list[str] | None) -> Callable[[list[int]], bool] | None:
    if not stop:
        return None
    longest = max(len(s) for s in stop)

    def hits_stop_string(tokens: list[int]) -> bool:
        # A stop string ends within the last few tokens, and a token is at least one character.
        tail = tokenizer.decode(tokens[-(longest + 8):])
        return any(s in tail for s in stop)

    return hits_stop_string


def _completion(tokenizer: Tokenizer, tokens: list[int], logprobs: list, finished: bool,
                stop: list[str] | None, stop_ids: set[int]) -> Completion:
    """Text of a finished row: without its end token, cut before the first stop string."""
    text_tokens = tokens[:-1] if finished and tokens and tokens[-1] in stop_ids else tokens
    text = tokenizer.decode(text_tokens)
    for s in stop or []:
        if s in text:
            text = text[:text.index(s)]
    return Completion(text, tokens, "stop" if finished else "length", logprobs if logprobs[:1] != [None] else None)


def generate(model: Qwen3, tokenizer: Tokenizer, prompts: list[str], max_new_tokens: int = 256,
             temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None, n: int = 1,
             seed: int | torch.Generator | None = None, stop: list[str] | None = None, logprobs: bool = False,
             batch_size: int | None = None, progress: bool = False) -> list[list[Completion]]:
    """Generate ``n`` completions for each prompt; returns one list of :class:`Completion` per prompt.

    Generation stops at ``<|endoftext|>`` or ``<|im_end|>``, at any string in ``stop`` (the text is cut before
    it), or after ``max_new_tokens``. Prompts are processed ``batch_size`` at a time (all at once by default).
    When sampling, sample ``j`` of every prompt uses the random stream ``seed + j``: a fixed ``int`` repeats
    the same samples, a ``torch.Generator`` (or None, torch's global one) draws a fresh ``seed`` per call.
    ``logprobs=True`` fills :attr:`Completion.logprobs`. Example::

        model, tok = load_model("pocket-base"), load_tokenizer("pocket-base")
        [[c]] = generate(model, tok, ["Q: 2+3=?\\nA:"], max_new_tokens=20)
    """
    batch_size = batch_size or len(prompts)
    if temperature > 0:  # one seed for all batches, so the batch size does not change the samples
        seed = first_stream_seed(seed)
    stop_fn = _stop_string_check(tokenizer, stop)
    results: list[list[Completion]] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="batches", disable=not progress or
                      len(prompts) <= batch_size):
        chunk = [tokenizer.encode(p) for p in prompts[start:start + batch_size]]
        tokens = {r: [] for r in range(len(chunk) * n)}
        lps = {r: [] for r in range(len(chunk) * n)}
        done = dict.fromkeys(tokens, False)
        for events in generate_ids(model, chunk, max_new_tokens, temperature, top_k, top_p, n, seed,
                                   tokenizer.stop_ids, stop_fn, logprobs, tokenizer.pad_id, progress):
            for row, token, lp, finished in events:
                tokens[row].append(token)
                lps[row].append(lp)
                done[row] = finished
        completions = [_completion(tokenizer, tokens[r], lps[r], done[r], stop, set(tokenizer.stop_ids))
                       for r in range(len(chunk) * n)]
        results += [completions[i * n:(i + 1) * n] for i in range(len(chunk))]
    return results


def stream(model: Qwen3, tokenizer: Tokenizer, prompt: str, max_new_tokens: int = 256,
           temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
           seed: int | torch.Generator | None = None, stop: list[str] | None = None) -> Iterator[str]:
    """Yield the text of one completion piece by piece as it is generated (for chat and demos).

    A piece is emitted once it decodes to whole characters: byte-level tokens can split a character, which
    would show as ``\\ufffd`` until the rest arrives. The end token is not shown; stop strings end the stream.
    """
    stop_fn = _stop_string_check(tokenizer, stop)
    tokens: list[int] = []
    shown = ""
    for [(_, token, _, finished)] in generate_ids(model, [tokenizer.encode(prompt)], max_new_tokens, temperature,
                                                  top_k, top_p, 1, seed, tokenizer.stop_ids, stop_fn,
                                                  pad_id=tokenizer.pad_id):
        if finished and token in tokenizer.stop_ids:
            break
        tokens.append(token)
        text = tokenizer.decode(tokens)
        for s in stop or []:
            text = text[:text.index(s)] if s in text else text
        if not text.endswith("\ufffd") and len(text) > len(shown):
            yield text[len(shown):]
            shown = text
        if finished:
            break
