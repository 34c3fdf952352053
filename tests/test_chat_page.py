"""The browser chat page of `rfs serve` (appendix G): served at /chat, self-contained, and working in Chromium.

The browser test starts headless Chromium with its DevTools port open and drives the page over that protocol
(JSON messages on a websocket): it types a question, presses Enter, waits for the streamed answer, asks a second
question in the same conversation, and saves a screenshot to `_build/screenshots/chat.png`.
"""

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from rfs.serve import ServeSettings, free_port, running_server

ROOT = Path(__file__).resolve().parents[1]


def get(url: str, headers: dict | None = None) -> tuple[int, str, str]:
    """Status, content type and body of a GET request (an HTTP error's too)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read().decode()


def test_page_is_served_self_contained_and_without_the_api_key():
    with running_server(ServeSettings("pocket-reasoning", port=0, api_key="secret")) as server:
        root = server.url.removesuffix("/v1")
        status, kind, page = get(f"{root}/chat")
        assert (status, kind.split(";")[0]) == (200, "text/html")
        assert get(f"{server.url}/models")[0] == 401  # the API itself still wants the key
        assert get(f"{server.url}/models", {"Authorization": "Bearer secret"})[0] == 200
    assert "/v1/chat/completions" in page and "stream: true" in page  # asks for server-sent events
    assert "<details" in page or 'createElement("details")' in page  # thinking folds away
    # Offline course: no script, style or font from anywhere else.
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)
    assert "@import" not in page and "http://" not in page and "https://" not in page


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class DevTools:
    """A minimal client of Chromium's DevTools protocol: send a command, wait for the reply with its id."""

    def __init__(self, websocket_url: str):
        import websocket

        self.socket = websocket.create_connection(websocket_url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 120):
        """Poll until the expression is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"the page never satisfied {expression}")

    def type_and_send(self, text: str) -> None:
        """Type ``text`` into the question box and press Enter, as a person would."""
        self.evaluate("document.getElementById('question').focus()")
        self.send("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))


@pytest.fixture
def browser_page():
    """Yield a function that opens a URL in headless Chromium and returns a DevTools client of that page."""
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    pytest.importorskip("websocket", reason="the browser test needs websocket-client (the dev extra has it)")
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=900,900",
             f"--remote-debugging-port={port}", "--remote-allow-origins=*", f"--user-data-dir={profile}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clients = []
        try:
            def open_page(url: str) -> DevTools:
                deadline = time.monotonic() + 60
                while True:  # the DevTools port opens a moment after the browser starts
                    try:
                        status, _, body = get(f"http://127.0.0.1:{port}/json/list")
                        pages = [t for t in json.loads(body) if t["type"] == "page"]
                        if status == 200 and pages:
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError("Chromium's DevTools port did not open")
                    time.sleep(0.2)
                client = DevTools(pages[0]["webSocketDebuggerUrl"])
                clients.append(client)
                client.send("Page.enable")
                client.send("Page.navigate", url=url)
                return client

            yield open_page
        finally:
            for client in clients:
                client.socket.close()
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.slow  # 3 s on a quiet host, 10 s and more under load: Chromium starts, two answers stream
def test_chat_in_headless_chromium_streams_thinking_and_answer_over_two_turns(browser_page):
    with running_server(ServeSettings("pocket-reasoning", port=0)) as server:
        page = browser_page(server.url.removesuffix("/v1") + "/chat")
        page.wait_for("document.body.dataset.state === 'idle'", 60)  # the page found the model
        assert page.evaluate("document.getElementById('model').textContent") == "pocket-reasoning"

        page.type_and_send("What is 17 + 25?")
        page.wait_for("document.querySelectorAll('.assistant .answer').length === 1", 10)
        page.wait_for("document.body.dataset.state === 'idle'")
        answer = page.evaluate("document.querySelector('.assistant .answer').textContent")
        thinking = page.evaluate("document.querySelector('.assistant details div').textContent")
        folded = page.evaluate("document.querySelector('.assistant details').open")
        assert "42" in answer and "\\boxed{42}" in answer, answer
        assert "17" in thinking and "25" in thinking and folded is False, thinking

        page.type_and_send("What is 12 \\times 13?")  # a second turn: the whole conversation is sent
        page.wait_for("document.querySelectorAll('.assistant .answer').length === 2", 10)
        page.wait_for("document.body.dataset.state === 'idle'")
        second = page.evaluate("document.querySelectorAll('.assistant .answer')[1].textContent")
        roles = page.evaluate("conversation.map(m => m.role).join(',')")
        assert "156" in second, second
        assert roles == "user,assistant,user,assistant"
        assert page.evaluate("document.querySelectorAll('.turn.error').length") == 0

        page.evaluate("document.querySelector('.assistant details').open = true")  # show a thought on the shot
        shot = page.send("Page.captureScreenshot", format="png")["data"]
    screenshots = ROOT / "_build" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    (screenshots / "chat.png").write_bytes(base64.b64decode(shot))
    assert (screenshots / "chat.png").stat().st_size > 10_000
