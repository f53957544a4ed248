"""A real local HTTP server playing Discord's webhook API, recording every request."""

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBHOOK_PATH = "/api/webhooks/1234/secret-token"


class FakeDiscord:
    """Discord on 127.0.0.1: POST ?wait=true answers a message id, PATCH and DELETE succeed.

    ``fail_next(n, status)`` makes the next n requests fail; ``hold()`` keeps requests waiting
    until ``release()``.
    """

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.failures: list[tuple[int, dict]] = []
        self.released = threading.Event()
        self.released.set()
        self._ids = itertools.count(900_000_000_000_000_001)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}{WEBHOOK_PATH}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> "FakeDiscord":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int, status: int = 500, body: dict | None = None) -> None:
        self.failures.extend([(status, body or {"message": "Internal Server Error"})] * count)

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def answer(self, method: str, path: str, query: dict, body) -> tuple[int, dict | None]:
        """Record the request and decide the response (runs in a server thread)."""
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "body": body})
            if self.failures:
                return self.failures.pop(0)
            message_id = str(next(self._ids)) if method == "POST" else path.rsplit("/", 1)[-1]
        if method == "DELETE":
            return 204, None
        if method == "POST" and query.get("wait") != ["true"]:
            return 204, None
        return 200, {"id": message_id, **(body or {})}

    def wait_for(self, count: int, timeout: float = 15) -> list[dict]:
        """The recorded requests, once there are at least ``count`` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.requests) >= count, f"{len(self.requests)} requests: {self.requests}"
        return list(self.requests)


def _handler(discord: FakeDiscord):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            discord.released.wait(timeout=30)
            parts = urlsplit(self.path)
            body = json.loads(raw) if raw else None
            status, answer = discord.answer(self.command, parts.path, parse_qs(parts.query), body)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format, *args) -> None:  # noqa: A002
            pass

    return Handler
