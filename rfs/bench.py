"""Benchmarks behind ``rfs bench``: our generation engine against ``transformers`` on the same weights (appendix E).

``rfs bench generate``: both sides run in one process on identical random weights, each in its best
configuration, and the report gives ratios, so the numbers mean something on any machine. Decoding one token
reads every weight once, so its speed limit is ``memory read bandwidth / bytes read per token``; the benchmark
measures both and prints how close each side gets.

``rfs bench samples`` (chapter 4): several samples per problem, generated together so that they share the
prompt's prefill and one decode batch, against one generation per sample, with the same tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial

import torch

from rfs.generate import compile_model, generate_ids
from rfs.hub import to_checkpoint_names
from rfs.quantize import quantize_int8
from rfs.qwen3 import CONFIGS, Qwen3, Qwen3Config

# A pocket-sized model: about 5M parameters and a small vocabulary, where per-token overhead dominates.
POCKET_SIZE = Qwen3Config(vocab_size=1024, hidden_size=256, intermediate_size=768, num_hidden_layers=6,
                          num_attention_heads=8, num_key_value_heads=4, head_dim=32, max_position_embeddings=1024,
                          rope_theta=10_000.0)


def read_bandwidth(gigabytes: float = 1.0, repeats: int = 5) -> float:
    """Measured memory read bandwidth in GB/s: the best of ``repeats`` sums over a tensor of ``gigabytes``."""
    data = torch.ones(int(gigabytes * 1e9) // 4, dtype=torch.float32)
    data.sum()  # touch the pages once
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return gigabytes / best


def bytes_per_token(model: Qwen3, batch: int, context: int) -> float:
    """Bytes one decode step reads: every weight once (the embedding table only as the output head) plus the
    keys and values of ``context`` cached positions for each of ``batch`` rows (float32 cache on a CPU)."""
    cfg = model.config
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    weights = sum(t.numel() * t.element_size() for name, t in tensors.items() if name != "embed_tokens.weight")
    if getattr(model.lm_head, "weight", None) is model.embed_tokens.weight:  # tied: the head reads the table
        weights += model.embed_tokens.weight.numel() * model.embed_tokens.weight.element_size()
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * 4 * context * batch
    return weights + kv


def random_models(config: Qwen3Config, dtype: torch.dtype, with_transformers: bool,
                  seed: int = 0) -> tuple[Qwen3, object]:
    """An rfs model with random weights and, optionally, transformers' Qwen3ForCausalLM holding the same ones."""
    torch.manual_seed(seed)
    model = Qwen3(config).to(dtype).eval()
    if not with_transformers:
        return model, None
    import transformers

    hf_config = transformers.Qwen3Config(**{k: v for k, v in config.to_hf_dict().items() if k != "architectures"})
    hf = transformers.Qwen3ForCausalLM(hf_config).to(dtype).eval()
    hf.load_state_dict(to_checkpoint_names(model.state_dict(), config), strict=not config.tie_word_embeddings)
    return model, hf


def time_rfs(model: Qwen3, prompts: torch.Tensor, new_tokens: int, temperature: float = 0.0,
             n: int = 1) -> dict:
    """Seconds to the first token (prefill) and decode tokens/s of our engine; end tokens are ignored."""
    start = time.perf_counter()
    steps = generate_ids(model, prompts.tolist(), max_new_tokens=new_tokens, temperature=temperature, n=n, seed=0)
    next(steps)
    prefill = time.perf_counter() - start
    decoded = sum(1 for _ in steps)
    decode = time.perf_counter() - start - prefill
    rows = prompts.shape[0] * n
    return {"prefill_s": prefill, "decode_tok_s": rows * decoded / decode,
            "total_tok_s": rows * (decoded + 1) / (prefill + decode)}


def time_transformers(hf, prompts: torch.Tensor, new_tokens: int, onednn: bool, temperature: float = 0.0,
                      n: int = 1) -> dict:
    """The same measurement for ``transformers``' ``generate`` (first token timed apart from the rest)."""
    sampling = dict(do_sample=temperature > 0, temperature=temperature or None, top_k=None, top_p=None,
                    num_return_sequences=n, pad_token_id=0, eos_token_id=None)
    context = nullcontext() if onednn else torch.backends.mkldnn.flags(enabled=False)
    with context, torch.inference_mode():
        mask = torch.ones_like(prompts)
        start = time.perf_counter()
        hf.generate(prompts, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, **sampling)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        hf.generate(prompts, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **sampling)
        total = time.perf_counter() - start
    rows = prompts.shape[0] * n
    return {"prefill_s": prefill, "decode_tok_s": rows * (new_tokens - 1) / max(total - prefill, 1e-9),
            "total_tok_s": rows * new_tokens / total}


def best_of_runs(engines: dict[str, Callable[[], dict]], repeats: int) -> dict[str, dict]:
    """Time each engine ``repeats`` times, taking turns, and keep each one's best run (highest total tok/s).

    On a shared machine a neighbour's load slows some runs; taking turns exposes every engine to the same
    moments, and the best run is the one least disturbed.
    """
    runs: dict[str, list[dict]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, run in engines.items():
            runs[name].append(run())
    return {name: max(timings, key=lambda r: r["total_tok_s"]) for name, timings in runs.items()}


def bench_generate(size: str = "0.6b", batches: list[int] = (1, 8), samples: int = 1, prompt_tokens: int = 64,
                   new_tokens: int = 128, temperature: float = 0.0, dtype: torch.dtype = torch.bfloat16,
                   int8: bool = False, compile: bool = False, repeats: int = 1,
                   with_transformers: bool = True) -> list[dict]:
    """Time our engine (and ``transformers``) on random weights of ``size`` (a ``CONFIGS`` name or "pocket").

    Each of ``batches`` prompts of ``prompt_tokens`` random tokens gets ``samples`` continuations of
    ``new_tokens`` tokens (greedy at ``temperature`` 0). ``int8`` quantizes our model's weights, ``compile`` adds
    a row for it under ``torch.compile``, and ``repeats`` times every engine that often, keeping its best run.
    Returns one result row per engine and batch size.
    """
    config = POCKET_SIZE if size == "pocket" else CONFIGS[size]
    model, hf = random_models(config, dtype, with_transformers=with_transformers)
    if int8:
        report_int8_error(model)
        model = quantize_int8(model)
    bandwidth = read_bandwidth()
    weights_mb = bytes_per_token(model, 0, 0) / 1e6
    print(f"model {size}: {weights_mb:.0f} MB of weights read per token{' (int8)' if int8 else ''}, "
          f"{str(dtype).removeprefix('torch.')}, {torch.get_num_threads()} threads; "
          f"read bandwidth {bandwidth:.1f} GB/s")
    rows = []
    for batch in batches:
        prompts = torch.randint(0, config.vocab_size, (batch, prompt_tokens),
                                generator=torch.Generator().manual_seed(batch))
        n = samples
        limit = bandwidth * 1e9 / bytes_per_token(model, batch * n, prompt_tokens + new_tokens // 2)
        engines = {"rfs": partial(time_rfs, model, prompts, new_tokens, temperature, n)}
        if compile:
            compiled = compile_model(model)
            start = time.perf_counter()
            time_rfs(compiled, prompts, 4, temperature, n)  # compiles prefill and decode for these shapes
            print(f"torch.compile warm-up: {time.perf_counter() - start:.0f} s")
            engines["rfs (torch.compile)"] = partial(time_rfs, compiled, prompts, new_tokens, temperature, n)
        if hf is not None:
            for onednn in (True, False):
                engines[f"transformers (oneDNN {'on' if onednn else 'off'})"] = partial(
                    time_transformers, hf, prompts, new_tokens, onednn, temperature, n)
        results = best_of_runs(engines, repeats)
        theirs = [r for name, r in results.items() if name.startswith("transformers")]
        if theirs:  # transformers' best configuration, for each measure
            best_total, best_decode = (max(t[key] for t in theirs) for key in ("total_tok_s", "decode_tok_s"))
        for name, r in results.items():
            row = {"batch": batch, "samples": n, "engine": name, **r,
                   "limit_fraction": r["decode_tok_s"] / (batch * n) / limit}
            if theirs:
                row["speedup_vs_best_transformers"] = r["total_tok_s"] / best_total
                row["decode_speedup_vs_best_transformers"] = r["decode_tok_s"] / best_decode
            rows.append(row)
            print(f"batch {batch:>2} x {n} {name:<28} prefill {r['prefill_s']:6.2f}s  "
                  f"decode {r['decode_tok_s']:7.1f} tok/s"
                  f"  total {r['total_tok_s']:7.1f} tok/s  {100 * row['limit_fraction']:5.1f}% of the bandwidth limit "
                  f"({limit * batch * n:.1f} tok/s)"
                  + (f"  x{row['decode_speedup_vs_best_transformers']:.2f} decode, "
                     f"x{row['speedup_vs_best_transformers']:.2f} total vs best transformers" if theirs else ""))
    return rows


def timed_samples(model: Qwen3, prompts: list[list[int]], new_tokens: int, n: int,
                  seed: int) -> tuple[list[list[int]], float]:
    """Sample ``n`` continuations of each prompt in one engine call; return the rows' tokens and the seconds.

    Row ``r`` is sample ``r % n`` of prompt ``r // n``. End tokens are ignored, so every row runs the full
    ``new_tokens`` and the work is the same whatever the random weights say.
    """
    tokens: list[list[int]] = [[] for _ in range(len(prompts) * n)]
    start = time.perf_counter()
    for events in generate_ids(model, prompts, max_new_tokens=new_tokens, temperature=0.8, n=n, seed=seed):
        for row, token, _, _ in events:
            tokens[row].append(token)
    return tokens, time.perf_counter() - start


def bench_samples(size: str = "0.6b", problems: int = 4, samples: int = 8, prompt_tokens: int = 64,
                  new_tokens: int = 64, dtype: torch.dtype = torch.bfloat16, seed: int = 0) -> dict:
    """Time ``samples`` samples for each of ``problems`` prompts: shared prefill vs one generation per sample.

    Shared: one call with ``n = samples``; each prompt is prefilled once and all samples decode as one batch.
    Separate: ``samples`` calls with ``n = 1``, call ``j`` seeded ``seed + j``. Sample ``j`` of the shared call
    draws from the same random stream (seed ``seed + j``), so both give the same tokens; that is asserted.
    """
    config = POCKET_SIZE if size == "pocket" else CONFIGS[size]
    model, _ = random_models(config, dtype, with_transformers=False)
    n = samples
    prompts = torch.randint(0, config.vocab_size, (problems, prompt_tokens),
                            generator=torch.Generator().manual_seed(0)).tolist()
    print(f"model {size} ({str(dtype).removeprefix('torch.')}, {torch.get_num_threads()} threads): {problems} "
          f"problems x {n} samples, {prompt_tokens}-token prompts, {new_tokens} new tokens")
    timed_samples(model, prompts[:1], 2, 1, 0)  # warm up (first-call allocations)
    shared, shared_s = timed_samples(model, prompts, new_tokens, n, seed)
    separate, separate_s = [], 0.0
    for j in range(n):
        tokens, seconds = timed_samples(model, prompts, new_tokens, 1, seed + j)
        separate.append(tokens)
        separate_s += seconds
    for r, row in enumerate(shared):  # row r is sample r % n of prompt r // n
        assert row == separate[r % n][r // n], f"sample {r % n} of prompt {r // n} differs between the two ways"
    total = len(shared) * new_tokens
    result = {"shared_tok_s": total / shared_s, "separate_tok_s": total / separate_s, "speedup": separate_s / shared_s}
    print(f"shared prefill, one call:      {result['shared_tok_s']:8.1f} tok/s ({shared_s:.1f} s)")
    print(f"one call per sample ({n} calls): {result['separate_tok_s']:8.1f} tok/s ({separate_s:.1f} s)")
    print(f"speedup x{result['speedup']:.2f}; the tokens are identical")
    return result


def report_int8_error(model: Qwen3) -> None:
    """Print how far int8 weights move the logits of ``model`` on a random prompt."""
    import copy

    ids = torch.randint(0, model.config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        exact = model(ids).float()
        approx = quantize_int8(copy.deepcopy(model))(ids).float()
    agree = (exact.argmax(-1) == approx.argmax(-1)).float().mean().item()
    print(f"int8 weights: max |logit difference| {(exact - approx).abs().max().item():.3f} "
          f"(logits span {exact.std().item():.2f} std); top-1 token agrees at {agree:.1%} of positions")
