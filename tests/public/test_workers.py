"""Rate limits shared by two real gunicorn workers through Redis."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import REDIS_URL
from tests.public.conftest import image_bytes, image_url, store_in
from tests.servers import Gunicorn


@pytest.fixture
def gunicorn(database, redis_prefix, tmp_path):
    """gunicorn with 2 workers on the test database and Redis; its access log names the pid."""
    env = {
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "PUBLIC_IMAGE_RATE_LIMITS": "60/minute;100/5 minutes",
        "GUNICORN_CMD_ARGS": "--access-logformat 'pid=%(p)s status=%(s)s %(r)s'",
    }
    server = Gunicorn(env, workers=2, log_dir=tmp_path).start()
    try:
        wait_until_every_worker_serves(server, 2)
        yield server
    finally:
        server.stop()


def pids_that_served(server: Gunicorn, path: str) -> set[str]:
    """The worker pids of the access-log lines of 200 answers to GET ``path``."""
    return set(re.findall(rf"pid=<(\d+)> status=200 GET {re.escape(path)}", server.log()))


def wait_until_every_worker_serves(server: Gunicorn, workers: int) -> None:
    """Health checks in parallel until each worker has answered one (they boot one by one)."""
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(pids_that_served(server, "/healthz")) < workers:
            assert time.monotonic() < deadline, "a worker never came up"
            list(pool.map(lambda _: requests.get(server.url + "/healthz", timeout=5), range(16)))


def test_sixty_first_request_in_a_minute_is_429_across_two_workers(gunicorn, make_app):
    path = image_url(store_in(make_app(), image_bytes()), ".png")

    def fetch(_):
        return requests.get(gunicorn.url + path, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(fetch, range(60)))
    refused = requests.get(gunicorn.url + path, headers={"Origin": "https://x.test"}, timeout=10)

    assert statuses == [200] * 60
    assert len(pids_that_served(gunicorn, path)) == 2, "both workers should serve part of the 60"
    assert refused.status_code == 429
    assert refused.json()["message"]
    assert refused.headers["X-RateLimit-Limit"] == "60"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
