"""One webhook call to Discord, and what its answer means; rate-limit pauses per process.

Webhook URLs carry a secret token: they are never logged. Redirects are never followed (a
webhook URL that redirects is misconfigured, and a redirect could leak the body elsewhere).
"""

import dataclasses
import enum
import hashlib
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

VERSION = "1.0"
# Discord's error codes (JSON "code") that decide what happens next.
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
RETRYABLE_STATUSES = {408, 500, 502, 503, 504}
NO_MENTIONS = {"parse": []}


class Outcome(enum.Enum):
    OK = "ok"
    UNKNOWN_MESSAGE = "unknown message"  # 10008: deleted by hand, or posted by another webhook
    WEBHOOK_GONE = "webhook gone"  # 10015, 50027: never send to it again
    RATE_LIMITED = "rate limited"  # 429: wait what Discord says
    RETRY = "retry"  # 5xx, 408, timeouts, connection errors: back off and try again
    REFUSED = "refused"  # any other answer: the job is dead


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one call came to; ``detail`` names it for logs and last_error (never the URL)."""

    outcome: Outcome
    detail: str
    message_id: str | None = None
    retry_after: float | None = None  # seconds, for RATE_LIMITED
    is_global: bool = False
    bucket_reset_after: float | None = None  # set when the webhook's bucket is exhausted


def webhook_url(url: str, *path: str, **params: str) -> str:
    """The webhook URL with path segments and query parameters added (``thread_id`` is kept)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    new_path = "/".join([parts.path.rstrip("/"), *path])
    return urlunsplit((parts.scheme, parts.netloc, new_path, query, ""))


def is_http_url(url: str) -> bool:
    """Whether the URL is http(s) with a host: nothing else is ever requested."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def user_agent(backend_url: str) -> str:
    """``DiscordBot (<url>, <version>)``, the form Discord asks of every client."""
    return f"DiscordBot ({backend_url}, {VERSION})"


class WebhookClient:
    """post, edit and delete of one message; each call is one HTTP request with a timeout."""

    def __init__(self, timeout: float, agent: str) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = agent

    def post(self, url: str, payload: dict) -> Answer:
        return self._call("POST", webhook_url(url, wait="true"), _quiet(payload))

    def edit(self, url: str, message_id: str, payload: dict) -> Answer:
        return self._call("PATCH", webhook_url(url, "messages", message_id), _quiet(payload))

    def delete(self, url: str, message_id: str) -> Answer:
        return self._call("DELETE", webhook_url(url, "messages", message_id), None)

    def _call(self, method: str, url: str, body: dict | None) -> Answer:
        try:
            response = self.session.request(
                method, url, json=body, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            return Answer(Outcome.RETRY, type(e).__name__)
        return read_answer(response)


def _quiet(payload: dict) -> dict:
    # Without it a webhook parses mentions, and an edit parses them again.
    return {**payload, "allowed_mentions": NO_MENTIONS}


def read_answer(response: requests.Response) -> Answer:
    """Classify Discord's answer (status, error code, rate-limit headers)."""
    status = response.status_code
    body = _json(response)
    code = body.get("code") if isinstance(body.get("code"), int) else None
    detail = f"HTTP {status}" + (f" code {code}" if code else "")
    if 200 <= status < 300:
        message_id = body.get("id")
        return Answer(
            Outcome.OK,
            detail,
            str(message_id) if message_id is not None else None,
            bucket_reset_after=_bucket_reset(response),
        )
    if status == 429:
        return _rate_limited(response, body, detail)
    if code in (UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN):
        return Answer(Outcome.WEBHOOK_GONE, detail)
    if code == UNKNOWN_MESSAGE:
        return Answer(Outcome.UNKNOWN_MESSAGE, detail)
    if status in RETRYABLE_STATUSES or status >= 500:
        return Answer(Outcome.RETRY, detail)
    return Answer(Outcome.REFUSED, detail)


def _rate_limited(response: requests.Response, body: dict, detail: str) -> Answer:
    headers = response.headers
    wait = _seconds(body.get("retry_after"))
    for header in ("X-RateLimit-Reset-After", "Retry-After"):
        wait = wait if wait is not None else _seconds(headers.get(header))
    # A 429 that did not come through Discord's proxy (no Via) is Cloudflare's ban of the IP:
    # every call from here is refused, so everything pauses.
    is_global = bool(body.get("global")) or headers.get("X-RateLimit-Scope") == "global"
    is_global = is_global or "Via" not in headers
    return Answer(Outcome.RATE_LIMITED, detail, retry_after=wait, is_global=is_global)


def _bucket_reset(response: requests.Response) -> float | None:
    if response.headers.get("X-RateLimit-Remaining") == "0":
        return _seconds(response.headers.get("X-RateLimit-Reset-After"))
    return None


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


class RateLimits:
    """Pauses Discord asked for, per webhook and global, shared by the threads of a process."""

    GLOBAL = "global"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    @staticmethod
    def key(url: str) -> str:
        parts = urlsplit(url)
        return hashlib.sha256(f"{parts.netloc}{parts.path}".encode()).hexdigest()[:16]

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._until[key] = max(self._until.get(key, 0.0), until)

    def wait_for(self, url: str) -> float:
        """Seconds to wait before calling this webhook (0 when it may be called now)."""
        now = time.monotonic()
        with self._lock:
            until = max(self._until.get(self.GLOBAL, 0.0), self._until.get(self.key(url), 0.0))
        return max(until - now, 0.0)

    def record(self, url: str, answer: Answer) -> None:
        """Remember the pause an answer asks for."""
        if answer.outcome is Outcome.RATE_LIMITED and answer.retry_after is not None:
            self.pause(self.GLOBAL if answer.is_global else self.key(url), answer.retry_after)
        elif answer.bucket_reset_after is not None:
            self.pause(self.key(url), answer.bucket_reset_after)
