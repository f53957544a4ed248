"""Rate limits of the public endpoint, in process, on the shared test Redis."""

import time

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.public.conftest import image_bytes, image_url, store_in
from tests.servers import RedisServer


@pytest.fixture
def limited(make_app):
    """Build an app with these limits (and settings); return its client and an image's path."""

    def build(limits: str, **settings):
        app = make_app(PUBLIC_IMAGE_RATE_LIMITS=limits, **settings)
        return app.test_client(), image_url(store_in(app, image_bytes()))

    return build


def get(client, path: str, address: str = "127.0.0.1", **headers):
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_every_answer_carries_the_limit_headers(limited):
    client, path = limited("60/minute;100/5 minutes")
    etag = get(client, path).headers["ETag"]

    for response in (
        get(client, path),
        get(client, path, **{"If-None-Match": etag}),
        get(client, image_url("nope")),
    ):
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()


def test_counters_live_in_redis(limited, redis_prefix):
    client, path = limited("60/minute;100/5 minutes")

    get(client, path)

    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{redis_prefix}*"))
    assert len(keys) == 2, keys


def test_over_the_limit_is_429_json_with_retry_after_and_no_store(limited):
    client, path = limited("2/minute")
    get(client, path)
    get(client, path)

    response = get(client, path, Origin="https://discord.com")

    assert response.status_code == 429
    assert response.get_json()["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_hundred_and_first_request_in_the_long_window_is_429(limited):
    # The short window lasts 2 s here instead of a minute; the long one keeps its 100.
    client, path = limited("60/2 seconds;100/5 minutes")
    assert all(get(client, path).status_code == 200 for _ in range(60))
    time.sleep(2.2)
    assert all(get(client, path).status_code == 200 for _ in range(40))

    response = get(client, path)

    assert response.status_code == 429
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert int(response.headers["Retry-After"]) > 200


def test_spoofed_forwarded_for_ignored_without_trusted_proxy(limited):
    client, path = limited("3/minute", TRUSTED_PROXY_HOPS=0)
    statuses = [
        get(client, path, **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(1, 5)
    ]

    assert statuses == [200, 200, 200, 429]


def test_forwarded_for_honoured_behind_one_trusted_proxy(limited):
    client, path = limited("2/minute", TRUSTED_PROXY_HOPS=1)
    proxy = "10.0.0.1"
    for _ in range(2):
        get(client, path, proxy, **{"X-Forwarded-For": "203.0.113.7"})

    assert get(client, path, proxy, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert get(client, path, proxy, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 200
    # A value forged further left is not the client the proxy saw: the rightmost entry is.
    forged = get(client, path, proxy, **{"X-Forwarded-For": "203.0.113.9, 203.0.113.7"})
    assert forged.status_code == 429


def test_revalidations_answered_304_do_not_count(limited):
    client, path = limited("3/minute")
    first = get(client, path)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    revalidations = [get(client, path, **{"If-None-Match": etag}) for _ in range(10)]
    revalidations += [get(client, path, **{"If-Modified-Since": last_modified})]

    assert {r.status_code for r in revalidations} == {304}
    assert {r.headers["X-RateLimit-Remaining"] for r in revalidations} == {"2"}
    assert [get(client, path).status_code for _ in range(3)] == [200, 200, 429]


def test_stale_revalidation_answered_200_counts(limited):
    client, path = limited("2/minute")

    statuses = [get(client, path, **{"If-None-Match": '"stale"'}).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_exempt_networks_are_not_limited(limited):
    client, path = limited("1/minute", PUBLIC_IMAGE_RATE_LIMIT_EXEMPT="192.0.2.0/24, 2001:db8::/32")

    assert {get(client, path, "192.0.2.10").status_code for _ in range(5)} == {200}
    assert {get(client, path, "2001:db8::1").status_code for _ in range(5)} == {200}
    assert [get(client, path, "198.51.100.1").status_code for _ in range(2)] == [200, 429]


def test_apps_keep_their_own_limits(limited):
    strict_client, strict_path = limited("1/minute")
    loose_client, loose_path = limited("5/minute")

    assert [get(strict_client, strict_path).status_code for _ in range(2)] == [200, 429]
    assert get(loose_client, loose_path).headers["X-RateLimit-Limit"] == "5"


def test_workers_share_the_count_and_its_headers(limited, make_app):
    # Two apps on one Redis and prefix stand for two workers (or hosts).
    first, path = limited("60/minute;100/5 minutes")
    second = make_app(PUBLIC_IMAGE_RATE_LIMITS="60/minute;100/5 minutes").test_client()

    remaining = [
        get(client, path).headers["X-RateLimit-Remaining"]
        for client in (first, second, first, second)
    ]

    assert remaining == ["59", "58", "57", "56"]


def test_a_limited_request_costs_two_redis_round_trips(make_app):
    server = RedisServer().start()
    try:
        app = make_app(
            RATELIMIT_STORAGE_URI=server.url, PUBLIC_IMAGE_RATE_LIMITS="60/minute;100/5 minutes"
        )
        client, path = app.test_client(), image_url(store_in(app, image_bytes()))
        get(client, path)
        redis_client = redis.Redis.from_url(server.url)
        before = redis_client.info("commandstats")

        responses = [get(client, path) for _ in range(10)]

        after = redis_client.info("commandstats")
    finally:
        server.stop()
    calls = {
        name: after[name]["calls"] - before.get(name, {"calls": 0})["calls"]
        for name in after
        if name != "cmdstat_info"
    }
    # One EVALSHA per window; INCRBY and TTL run inside it. No GET/TTL round trips for headers.
    assert {name: n for name, n in calls.items() if n} == {
        "cmdstat_evalsha": 20,
        "cmdstat_incrby": 20,
        "cmdstat_ttl": 20,
    }
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == [
        str(n) for n in range(58, 48, -1)
    ]
    assert all(0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 61 for r in responses)
