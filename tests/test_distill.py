"""Teacher data: the book's file shape loads, the filter, a local teacher and rfs serve give the same traces,
an interrupted run resumes, and an endpoint answering 429 or 500 is retried (a stub server on 127.0.0.1)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import torch

from rfs.distill import TeacherSettings, TraceFilter, load_problems, read_traces, with_retries, write_traces
from rfs.serve import ServeSettings, running_server

BOOK_SHAPE = [  # the keys of the book's distillation files, nothing more
    {"problem": "What is 2 + 3?", "gtruth_answer": "5", "message_thinking": "2 + 3 = 5.",
     "message_content": "The answer is $\\boxed{5}$."},
    {"problem": "Simplify \\frac{2}{4}.", "gtruth_answer": "\\frac{1}{2}", "message_thinking": "Halve both.",
     "message_content": "So $\\boxed{\\frac{1}{3}}$."},
]
PROBLEMS = [{"unique_id": f"p/{i}", "problem": f"What is {a} + {b}?", "answer": str(a + b)}
            for i, (a, b) in enumerate([(12, 7), (3, 4), (30, 4), (25, 17), (9, 9)])]


@pytest.fixture(scope="module")
def pocket_reasoning():
    from rfs.hub import MODELS, load_model, load_tokenizer

    if not (MODELS["pocket-reasoning"]["path"] / "config.json").is_file():
        pytest.skip("the pocket models are not built (rfs pocket train --preset reasoning)")
    torch.set_num_threads(1)
    return load_model("pocket-reasoning", device="cpu", dtype=torch.float32), load_tokenizer("pocket-reasoning")


def test_a_book_shaped_file_loads_and_is_graded_on_load(tmp_path):
    path = tmp_path / "book.json"
    path.write_text(json.dumps(BOOK_SHAPE))
    every = read_traces(path, keep=None)
    assert [r["correct"] for r in every] == [True, False]
    assert [r["answer"] for r in every] == ["5", "\\frac{1}{3}"]
    assert [r["problem"] for r in read_traces(path)] == ["What is 2 + 3?"]  # the default keeps correct ones


def test_the_filter_drops_wrong_long_and_cut_answers():
    record = {"correct": True, "completion_tokens": 50, "finish_reason": "stop"}
    assert TraceFilter().keeps(record)
    assert not TraceFilter().keeps(record | {"correct": False})
    assert TraceFilter(correct_only=False).keeps(record | {"correct": False})
    assert not TraceFilter(max_tokens=49).keeps(record)
    assert not TraceFilter(correct_only=False).keeps(record | {"finish_reason": "length"})


def test_a_record_without_a_problem_is_refused_with_what_is_needed(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "2+3?"}) + "\n")
    with pytest.raises(ValueError, match="needs at least problem and message_content"):
        read_traces(path)


def test_problems_come_from_a_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"problem": p["problem"], "answer": p["answer"]}) + "\n" for p in PROBLEMS))
    problems = load_problems(str(path), "train", 2)
    assert [p["unique_id"] for p in problems] == ["problems/0", "problems/1"]
    with pytest.raises(FileNotFoundError, match="neither pocket-math"):
        load_problems(str(tmp_path / "nope.jsonl"), "train", 2)


@pytest.mark.slow  # pocket-reasoning answers 5 problems twice, in process and over HTTP (about 15 s busy)
def test_a_local_teacher_and_rfs_serve_write_the_same_traces_and_a_rerun_resumes(pocket_reasoning, tmp_path):
    local = tmp_path / "local.jsonl"
    counts = write_traces(PROBLEMS[:3], TeacherSettings("pocket-reasoning"), local, progress=False)
    assert counts["asked"] == 3
    counts = write_traces(PROBLEMS, TeacherSettings("pocket-reasoning"), local, progress=False)
    assert counts["asked"] == 2 and counts["answers"] == 5  # only the two new problems were asked
    model, tokenizer = pocket_reasoning
    with running_server(ServeSettings("pocket-reasoning", port=0), model, tokenizer) as server:
        served = tmp_path / "served.jsonl"
        write_traces(PROBLEMS, TeacherSettings(server.url, concurrency=2), served, progress=False)
    by_id = {r["id"]: r for r in read_traces(served, keep=None)}
    for record in read_traces(local, keep=None):
        other = by_id[record["id"]]
        for key in ("message_thinking", "message_content", "correct", "prompt_tokens", "completion_tokens"):
            assert record[key] == other[key], key
    assert sum(r["correct"] for r in by_id.values()) >= 4
    assert all(r["message_thinking"] and "<think>" not in r["message_content"] for r in by_id.values())
    with pytest.raises(ValueError, match="another teacher"):
        write_traces(PROBLEMS, TeacherSettings("pocket-base"), served, progress=False)


def test_a_cut_last_line_is_asked_again(tmp_path, monkeypatch):
    out = tmp_path / "t.jsonl"
    asked = []

    def fake_local(problems, settings, progress):
        asked.extend(p["unique_id"] for p in problems)
        yield [{"id": p["unique_id"], "problem": p["problem"], "message_thinking": "", "message_content": "",
                "correct": False, "teacher": settings.teacher} for p in problems]

    monkeypatch.setattr("rfs.distill.ask_local", fake_local)
    write_traces(PROBLEMS[:2], TeacherSettings("m"), out, progress=False)
    out.write_text(out.read_text()[:-20])  # the second line cut short, as by a kill mid-write
    write_traces(PROBLEMS[:2], TeacherSettings("m"), out, progress=False)
    assert asked == ["p/0", "p/1", "p/1"]
    assert [r["id"] for r in read_traces(out, keep=None)] == ["p/0", "p/1"]


class FlakyEndpoint(BaseHTTPRequestHandler):
    """An OpenAI-style endpoint that answers the first chat requests with the statuses in ``failures``."""

    failures: list[int] = []
    chat_requests = 0

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"object": "list", "data": [{"id": "stub", "object": "model", "created": 0, "owned_by": "me"}]})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).chat_requests += 1
        if type(self).failures:
            status = type(self).failures.pop(0)
            self.reply(status, {"error": {"message": "busy", "type": "x", "param": None, "code": None}})
            return
        assert request["chat_template_kwargs"] == {"enable_thinking": True}
        message = {"role": "assistant", "content": "So $\\boxed{19}$.", "reasoning_content": "12 + 7 = 19."}
        self.reply(200, {"id": "c", "object": "chat.completion", "created": 0, "model": "stub",
                         "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20}})


@pytest.fixture
def flaky_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FlakyEndpoint.chat_requests = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_429_and_500_are_retried_and_the_answer_kept(flaky_endpoint, tmp_path):
    FlakyEndpoint.failures = [429, 500]
    settings = TeacherSettings(flaky_endpoint, backoff_s=0.01, concurrency=1)
    counts = write_traces(PROBLEMS[:1], settings, tmp_path / "t.jsonl", progress=False)
    assert FlakyEndpoint.chat_requests == 3 and counts["kept"] == 1
    [record] = read_traces(tmp_path / "t.jsonl")
    assert record["message_thinking"] == "12 + 7 = 19." and record["message_content"] == "So $\\boxed{19}$."
    assert (record["prompt_tokens"], record["completion_tokens"], record["gtruth_answer"]) == (11, 9, "19")


def test_a_bad_request_is_not_retried_and_retries_run_out(flaky_endpoint, tmp_path):
    FlakyEndpoint.failures = [400]
    with pytest.raises(openai.BadRequestError):
        write_traces(PROBLEMS[:1], TeacherSettings(flaky_endpoint, backoff_s=0.01), tmp_path / "a.jsonl",
                     progress=False)
    assert FlakyEndpoint.chat_requests == 1
    calls = []

    def always_busy():
        calls.append(1)
        FlakyEndpoint.failures = [503]
        client = openai.OpenAI(base_url=flaky_endpoint, api_key="x", max_retries=0)
        return client.chat.completions.create(model="stub", messages=[{"role": "user", "content": "hi"}],
                                              extra_body={"chat_template_kwargs": {"enable_thinking": True}})

    with pytest.raises(openai.InternalServerError):
        with_retries(always_busy, retries=2, backoff_s=0.01)
    assert len(calls) == 3


def test_the_data_command_without_a_teacher_says_how_to_name_one(tmp_path, capsys, monkeypatch):
    from rfs.cli import main

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["distill", "data", "--n", "2", "--out", str(tmp_path / "t.jsonl")]) == 2
    assert "--teacher pocket-reasoning" in capsys.readouterr().err


def test_the_data_command_writes_what_a_stub_endpoint_answers(flaky_endpoint, tmp_path, capsys, monkeypatch):
    from rfs.cli import main

    FlakyEndpoint.failures = []
    monkeypatch.setenv("OPENAI_BASE_URL", flaky_endpoint)
    assert main(["distill", "data", "--n", "2", "--out", str(tmp_path / "t.jsonl")]) == 0
    assert "2 answers" in capsys.readouterr().out
    records = read_traces(tmp_path / "t.jsonl", keep=None)
    # Answers are appended as they arrive, so two concurrent requests may land in either order.
    assert sorted(r["id"] for r in records) == ["pocket-train-42/000000", "pocket-train-42/000001"]
    assert [r["message_thinking"] for r in records] == ["12 + 7 = 19."] * 2


def test_an_unreachable_endpoint_is_one_line_that_says_what_to_check(tmp_path, capsys):
    from rfs.cli import main

    out = str(tmp_path / "t.jsonl")
    argv = ["distill", "data", "--teacher", "http://127.0.0.1:9/v1", "--retries", "0", "--n", "1", "--out", out]
    assert main(argv) == 2
    assert "check the URL, --api-key and --model-name" in capsys.readouterr().err
