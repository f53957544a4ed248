"""/metrics: the whole server's counts (both gunicorn workers), only for METRICS_ALLOW."""

import json
import secrets
import threading
import time

import pytest
import redis as redis_lib
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from app.metrics import DeliveryBacklogCollector
from tests.conftest import REDIS_URL, Database
from tests.reliability.conftest import png, stack_env, store_image
from tests.servers import Gunicorn, RedisServer, free_port

PUBLIC_LIMIT = 3


@pytest.fixture(scope="module")
def stack(pg_database, tmp_path_factory):
    """gunicorn with 2 workers; X-Forwarded-For trusted through one hop, as behind nginx."""
    prefix = f"gamenight-metrics-{secrets.token_hex(6)}"
    env = stack_env(
        pg_database,
        prefix,
        TRUSTED_PROXY_HOPS="1",
        PUBLIC_IMAGE_RATE_LIMITS=f"{PUBLIC_LIMIT}/minute;100/5 minutes",
    )
    gunicorn = Gunicorn(env, workers=2, log_dir=tmp_path_factory.mktemp("metrics")).start()
    engine = create_engine(pg_database.owner_url, poolclass=NullPool)
    yield gunicorn, Database(engine, pg_database.app_url, pg_database.public_url, pg_database)
    gunicorn.stop()
    engine.dispose()
    client = redis_lib.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def server(stack):
    return stack[0]


def scrape(url: str) -> dict[tuple, float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = requests.get(url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def access_lines(server: Gunicorn, path: str) -> list[dict]:
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "gunicorn.access" and line["path"] == path]


def logged_healthz(server: Gunicorn, expected: float) -> list[dict]:
    """The access lines of /healthz 200s, once the workers have written as many (or 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        served = [line for line in access_lines(server, "/healthz") if line["status"] == "200"]
        if len(served) >= expected or time.monotonic() > deadline:
            return served
        time.sleep(0.1)  # a worker logs the access line just after sending the answer


def hit_concurrently(url: str, threads: int = 8, each: int = 10) -> None:
    def client() -> None:
        for _ in range(each):
            assert requests.get(url, timeout=5).status_code == 200  # a new connection each

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_request_counts_add_up_both_workers(server):
    hit_concurrently(server.url + "/healthz")
    samples = scrape(server.url)
    counted = value(
        samples,
        "gamenight_http_request_duration_seconds_count",
        route="/healthz",
        method="GET",
        status="200",
    )
    served = logged_healthz(server, expected=counted)
    assert len({line["pid"] for line in served}) == 2  # both workers answered some
    assert counted == len(served) >= 80
    bucket = {"route": "/healthz", "method": "GET", "status": "200", "le": "+Inf"}
    assert value(samples, "gamenight_http_request_duration_seconds_bucket", **bucket) == counted


def test_cache_rate_limit_and_upload_refusals_are_counted(stack):
    server, database = stack
    path, _ = store_image(database.pg, png((9, 9, 9)))
    statuses = [requests.get(server.url + path, timeout=5).status_code for _ in range(5)]
    token = database.create_token("metrics-user", "metrics-guild")
    form = {"guild_id": "metrics-guild", "title": "Refused", "scheduled_at": "2030-01-01T20:00Z"}
    refusals = [
        requests.post(
            server.url + "/api/v1/games",
            headers={"Authorization": f"Bearer {token}"},
            data=form,
            files={"thumbnail": ("t.png", content, "image/png")},
            timeout=10,
        ).status_code
        for content in (b"<svg onload=alert(1)>", b"\x89PNG" + b"\0" * (6 * 2**20))
    ]
    samples = scrape(server.url)

    assert statuses == [200] * PUBLIC_LIMIT + [429] * 2 and refusals == [415, 413]
    byte_lookups = sum(
        value(samples, "gamenight_public_image_cache_total", cache="bytes", result=result)
        for result in ("hit", "miss")
    )
    assert byte_lookups == PUBLIC_LIMIT
    assert value(samples, "gamenight_public_image_cache_total", cache="bytes", result="miss") >= 1
    limit = "3 per 1 minute"
    assert (
        value(samples, "gamenight_rate_limit_refusals_total", blueprint="public", limit=limit) == 2
    )
    for reason in ("UnsupportedImage", "ImageTooLarge"):
        assert value(samples, "gamenight_upload_refusals_total", reason=reason) == 1


def test_delivery_backlog_counts_an_announcement_discord_has_not_taken(stack):
    server, database = stack
    token = database.create_token("backlog-user", "backlog-guild")
    unreachable = f"http://127.0.0.1:{free_port()}/api/webhooks/1/secret"
    database.execute(
        "UPDATE guilds SET webhook_url = :url WHERE discord_guild_id = 'backlog-guild'",
        url=unreachable,
    )
    before = scrape(server.url)
    form = {"guild_id": "backlog-guild", "title": "Queued", "scheduled_at": "2030-01-01T20:00Z"}
    created = requests.post(
        server.url + "/api/v1/games",
        headers={"Authorization": f"Bearer {token}"},
        data=form,
        timeout=10,
    )
    after = scrape(server.url)

    assert created.status_code == 201
    undelivered = ("pending", "waiting_to_retry")
    name = "gamenight_discord_delivery_backlog"
    assert sum(value(after, name, state=s) - value(before, name, state=s) for s in undelivered) == 1
    assert value(after, name, state="dead") == value(before, name, state="dead")


def test_metrics_are_404_outside_metrics_allow(server):
    response = requests.get(
        server.url + "/metrics", headers={"X-Forwarded-For": "198.51.100.7"}, timeout=5
    )
    assert response.status_code == 404
    assert "gamenight_" not in response.text


def test_storage_fallback_is_counted_when_redis_stops(app_config):
    from app import create_app

    redis_server = RedisServer().start()
    app_config["RATELIMIT_STORAGE_URI"] = redis_server.url
    client = create_app(app_config).test_client()
    before = REGISTRY.get_sample_value("gamenight_rate_limit_storage_fallbacks_total") or 0
    assert client.get("/api/v1/public/images/not-an-id").status_code == 404
    redis_server.stop()
    assert client.get("/api/v1/public/images/not-an-id").status_code == 404
    after = REGISTRY.get_sample_value("gamenight_rate_limit_storage_fallbacks_total")
    assert after == before + 1


def test_delivery_backlog_gauge_reports_what_its_source_answers():
    collector = DeliveryBacklogCollector(lambda: {"pending": 3, "dead": 1})
    [family] = collector.collect()
    assert family.name == "gamenight_discord_delivery_backlog"
    assert {s.labels["state"]: s.value for s in family.samples} == {"pending": 3, "dead": 1}


def test_delivery_backlog_is_left_out_when_its_source_fails():
    def unreachable() -> dict:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    assert list(DeliveryBacklogCollector(unreachable).collect()) == []
    assert list(DeliveryBacklogCollector(None).collect()) == []
