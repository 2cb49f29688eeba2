"""A stand-in for an OpenAI-compatible judge, served on 127.0.0.1 by the test that needs it.

`POST /v1/chat/completions` answers with a chat-completion JSON whose content `reply(body)`
chooses (replay a recording, a fixed reply, ...). Every request body is kept in `requests`, and
`faults` queues HTTP statuses to answer with before the real replies (e.g. a 429), so retries,
rate limits and interruptions can be tested without a network.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[dict], str]


class StubJudge:
    def __init__(self, reply: Reply, model: str = "stub-judge") -> None:
        self.reply = reply
        self.model = model
        self.requests: list[dict] = []  # every request body received, faulted ones included
        self.faults: deque[int] = deque()  # HTTP statuses to return before replying
        self.fail_after: int | None = None  # from this many replies on, answer 503 for good
        self.replies = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubJudge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _respond(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            if self.faults:
                status = self.faults.popleft()
                return status, {"error": {"message": f"stub fault {status}"}}
            if self.fail_after is not None and self.replies >= self.fail_after:
                return 503, {"error": {"message": "stub is down"}}
            self.replies += 1
        content = self.reply(body)
        return 200, {
            "id": f"chatcmpl-stub-{self.replies}",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = stub._respond(body)
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        return Handler
