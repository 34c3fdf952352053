"""Sampling filters and the generation engine: batched, cached, sampled and streamed decoding agree."""

import math

import pytest
import torch

from rfs.generate import (
    compile_model,
    filter_top_k,
    filter_top_p,
    generate,
    left_pad,
    sample_next_token,
    sampling_logprobs,
    stream,
)

PROMPTS = ["Q: What is 12+7?\nA:", "Hello there", "The quick brown fox jumps over the lazy dog. Hello"]


def test_filter_top_k():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    assert filter_top_k(logits, 2).tolist() == [[-math.inf, 4.0, 3.0, -math.inf]]
    assert filter_top_k(logits, None) is logits


def test_filter_top_p_keeps_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = filter_top_p(probs.log(), 0.8).isfinite().tolist()
    assert kept == [[True, True, False, False]]  # 0.5 + 0.3 reaches 0.8
    assert filter_top_p(probs.log(), 0.81).isfinite().tolist() == [[True, True, True, False]]
    assert filter_top_p(probs.log(), 0.1).isfinite().tolist() == [[True, False, False, False]]


def test_sampling_follows_the_filtered_distribution():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().repeat(4000, 1)
    draws = sample_next_token(logits, temperature=1.0, top_p=0.8, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=4) / 4000
    assert counts[2:].sum() == 0
    assert counts[0].item() == pytest.approx(0.5 / 0.8, abs=0.03)
    assert sample_next_token(logits[:2], temperature=0.0).tolist() == [0, 0]


def test_left_pad():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_greedy_equals_one_at_a_time(tiny_model, tiny_tokenizer):
    together = generate(tiny_model, tiny_tokenizer, PROMPTS, max_new_tokens=16)
    for prompt, [completion] in zip(PROMPTS, together, strict=True):
        [[alone]] = generate(tiny_model, tiny_tokenizer, [prompt], max_new_tokens=16)
        assert completion.token_ids == alone.token_ids


def test_cached_greedy_equals_recomputing_everything(tiny_model, tiny_tokenizer):
    ids = tiny_tokenizer.encode(PROMPTS[0])
    for _ in range(10):  # no cache: run the whole text through the model for every new token
        ids.append(int(tiny_model(torch.tensor([ids]))[0, -1].argmax()))
    [[completion]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[0]], max_new_tokens=10)
    assert tiny_tokenizer.encode(PROMPTS[0]) + completion.token_ids == ids


def test_samples_are_reproducible_and_independent_of_the_batch(tiny_model, tiny_tokenizer):
    kwargs = dict(max_new_tokens=12, temperature=1.0, top_k=50, top_p=0.95)
    first = generate(tiny_model, tiny_tokenizer, PROMPTS, n=4, seed=7, **kwargs)
    again = generate(tiny_model, tiny_tokenizer, PROMPTS, n=4, seed=7, **kwargs)
    assert [[c.token_ids for c in p] for p in first] == [[c.token_ids for c in p] for p in again]
    assert len({tuple(c.token_ids) for c in first[1]}) > 1  # the samples differ from each other
    # Sample j of n shares the prompt's prefill yet equals a lone generation seeded with seed + j.
    [[lone]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[2]], n=1, seed=7 + 3, **kwargs)
    assert first[2][3].token_ids == lone.token_ids


def test_a_generator_or_no_seed_gives_fresh_samples_a_fixed_seed_repeats(tiny_model, tiny_tokenizer):
    kwargs = dict(max_new_tokens=12, temperature=1.0, n=3)

    def draws(seed) -> list[list[int]]:
        return [c.token_ids for c in generate(tiny_model, tiny_tokenizer, [PROMPTS[0]], seed=seed, **kwargs)[0]]

    assert draws(None) != draws(None)
    rng = torch.Generator().manual_seed(11)
    first, second = draws(rng), draws(rng)
    assert first != second  # each call draws new noise from the generator ...
    rng.manual_seed(11)
    assert [draws(rng), draws(rng)] == [first, second]  # ... and a generator seeded alike repeats the run
    assert draws(5) == draws(5)


def test_stop_strings_and_finish_reasons(tiny_model, tiny_tokenizer):
    [[free]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[1]], max_new_tokens=20)
    assert free.finish_reason == "length" and len(free.token_ids) == 20
    stop = free.text[5:7]
    [[cut]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[1]], max_new_tokens=20, stop=[stop])
    assert cut.finish_reason == "stop" and stop not in cut.text and free.text.startswith(cut.text)
    assert len(cut.token_ids) < 20


def test_end_token_finishes_a_row_early(tiny_model, tiny_tokenizer):
    with torch.no_grad():  # make <|endoftext|> the most likely token after "Hello"
        tiny_model.lm_head.weight[tiny_tokenizer.eos_id] = tiny_model.embed_tokens.weight[
            tiny_tokenizer.encode("Hello")[-1]] * 50
    results = generate(tiny_model, tiny_tokenizer, ["Hello", PROMPTS[0]], max_new_tokens=8)
    assert results[0][0].finish_reason == "stop" and results[0][0].token_ids == [tiny_tokenizer.eos_id]
    assert results[0][0].text == ""


def test_logprobs_sum_to_the_sequence_logprob(tiny_model, tiny_tokenizer):
    [[c]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[0]], max_new_tokens=6, temperature=1.0, seed=1,
                     logprobs=True)
    prompt = tiny_tokenizer.encode(PROMPTS[0])
    ids = torch.tensor([prompt + c.token_ids])
    with torch.no_grad():
        logp = tiny_model(ids)[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    assert sum(c.logprobs) == pytest.approx(logp[len(prompt) - 1:].sum().item(), abs=1e-3)


def full_forward_logits(model, prompt: list[int], completion: list[int]) -> torch.Tensor:
    """The logits (N, V) that predicted each of the N completion tokens, from one pass over the whole text."""
    with torch.no_grad():
        return model(torch.tensor([prompt + completion]))[0, len(prompt) - 1:-1]


@pytest.mark.parametrize("temperature, top_k, top_p", [(0.7, None, None), (0.7, 20, None), (1.3, None, 0.6),
                                                        (0.7, 30, 0.9)])
def test_logprobs_are_those_of_the_sampled_distribution(tiny_model, tiny_tokenizer, temperature, top_k, top_p):
    [[c]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[0]], max_new_tokens=10, temperature=temperature,
                     top_k=top_k, top_p=top_p, seed=3, logprobs=True)
    logits = full_forward_logits(tiny_model, tiny_tokenizer.encode(PROMPTS[0]), c.token_ids)
    tokens = torch.tensor(c.token_ids)[:, None]
    # Written out: temper, keep the top k, keep the nucleus, normalise.
    tempered = logits / temperature
    if top_k is not None:
        tempered[tempered < tempered.topk(top_k, dim=-1).values[:, -1:]] = -math.inf
    if top_p is not None:
        tempered = filter_top_p(tempered, top_p)
    expected = tempered.log_softmax(-1).gather(-1, tokens)[:, 0]
    raw = logits.log_softmax(-1).gather(-1, tokens)[:, 0]
    torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=1e-4)
    assert (expected - raw).abs().max() > 0.05  # the raw model log-probabilities would fail this test
    torch.testing.assert_close(sampling_logprobs(logits, temperature, top_k, top_p).gather(-1, tokens)[:, 0],
                               expected, atol=1e-5, rtol=1e-5)


def test_greedy_logprobs_are_the_models_own(tiny_model, tiny_tokenizer):
    [[c]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[1]], max_new_tokens=6, logprobs=True)
    logits = full_forward_logits(tiny_model, tiny_tokenizer.encode(PROMPTS[1]), c.token_ids)
    expected = logits.log_softmax(-1).gather(-1, torch.tensor(c.token_ids)[:, None])[:, 0]
    torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=1e-4)
    assert all(lp < 0 for lp in c.logprobs)


def test_stream_yields_the_same_text(tiny_model, tiny_tokenizer):
    [[c]] = generate(tiny_model, tiny_tokenizer, [PROMPTS[2]], max_new_tokens=15)
    pieces = list(stream(tiny_model, tiny_tokenizer, PROMPTS[2], max_new_tokens=15))
    assert len(pieces) > 1 and "".join(pieces) == c.text


def test_compiled_model_generates_the_same_tokens(tiny_model, tiny_tokenizer):
    prompts = ["the cat", "a longer prompt than that"]  # two lengths: padding, a mask, rows finishing apart
    eager = generate(tiny_model, tiny_tokenizer, prompts, max_new_tokens=6)
    compiled = generate(compile_model(tiny_model), tiny_tokenizer, prompts, max_new_tokens=6)
    assert [[c.token_ids for c in row] for row in compiled] == [[c.token_ids for c in row] for row in eager]
