"""Redis going away (killed or hung) never stops the public endpoint, and it comes back."""

import os
import signal
import time

import pytest
import redis

from tests.public.conftest import image_bytes, image_url, store_in
from tests.servers import RedisServer


@pytest.fixture
def private_redis():
    """A redis-server of this test's own, so the test may kill or freeze it."""
    server = RedisServer().start()
    yield server
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def client_and_path(make_app, private_redis):
    app = make_app(RATELIMIT_STORAGE_URI=private_redis.url)
    return app.test_client(), image_url(store_in(app, image_bytes()))


def timed_gets(client, path: str, count: int) -> tuple[set[int], float]:
    """The statuses of ``count`` GETs and the slowest one's duration."""
    statuses, slowest = set(), 0.0
    for _ in range(count):
        started = time.monotonic()
        response = client.get(path)
        slowest = max(slowest, time.monotonic() - started)
        statuses.add(response.status_code)
        assert "X-RateLimit-Limit" in response.headers
    return statuses, slowest


def counted_in(server: RedisServer) -> int:
    return len(list(redis.Redis.from_url(server.url, socket_timeout=1).scan_iter("*")))


def test_redis_killed_mid_run_still_200_and_fast_then_recovers(client_and_path, private_redis):
    client, path = client_and_path
    assert timed_gets(client, path, 3)[0] == {200}
    assert counted_in(private_redis) == 2

    private_redis.stop()
    statuses, slowest = timed_gets(client, path, 30)

    assert statuses == {200}
    assert slowest < 0.5
    restarted = RedisServer()
    restarted.port, restarted.url = private_redis.port, private_redis.url
    restarted.start()
    try:
        deadline = time.monotonic() + 10
        while counted_in(restarted) == 0 and time.monotonic() < deadline:
            assert client.get(path).status_code == 200
            time.sleep(0.2)
        assert counted_in(restarted) == 2, "counting should move back to Redis"
    finally:
        restarted.stop()


def test_hung_redis_costs_at_most_a_socket_timeout(client_and_path, private_redis):
    client, path = client_and_path
    client.get(path)
    os.kill(private_redis.process.pid, signal.SIGSTOP)

    started = time.monotonic()
    statuses, slowest = timed_gets(client, path, 20)

    assert statuses == {200}
    assert slowest < 1.0
    assert time.monotonic() - started < 2.0
