"""Webhook HTTP calls with retries, run by one background thread per process.

The request that caused a delivery has already been answered: nothing here may block it.
Jobs run one at a time, in the order they were queued, so a message is posted before it
is edited or deleted. Webhook URLs carry a secret token: they are never logged.
"""

import dataclasses
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000
MAX_WAIT = 30.0  # seconds; longest pause between two attempts, whatever Discord asks
RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}
USER_AGENT = "Gamenight-webhooks/1.0 (+https://github.com/gamenight)"


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How long one attempt may take, how many attempts, and the first pause between them."""

    timeout: float
    attempts: int
    backoff: float

    def pause(self, attempt: int) -> float:
        """Exponential backoff with jitter after the given failed attempt (1-based)."""
        return min(self.backoff * 2 ** (attempt - 1) * random.uniform(1.0, 1.25), MAX_WAIT)


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


class WebhookClient:
    """Sends one webhook call, retrying connection failures, timeouts, 5xx and 429."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def send(
        self, method: str, url: str, body: dict | None, policy: RetryPolicy, what: str
    ) -> requests.Response | None:
        """The final response (a success, or a 4xx not worth retrying); None if all failed."""
        outcome = "not tried"
        for attempt in range(1, policy.attempts + 1):
            response, outcome, pause = self._attempt(method, url, body, policy, attempt)
            if pause is None:
                if not succeeded(method, response):
                    log.error("%s refused by Discord (%s); not retried", what, outcome)
                return response
            if attempt < policy.attempts:
                log.warning(
                    "%s failed (%s), attempt %d of %d; retrying in %.2f s",
                    *(what, outcome, attempt, policy.attempts, pause),
                )
                time.sleep(pause)
        log.error("%s failed after %d attempts (%s); giving up", what, policy.attempts, outcome)
        return None

    def _attempt(self, method, url, body, policy: RetryPolicy, attempt: int):
        """(response, what happened, pause before a retry, or None when this answer is final)."""
        try:
            response = self.session.request(method, url, json=body, timeout=policy.timeout)
        except requests.RequestException as e:
            return None, type(e).__name__, policy.pause(attempt)
        status = response.status_code
        if succeeded(method, response) or status not in RETRYABLE_STATUSES:
            return response, f"HTTP {status}", None
        asked = retry_after(response) if status == 429 else None
        pause = min(asked, MAX_WAIT) if asked is not None else policy.pause(attempt)
        return None, f"HTTP {status}", pause


def succeeded(method: str, response: requests.Response) -> bool:
    """A 2xx; for a DELETE a 404 too (the message is already gone)."""
    return response.ok or (method == "DELETE" and response.status_code == 404)


def retry_after(response: requests.Response) -> float | None:
    """Seconds Discord asks us to wait: ``retry_after`` in the JSON body, else the header."""
    try:
        value = response.json().get("retry_after")
    except (ValueError, AttributeError):
        value = None
    value = value if value is not None else response.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class DeliveryWorker:
    """A queue and one daemon thread per process running ``deliver`` on each job, in order."""

    def __init__(self, deliver: Callable[[object, WebhookClient], None]) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)

    def submit(self, job: object) -> bool:
        """Queue the job without waiting; False (and an error logged) when the queue is full."""
        self._ensure_running()
        try:
            self._queue.put_nowait(job)
            return True
        except queue.Full:
            log.error("webhook queue full (%d jobs): a Discord update is dropped", QUEUE_SIZE)
            return False

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued job has run; False if some still run after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _ensure_running(self) -> None:
        # A forked child (gunicorn worker) inherits no running thread: start its own.
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._queue = queue.Queue(QUEUE_SIZE)
            thread = threading.Thread(
                target=self._run, args=(self._queue,), name="discord-webhooks", daemon=True
            )
            thread.start()

    def _run(self, jobs: queue.Queue) -> None:
        client = WebhookClient()
        while True:
            job = jobs.get()
            try:
                self._deliver(job, client)
            except Exception:
                log.exception("webhook delivery failed unexpectedly")
            finally:
                jobs.task_done()
