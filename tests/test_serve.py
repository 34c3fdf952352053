"""rfs serve: the OpenAI-compatible server, tested with the official ``openai`` client over loopback HTTP.

The server runs in-process on a free 127.0.0.1 port with pocket-reasoning (1.7M parameters), so answers can be
compared with what :func:`rfs.generate.generate` returns for the same prompt.
"""

import threading
import time

import httpx
import pytest
import torch

from rfs.generate import generate
from rfs.serve import ChoiceText, ServeSettings, partial_suffix, running_server, split_reasoning

openai = pytest.importorskip("openai")

QUESTION = [{"role": "user", "content": "What is 17 + 25?"}]


@pytest.fixture(scope="module")
def pocket_reasoning():
    from rfs.hub import MODELS, load_model, load_tokenizer

    if not (MODELS["pocket-reasoning"]["path"] / "config.json").is_file():
        pytest.skip("the pocket models are not built (rfs pocket train --preset reasoning)")
    torch.set_num_threads(1)
    return load_model("pocket-reasoning", device="cpu"), load_tokenizer("pocket-reasoning")


@pytest.fixture(scope="module")
def server(pocket_reasoning):
    """A server for the whole module; a long batching window so that concurrent test requests surely share."""
    model, tokenizer = pocket_reasoning
    with running_server(ServeSettings("pocket-reasoning", port=0, window_s=0.2), model, tokenizer) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=60)


def chat_prompt(tokenizer, thinking=True):
    return tokenizer.render_chat(QUESTION, thinking=thinking)


# --- Text as it arrives (no server) ---------------------------------------------------------------------

def test_partial_suffix_finds_the_start_of_a_marker():
    assert partial_suffix("so 5.\n\nQ", "\n\nQ:") == 3
    assert partial_suffix("so 5.", "\n\nQ:") == 0
    assert partial_suffix("</thi", "</think>") == 5


def test_split_reasoning_final_and_growing():
    text = "<think>\nAdd the ones.\n</think>\n\nThe answer is 42."
    assert split_reasoning(text) == ("Add the ones.", "The answer is 42.")
    assert split_reasoning("The answer is 42.") == ("", "The answer is 42.")
    assert split_reasoning("<think>\ncut short") == ("cut short", "")  # never closed: all reasoning
    # Growing one character at a time, every split extends the one before (a stream can send differences).
    shown = ("", "")
    for end in range(1, len(text) + 1):
        now = split_reasoning(text[:end], final=end == len(text))
        assert now[0].startswith(shown[0]) and now[1].startswith(shown[1]), text[:end]
        shown = now
    assert shown == ("Add the ones.", "The answer is 42.")
    assert split_reasoning("<thi", final=False) == ("", "")  # may still become <think>


def test_choice_text_holds_back_a_possible_stop_string(tiny_tokenizer):
    ids = tiny_tokenizer.encode("Hello there, how are you")
    choice = ChoiceText(tiny_tokenizer, max_tokens=100, stop=["how are"], end_ids=tiny_tokenizer.stop_ids)
    shown = "".join(choice.add(t) for t in ids)
    assert shown == "Hello there, " and choice.finish_reason == "stop"
    choice = ChoiceText(tiny_tokenizer, max_tokens=3, stop=[], end_ids=tiny_tokenizer.stop_ids)
    assert "".join(choice.add(t) for t in ids[:3]) == tiny_tokenizer.decode(ids[:3])
    assert choice.finish_reason == "length"


# --- The API through the openai client ------------------------------------------------------------------

def test_models_lists_the_served_model(client):
    [model] = client.models.list().data
    assert model.id == "pocket-reasoning"


def test_chat_answer_equals_generate_with_reasoning_split(client, pocket_reasoning):
    model, tokenizer = pocket_reasoning
    reply = client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, temperature=0,
                                           max_tokens=300)
    [expected] = generate(model, tokenizer, [chat_prompt(tokenizer)], max_new_tokens=300)[0]
    message = reply.choices[0].message
    assert expected.text.startswith("<think>") and "</think>" in expected.text
    assert (message.reasoning_content, message.content) == split_reasoning(expected.text)
    assert "42" in message.content and "<think>" not in message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == len(tokenizer.encode(chat_prompt(tokenizer)))
    assert reply.usage.completion_tokens == len(expected.token_ids)  # the end token counts, as generated


def test_streamed_chat_equals_the_plain_answer(client):
    plain = client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, temperature=0,
                                           max_tokens=300).choices[0].message
    chunks = list(client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, temperature=0,
                                                 max_tokens=300, stream=True,
                                                 stream_options={"include_usage": True}))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert (reasoning, content) == (plain.reasoning_content, plain.content)
    assert len(deltas) > 20  # it streamed piece by piece
    assert deltas[0].role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 20


def test_thinking_switch_off(client, pocket_reasoning):
    model, tokenizer = pocket_reasoning
    reply = client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, temperature=0,
                                           max_tokens=100, extra_body={"chat_template_kwargs":
                                                                       {"enable_thinking": False}})
    [expected] = generate(model, tokenizer, [chat_prompt(tokenizer, thinking=False)], max_new_tokens=100)[0]
    assert reply.choices[0].message.content == expected.text
    assert reply.choices[0].message.reasoning_content is None


def test_n_samples_equal_the_engines_seeded_samples(client, pocket_reasoning):
    model, tokenizer = pocket_reasoning
    messages = [{"role": "user", "content": "Tell me a story."}]  # not a math problem: the samples differ
    reply = client.chat.completions.create(model="pocket-reasoning", messages=messages, temperature=1.0, n=3,
                                           seed=7, max_tokens=60)
    expected = generate(model, tokenizer, [tokenizer.render_chat(messages)], max_new_tokens=60, temperature=1.0,
                        n=3, seed=7)[0]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    texts = [(c.message.reasoning_content or "") + (c.message.content or "") for c in reply.choices]
    assert texts == ["".join(split_reasoning(e.text)) for e in expected]
    assert len(set(texts)) > 1  # different samples
    assert reply.usage.completion_tokens == sum(len(e.token_ids) for e in expected)


def test_streamed_samples_and_top_k(client):
    messages = [{"role": "user", "content": "Tell me a story."}]
    settings = dict(model="pocket-reasoning", messages=messages, temperature=1.0, n=2, seed=3, max_tokens=40,
                    extra_body={"top_k": 5})
    plain = client.chat.completions.create(**settings)
    streamed = ["", ""]
    for chunk in client.chat.completions.create(stream=True, **settings):
        for choice in chunk.choices:
            streamed[choice.index] += (getattr(choice.delta, "reasoning_content", None) or "") + \
                (choice.delta.content or "")
    assert streamed == [(c.message.reasoning_content or "") + c.message.content for c in plain.choices]
    top_all = client.chat.completions.create(**settings | {"extra_body": {}})
    assert [c.message for c in top_all.choices] != [c.message for c in plain.choices]  # top_k is applied


def test_stop_strings_cut_plain_and_streamed_completions(client, pocket_reasoning):
    model, tokenizer = pocket_reasoning
    prompt = chat_prompt(tokenizer)
    full = client.completions.create(model="pocket-reasoning", prompt=prompt, temperature=0, max_tokens=200)
    stop = full.choices[0].text[40:46]  # a string from the middle of the answer
    cut = client.completions.create(model="pocket-reasoning", prompt=prompt, temperature=0, max_tokens=200,
                                    stop=[stop, "never appears"])
    [expected] = generate(model, tokenizer, [prompt], max_new_tokens=200, stop=[stop])[0]
    assert cut.choices[0].text == expected.text == full.choices[0].text[:full.choices[0].text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model="pocket-reasoning", prompt=prompt, temperature=0, max_tokens=200,
                                         stop=stop, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == expected.text


def test_max_tokens_ends_with_length(client):
    reply = client.completions.create(model="pocket-reasoning", prompt=["Problem: 2+3?", "Problem: 7*8?"],
                                      temperature=0, max_tokens=5, extra_body={"ignore_eos": True})
    assert [c.finish_reason for c in reply.choices] == ["length", "length"]
    assert reply.usage.completion_tokens == 10


def test_concurrent_requests_share_a_batch_and_answer_as_alone(client, server, pocket_reasoning):
    model, tokenizer = pocket_reasoning
    questions = [f"What is {a} + {b}?" for a, b in [(3, 4), (12, 30), (45, 5), (8, 9)]]
    answers = [None] * len(questions)

    def ask(i):
        answers[i] = client.chat.completions.create(model="pocket-reasoning", temperature=0, max_tokens=120,
                                                    messages=[{"role": "user", "content": questions[i]}])

    before = len(server.batcher.batch_rows)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert server.batcher.batch_rows[before:] == [4]  # one batch of four rows
    prompts = [tokenizer.render_chat([{"role": "user", "content": q}]) for q in questions]
    for answer, [alone] in zip(answers, generate(model, tokenizer, prompts, max_new_tokens=120, batch_size=1),
                               strict=True):
        assert (answer.choices[0].message.reasoning_content, answer.choices[0].message.content) == \
            split_reasoning(alone.text)


def test_same_prompt_sampled_without_seed_is_not_batched_into_equal_samples(client, server):
    """Rows of one engine call share their random streams when no seed is given: a second request for the same
    prompt waits for the next batch, and so gets its own samples."""
    replies = []

    def ask():
        replies.append(client.chat.completions.create(model="pocket-reasoning", temperature=1.0, max_tokens=40,
                                                      messages=[{"role": "user", "content": "Tell me a story."}]))

    before = len(server.batcher.batch_rows)
    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert server.batcher.batch_rows[before:] == [1, 1]
    assert replies[0].choices[0].message != replies[1].choices[0].message


# --- Bad requests: OpenAI's error shape and status codes ---------------------------------------------------

def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-9", messages=QUESTION)
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "model_not_found" and "pocket-reasoning" in caught.value.body["message"]


def test_negative_max_tokens_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, max_tokens=-5)
    assert caught.value.body["param"] == "max_tokens" and caught.value.body["type"] == "invalid_request_error"


def test_more_completions_than_a_batch_holds_is_400(client):
    with pytest.raises(openai.BadRequestError, match="at most 64 at once"):
        client.completions.create(model="pocket-reasoning", prompt=["Hi"] * 33, n=2, max_tokens=1)


def test_logprobs_are_refused_not_ignored(client):
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        client.chat.completions.create(model="pocket-reasoning", messages=QUESTION, logprobs=True)


def test_prompt_past_the_context_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="pocket-reasoning", prompt="1 + " * 1000, max_tokens=10)
    assert caught.value.body["code"] == "context_length_exceeded"
    assert "maximum context length is 1024" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError):  # a short prompt that asks for more than the context holds
        client.completions.create(model="pocket-reasoning", prompt="Hi", max_tokens=5000)


def test_malformed_json_and_missing_fields_are_400(server):
    response = httpx.post(f"{server.url}/chat/completions", content=b'{"model": "pocket-reasoning", "mess',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in response.json()["error"]["message"]
    response = httpx.post(f"{server.url}/chat/completions", json={"model": "pocket-reasoning"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"
    assert httpx.get(f"{server.url}/nothing").json()["error"]["message"] == "Not Found"


def test_client_leaving_mid_stream_does_not_stall_the_server(client, server):
    body = {"model": "pocket-reasoning", "prompt": "Problem: 1+1?", "max_tokens": 1000, "temperature": 0,
            "stream": True, "ignore_eos": True}
    with httpx.stream("POST", f"{server.url}/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")  # it is streaming; now hang up
    start = time.perf_counter()
    reply = client.completions.create(model="pocket-reasoning", prompt="Problem: 2+2?", max_tokens=5, temperature=0)
    assert reply.choices[0].text
    # 1000 tokens would take far longer than this: the abandoned request was dropped.
    assert time.perf_counter() - start < 5


def test_api_key_is_required_when_set(pocket_reasoning):
    model, tokenizer = pocket_reasoning
    with running_server(ServeSettings("pocket-reasoning", port=0, api_key="sesame"), model, tokenizer) as running:
        assert running.url.startswith("http://127.0.0.1:")
        with pytest.raises(openai.AuthenticationError) as caught:
            openai.OpenAI(base_url=running.url, api_key="wrong", max_retries=0).models.list()
        assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
        assert httpx.get(f"{running.url}/models").status_code == 401  # no header at all
        keyed = openai.OpenAI(base_url=running.url, api_key="sesame", max_retries=0)
        assert keyed.models.list().data[0].id == "pocket-reasoning"


# --- The commands ---------------------------------------------------------------------------------------

def test_rfs_bench_serve_batches_the_clients(capsys):
    from rfs.cli import main

    assert main(["bench", "serve", "--clients", "3", "--new-tokens", "8", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 clients, 8 tokens each" in out and "batches of [3] rows" in out and "ratio" in out


@pytest.mark.slow  # a fresh Python process imports torch and the web stack: 10-30 s on a busy host
def test_rfs_serve_command_answers_over_http():
    import subprocess
    import sys

    from rfs.serve import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rfs.cli", "serve", "--model", "pocket-base", "--port", str(port),
                               "--api-key", "k", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, timeout=30)
        deadline = time.monotonic() + 120
        while True:
            try:
                assert client.models.list().data[0].id == "pocket-base"
                break
            except openai.APIConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "rfs serve did not come up"
                time.sleep(0.5)
        reply = client.completions.create(model="pocket-base", prompt="Problem: What is 2 + 3?\nAnswer:",
                                          max_tokens=8, temperature=0)
        assert reply.choices[0].text.strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
