"""The delivery loop: in a thread of every gunicorn worker, or in ``flask discord deliver``.

gunicorn forks its workers after loading the config, so the thread is started in each worker
by the ``post_worker_init`` hook (never at import) and stopped by ``worker_exit`` with a
deadline; whatever it held when killed is taken over by another worker when the lease ends.
"""

import json
import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from app.discord import outbox
from app.discord.client import RateLimits, WebhookClient, user_agent
from app.extensions import db

log = logging.getLogger(__name__)
_lock = threading.Lock()
_in_web: "DeliveryWorker | None" = None
# One process, one set of pauses Discord asked for, whichever thread meets them.
rate_limits = RateLimits()


def make_deliverer(app: Flask, limits: RateLimits | None = None):
    """A Deliverer configured from the app, sharing the process's rate-limit pauses by default."""
    from app.discord.delivery import Deliverer, Policy  # late: delivery loads the models

    config = app.config
    client = WebhookClient(config["DISCORD_WEBHOOK_TIMEOUT"], user_agent(config["BACKEND_URL"]))
    return Deliverer(client, limits or rate_limits, Policy.from_config(config))


def lease_seconds(config) -> float:
    """DISCORD_DELIVERY_LEASE, but never shorter than the two calls one job may make (an edit,
    then a post): a lease running out mid-call would let another worker deliver the job too."""
    return max(config["DISCORD_DELIVERY_LEASE"], 2 * config["DISCORD_WEBHOOK_TIMEOUT"] + 1)


def deliver_due(app: Flask, deliverer, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Deliver jobs one at a time until none is due (or told to stop); how many were claimed."""
    claimed = 0
    lease = lease_seconds(app.config)
    try:
        while not should_stop() and outbox.has_due_work():
            claim = outbox.claim_next(lease)
            if claim is None:
                break
            claimed += 1
            deliverer.deliver(claim)
    finally:
        db.session.remove()
    return claimed


def log_backlog() -> dict[str, int]:
    """Log the backlog (an error when jobs are dead or webhooks disabled) and return it."""
    backlog = outbox.delivery_backlog()
    level = logging.WARNING if backlog["dead"] or backlog["disabled_webhooks"] else logging.INFO
    log.log(level, "discord delivery backlog %s", json.dumps(backlog))
    return backlog


class DeliveryWorker:
    """A thread delivering due jobs, woken at once after a local commit, else every poll."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="discord-delivery", daemon=True)

    def start(self) -> "DeliveryWorker":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop and wait up to ``timeout``; False if it is still busy."""
        self._stopping.set()
        self._wake.set()
        if self._thread.ident is None:  # never started: run_forever runs in the caller
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run_forever(self) -> None:
        """Run the loop in the calling thread until ``stop`` (``flask discord deliver``)."""
        self._run()

    def _run(self) -> None:
        config = self.app.config
        poll = config["DISCORD_DELIVERY_POLL_INTERVAL"]
        every = config["DISCORD_DELIVERY_BACKLOG_LOG_INTERVAL"]
        next_log = time.monotonic()
        with self.app.app_context():
            deliverer = make_deliverer(self.app)
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    deliver_due(self.app, deliverer, self._stopping.is_set)
                    if time.monotonic() >= next_log:
                        next_log = time.monotonic() + every
                        log_backlog()
                except Exception:
                    # The database or Discord misbehaving must not end the thread.
                    log.exception("discord delivery pass failed; trying again")
                finally:
                    db.session.remove()
                self._wake.wait(poll)


def start_in_web(app: Flask) -> DeliveryWorker | None:
    """Start this process's delivery thread unless DISCORD_DELIVERY_IN_WEB is off."""
    global _in_web
    if not app.config["DISCORD_DELIVERY_IN_WEB"]:
        return None
    with _lock:
        if _in_web is None:
            _in_web = DeliveryWorker(app).start()
        return _in_web


def stop_in_web(timeout: float | None = None) -> bool:
    """Stop this process's delivery thread, waiting at most ``timeout`` (its config by default)."""
    global _in_web
    with _lock:
        running, _in_web = _in_web, None
    if running is None:
        return True
    deadline = running.app.config["DISCORD_DELIVERY_STOP_TIMEOUT"] if timeout is None else timeout
    stopped = running.stop(deadline)
    if not stopped:
        log.warning("discord delivery still busy after %.1f s; its lease will run out", deadline)
    return stopped


def wake_local() -> None:
    """A commit in this process queued work: deliver it now rather than at the next poll."""
    running = _in_web
    if running is not None:
        running.wake()
