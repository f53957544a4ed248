"""Faults under load: PostgreSQL connections cut, Redis stopped and restarted."""

import threading
import time

import psycopg
import requests

from tests.conftest import ADMIN_URL
from tests.reliability.conftest import ApiClient, StatusLog, invariant_violations, png, stack_env
from tests.servers import RedisServer

FAULTS = 5


def _terminate_app_backends(database) -> int:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = ANY(%s)",
                (database.pg.name, [database.pg.app_role, database.pg.public_role]),
            ).fetchall()
        )


def _load(client: ApiClient, stop: threading.Event, latencies: list, errors: list) -> None:
    payload = {
        "guild_id": "fault-guild",
        "title": "Fault night",
        "scheduled_at": "2026-12-24T20:00:00Z",
    }
    try:
        while not stop.is_set():
            started = time.monotonic()
            created = client.call(
                "POST", data=payload, files={"thumbnail": ("a.png", png((10, 20, 30)), "image/png")}
            )
            if created.status_code == 201:
                client.call("GET", f"/{created.json()['id']}")
            client.call("GET", params={"limit": 5})
            latencies.append(time.monotonic() - started)
    except BaseException as exc:
        errors.append(exc)


def test_cut_database_connections_give_json_503_then_heal_by_themselves(
    database, redis_prefix, start_gunicorn, report
):
    token = database.create_token("fault-user", "fault-guild")
    server = start_gunicorn(stack_env(database, redis_prefix))
    log, stop, latencies, errors = StatusLog(), threading.Event(), [], []
    clients = [ApiClient(server.url, token, log) for _ in range(6)]
    threads = [threading.Thread(target=_load, args=(c, stop, latencies, errors)) for c in clients]
    for thread in threads:
        thread.start()
    terminated = []
    for _ in range(FAULTS):
        time.sleep(2)
        terminated.append(_terminate_app_backends(database))
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join()

    recovered = [
        ApiClient(server.url, token, StatusLog()).call("GET").status_code for _ in range(20)
    ]
    report.update(
        requests=log.total,
        by_status=dict(sorted(log.by_status.items())),
        faults_injected=FAULTS,
        backends_terminated=sum(terminated),
        slowest_request_s=round(max(latencies), 2),
        after_faults=set(recovered),
    )
    assert errors == []
    assert sum(terminated) >= FAULTS
    assert set(log.by_status) <= {200, 201, 503}, log.failures
    assert log.unexplained_errors == 0
    assert max(latencies) < 10
    assert recovered == [200] * 20
    assert invariant_violations(database) == []


def _image_url(database, server) -> str:
    token = database.create_token("redis-user", "redis-guild")
    created = ApiClient(server.url, token, StatusLog()).call(
        "POST",
        data={"guild_id": "redis-guild", "title": "Images", "scheduled_at": "2026-12-24T20:00:00Z"},
        files={"thumbnail": ("a.png", png((1, 2, 3)), "image/png")},
    )
    assert created.status_code == 201, created.text
    return server.url + "/api/v1/public/images/" + created.json()["thumbnail_id"]


def _fetch(url: str, log: StatusLog, latencies: list) -> requests.Response:
    started = time.monotonic()
    response = requests.get(url, timeout=10)
    latencies.append(time.monotonic() - started)
    log.record(response.status_code, url)
    return response


def test_redis_stopped_and_restarted_keeps_serving_and_limits_resume(
    database, redis_prefix, start_gunicorn, report
):
    redis_server = RedisServer().start()
    try:
        server = start_gunicorn(
            stack_env(
                database,
                redis_prefix,
                redis_url=redis_server.url,
                PUBLIC_IMAGE_RATE_LIMITS="40/minute",
            )
        )
        url = _image_url(database, server)
        log, down_latencies, latencies = StatusLog(), [], []
        for _ in range(10):
            _fetch(url, log, latencies)
        redis_server.stop()
        for _ in range(30):
            _fetch(url, log, down_latencies)
        redis_server.start()
        recovered_after = _requests_until_redis_counts(url, redis_server, log, latencies)
        limited = [_fetch(url, log, latencies).status_code for _ in range(45)]
    finally:
        redis_server.stop()
    report.update(
        requests=log.total,
        by_status=dict(sorted(log.by_status.items())),
        faults_injected="redis-server killed, restarted",
        slowest_while_down_s=round(max(down_latencies), 3),
        requests_until_redis_counted_again=recovered_after,
    )
    assert log.server_errors() == 0
    assert max(down_latencies) < 1.0
    assert 429 in limited


def _requests_until_redis_counts(url, redis_server, log, latencies) -> int:
    """Fetch until every worker counts in the restarted Redis again (each re-probes with backoff).

    Done when ten requests in a row each raised the count kept in Redis: gunicorn spreads them
    over both workers, so both have left their in-memory fallback.
    """
    import redis

    client = redis.Redis(port=redis_server.port)
    deadline, count, streak = time.monotonic() + 60, 0, 0
    while time.monotonic() < deadline:
        before = _redis_total(client)
        count += 1
        _fetch(url, log, latencies)
        streak = streak + 1 if _redis_total(client) > before else 0
        if streak >= 10:
            return count
        time.sleep(0.2)
    raise AssertionError("the limiter never counted in Redis again after it came back")


def _redis_total(client) -> int:
    return sum(int(client.get(key) or 0) for key in client.scan_iter("*"))
