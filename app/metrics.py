"""Prometheus metrics of the whole server, all gunicorn workers together: ``GET /metrics``.

Under gunicorn each worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(gunicorn.conf.py empties it at server start and marks dead workers in ``child_exit``) and a
scrape, answered by any worker, adds them all up (prometheus_client's multiprocess mode).
Without that variable (tests, ``flask`` commands) the counts are this process's own.
"""

import logging
import os
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound

from app.networks import client_in, parse_networks

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "gamenight_http_request_duration_seconds",
    "Requests by route (URL rule, 'unmatched' for none), method and status, and their latency.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUBLIC_IMAGE_CACHE = Counter(
    "gamenight_public_image_cache",
    "Public image cache lookups per worker: cache 'metadata' (by id) or 'bytes' (by hash).",
    ["cache", "result"],
)
RATE_LIMIT_REFUSALS = Counter(
    "gamenight_rate_limit_refusals",
    "Requests refused with 429, by blueprint and the limit that was exceeded.",
    ["blueprint", "limit"],
)
RATE_LIMIT_FALLBACKS = Counter(
    "gamenight_rate_limit_storage_fallbacks",
    "Times a worker lost the rate-limit storage (Redis) and fell back to in-memory counts.",
)
RATE_LIMIT_RECOVERIES = Counter(
    "gamenight_rate_limit_storage_recoveries",
    "Times a worker found the rate-limit storage (Redis) again after a fallback.",
)
UPLOAD_REFUSALS = Counter(
    "gamenight_upload_refusals",
    "Uploads and request bodies refused (413, 415), by the error class that refused them.",
    ["reason"],
)
STARTED = "gamenight.metrics_started"


def init_app(app: Flask) -> None:
    """Time every request and count the rate limiter's storage fallbacks."""
    app.before_request(_start_timer)
    app.after_request(_observe_request)
    app.extensions["metrics_allow"] = parse_networks(app.config["METRICS_ALLOW"])
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(handler, StorageFallbackCounter) for handler in limiter_log.handlers):
        limiter_log.addHandler(StorageFallbackCounter())


def _start_timer() -> None:
    request.environ[STARTED] = time.perf_counter()


def _observe_request(response: Response) -> Response:
    started = request.environ.get(STARTED)
    if started is not None:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUEST_SECONDS.labels(route, request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def count_cache_lookup(cache: str, hit: bool) -> None:
    """One lookup of the public image cache ("metadata" or "bytes")."""
    PUBLIC_IMAGE_CACHE.labels(cache, "hit" if hit else "miss").inc()


def count_rate_limit_refusal(request_limit) -> None:
    """Flask-Limiter's on_breach: one request refused with 429."""
    RATE_LIMIT_REFUSALS.labels(request.blueprint or "none", str(request_limit.limit)).inc()


def count_upload_refusal(error: Exception) -> None:
    """One request refused for its body or an uploaded file (413, 415)."""
    UPLOAD_REFUSALS.labels(type(error).__name__).inc()


class StorageFallbackCounter(logging.Handler):
    """Counts Flask-Limiter's own reports of losing and regaining its storage."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "falling back to in-memory storage" in message:
            RATE_LIMIT_FALLBACKS.inc()
        elif "storage recovered" in message:
            RATE_LIMIT_RECOVERIES.inc()


class DeliveryBacklogCollector:
    """The Discord delivery backlog gauge, read from ``source`` at scrape time."""

    def __init__(self, source: Callable[[], dict[str, int]] | None):
        self.source = source

    def collect(self):
        """One gauge sample per backlog state; nothing when there is no source or no answer."""
        if self.source is None:
            return
        try:
            counts = self.source()
        except SQLAlchemyError:
            log.warning("delivery backlog not available for this scrape", exc_info=True)
            return
        gauge = GaugeMetricFamily(
            "gamenight_discord_delivery_backlog",
            "Discord deliveries not yet done, by state.",
            labels=["state"],
        )
        for state, count in sorted(counts.items()):
            gauge.add_metric([state], count)
        yield gauge


def scrape_registry() -> CollectorRegistry:
    """Every worker's samples (multiprocess mode) or this process's, plus the backlog."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    # Imported here: the outbox's modules count metrics themselves (an import cycle otherwise).
    from app.discord.outbox import delivery_backlog

    registry.register(DeliveryBacklogCollector(delivery_backlog))
    return registry


class _ProcessMetrics:
    """This process's default registry, as one collector of a scrape registry."""

    def collect(self):
        yield from REGISTRY.collect()


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition, only for clients in METRICS_ALLOW (404 to others)."""
    if not client_in(current_app.extensions["metrics_allow"]):
        raise NotFound()
    return Response(generate_latest(scrape_registry()), mimetype=CONTENT_TYPE_LATEST)
