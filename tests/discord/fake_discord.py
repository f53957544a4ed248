"""A real local HTTP server playing Discord's webhook API: it keeps the messages of each webhook
(post creates, edit changes, delete removes; an unknown message is 404 code 10008) and records
every request it received.

``fail_next(n, status, body)`` answers the next n requests with that error; ``go_down(status)``
answers every request so until ``come_back()``; ``remove_webhook(url)`` makes a webhook answer
404 code 10015 for good; ``hold()`` keeps requests waiting until ``release()``, and a held
request whose client went away meanwhile is dropped unprocessed, as if it never arrived.
"""

import itertools
import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBHOOK_PATH = "/api/webhooks/1234/secret-token"
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}


class FakeDiscord:
    """Discord on 127.0.0.1; ``url`` is one webhook, ``webhook_url(n)`` gives others."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.failures: list[tuple[int, dict, dict]] = []
        self.down_status: int | None = None
        self.removed: set[str] = set()
        self.success_headers: dict[str, str] = {}  # sent with every 2xx (rate-limit headers)
        self.messages: dict[str, dict[str, dict]] = {}  # webhook path -> message id -> body
        self.released = threading.Event()
        self.released.set()
        self._ids = itertools.count(900_000_000_000_000_001)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = self.base + WEBHOOK_PATH
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def webhook_url(self, number: int) -> str:
        return f"{self.base}/api/webhooks/{5000 + number}/token-{number}"

    def start(self) -> "FakeDiscord":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self, count: int, status: int = 500, body: dict | None = None, headers: dict | None = None
    ) -> None:
        body = body or {"message": "Internal Server Error"}
        self.failures.extend([(status, body, headers or {})] * count)

    def go_down(self, status: int = 503) -> None:
        self.down_status = status

    def come_back(self) -> None:
        self.down_status = None

    def remove_webhook(self, url: str) -> None:
        self.removed.add(urlsplit(url).path)

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def channel(self, url: str | None = None) -> dict[str, dict]:
        """The messages the webhook's channel shows now: id -> body."""
        with self._lock:
            return dict(self.messages.get(urlsplit(url or self.url).path, {}))

    def received(self, method: str | None = None, url: str | None = None) -> list[dict]:
        """Requests received (to this webhook, with this method), arrival order."""
        with self._lock:
            found = list(self.requests)
        path = urlsplit(url).path if url else None
        return [
            r
            for r in found
            if (method is None or r["method"] == method) and (path is None or r["webhook"] == path)
        ]

    def arrive(self, method: str, path: str, query: dict, body, headers: dict, client) -> dict:
        """Record a request as it arrives (runs in a server thread)."""
        webhook = "/".join(path.split("/")[:5])
        record = {
            "client": client,
            "method": method,
            "path": path,
            "webhook": webhook,
            "query": query,
            "body": body,
            "headers": headers,
            "at": time.monotonic(),
            "status": None,
        }
        with self._lock:
            self.requests.append(record)
        return record

    def answer(self, record: dict) -> tuple[int, dict | None, dict]:
        """Decide the response and change the channel as Discord would."""
        with self._lock:
            status, body, headers = self._answer(record)
            record["status"] = status
            return status, body, headers

    def _answer(self, record: dict) -> tuple[int, dict | None, dict]:
        if self.failures:
            return self.failures.pop(0)
        if self.down_status is not None:
            return self.down_status, {"message": "Service Unavailable"}, {}
        webhook, method = record["webhook"], record["method"]
        if webhook in self.removed:
            return 404, UNKNOWN_WEBHOOK, {}
        channel = self.messages.setdefault(webhook, {})
        if method == "POST":
            message_id = str(next(self._ids))
            channel[message_id] = record["body"]
            if record["query"].get("wait") != ["true"]:
                return 204, None, {}
            return 200, {"id": message_id, **(record["body"] or {})}, dict(self.success_headers)
        message_id = record["path"].rsplit("/", 1)[-1]
        if message_id not in channel:
            return 404, UNKNOWN_MESSAGE, {}
        if method == "DELETE":
            del channel[message_id]
            return 204, None, {}
        channel[message_id] = record["body"]
        return 200, {"id": message_id, **(record["body"] or {})}, {}

    def wait_for(self, count: int, timeout: float = 15) -> list[dict]:
        """The recorded requests, once at least ``count`` have been answered (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered = [r for r in list(self.requests) if r["status"] is not None]
            if len(answered) >= count:
                return answered
            time.sleep(0.01)
        raise AssertionError(f"{len(self.requests)} requests: {self.requests}")


def _client_gone(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _handler(discord: FakeDiscord):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Discord: one connection per client

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            record = discord.arrive(
                self.command,
                parts.path,
                parse_qs(parts.query),
                json.loads(raw) if raw else None,
                dict(self.headers),
                self.client_address,
            )
            discord.released.wait(timeout=60)
            if _client_gone(self.connection):
                record["status"] = "abandoned"
                return
            status, answer, headers = discord.answer(record)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Via", "1.1 google")  # as Discord's answers come
            for name, value in headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format, *args) -> None:  # noqa: A002
            pass

    return Handler
