"""Two gunicorn masters (two hosts behind a load balancer) over one PostgreSQL and one Redis."""

import time

import requests

from tests.reliability.conftest import ApiClient, StatusLog, png, stack_env

CACHE_WINDOW_S = 2  # PUBLIC_IMAGE_METADATA_TTL given to both hosts


def _hosts(database, redis_prefix, start_gunicorn):
    # Behind one load balancer (TRUSTED_PROXY_HOPS=1), so each test client can have its own IP.
    env = stack_env(
        database,
        redis_prefix,
        PUBLIC_IMAGE_RATE_LIMITS="12/minute",
        PUBLIC_IMAGE_METADATA_TTL=str(CACHE_WINDOW_S),
        TRUSTED_PROXY_HOPS="1",
    )
    return start_gunicorn(env), start_gunicorn(env)


def test_two_hosts_share_rate_limits_games_and_image_deletion(
    database, redis_prefix, start_gunicorn, report
):
    token = database.create_token("two-hosts", "lb-guild")
    host_a, host_b = _hosts(database, redis_prefix, start_gunicorn)
    log = StatusLog()
    created = ApiClient(host_a.url, token, log).call(
        "POST",
        data={
            "guild_id": "lb-guild",
            "title": "Across hosts",
            "scheduled_at": "2026-12-24T20:00:00Z",
        },
        files={"thumbnail": ("a.png", png((9, 99, 199)), "image/png")},
    )
    assert created.status_code == 201, created.text
    game = created.json()

    served_by_b = ApiClient(host_b.url, token, log).call("GET", f"/{game['id']}")
    assert served_by_b.status_code == 200 and served_by_b.json()["title"] == "Across hosts"

    path = f"/api/v1/public/images/{game['thumbnail_id']}.png"
    one_client = {"X-Forwarded-For": "203.0.113.7"}
    answers = [
        requests.get((host_a, host_b)[n % 2].url + path, headers=one_client, timeout=5)
        for n in range(13)
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * 12 + [429], statuses
    remaining = [int(answer.headers["X-RateLimit-Remaining"]) for answer in answers[:12]]
    assert remaining == list(range(11, -1, -1))

    gone_after = _seconds_until_gone(database, host_a, host_b, token, game["id"], path)
    report.update(
        hosts=2,
        public_statuses=statuses,
        image_gone_from_both_after_s=gone_after,
        documented_window_s=CACHE_WINDOW_S,
    )
    assert gone_after <= CACHE_WINDOW_S + 1.5


def _get(url: str, n: int) -> requests.Response:
    """A fetch from another client IP each time, so polling never meets the rate limit."""
    return requests.get(url, headers={"X-Forwarded-For": f"198.51.100.{n % 250}"}, timeout=5)


def _seconds_until_gone(database, host_a, host_b, token, game_id, path) -> float:
    """Delete the game through host A; poll both hosts until its image is 404 on each."""
    for n, host in enumerate((host_a, host_b)):  # both caches hold the image now
        assert _get(host.url + path, n).status_code == 200
    assert (
        ApiClient(host_a.url, token, StatusLog()).call("DELETE", f"/{game_id}").status_code == 204
    )
    assert database.scalar("SELECT count(*) FROM game_images") == 0
    deleted_at = time.monotonic()
    pending, polls = {host_a.url, host_b.url}, 2
    while pending and time.monotonic() - deleted_at < CACHE_WINDOW_S + 5:
        for url in list(pending):
            polls += 1
            status = _get(url + path, polls).status_code
            assert status in (200, 404)
            if status == 404:
                pending.discard(url)
        time.sleep(0.2)
    assert not pending, f"still served by {pending}"
    return round(time.monotonic() - deleted_at, 2)
