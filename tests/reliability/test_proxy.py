"""The production topology: nginx (deploy/nginx.conf) -> gunicorn (2 workers) -> PostgreSQL, Redis.

One stack serves the module; each test clears the stack's rate-limit counters first, and
stores its own images, so the tests pass in any order and alone.
"""

import http.client
import re
import secrets
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
import requests

from tests.conftest import REDIS_URL
from tests.reliability.conftest import png, stack_env, store_image
from tests.servers import (
    NGINX_CONF,
    Gunicorn,
    Nginx,
    filled_nginx_conf,
    free_port,
    nginx_binary,
)

PUBLIC_LIMIT = 10
SLOW_SOCKETS = 200
HOLD_SECONDS = 6
HEALTHY_CLIENTS = 4


@pytest.fixture(scope="module")
def stack(pg_database, tmp_path_factory):
    """nginx in front of gunicorn with TRUSTED_PROXY_HOPS=1, on the run's database and Redis."""
    workdir = tmp_path_factory.mktemp("proxy")
    prefix = f"gamenight-proxy-{secrets.token_hex(6)}"
    env = stack_env(
        pg_database,
        prefix,
        TRUSTED_PROXY_HOPS="1",
        PUBLIC_IMAGE_RATE_LIMITS=f"{PUBLIC_LIMIT}/minute;100/5 minutes",
    )
    server = Gunicorn(env, workers=2, log_dir=workdir).start()
    proxy = Nginx(f"127.0.0.1:{server.port}", workdir).start()
    yield server, proxy, pg_database, prefix
    proxy.stop()
    server.stop()
    _forget_counters(prefix)


@pytest.fixture
def fresh_limits(stack):
    """The stack with its rate-limit counters cleared."""
    _forget_counters(stack[3])
    return stack


def _forget_counters(prefix: str) -> None:
    client = redis_lib.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


def open_slow_sockets(port: int, count: int) -> list[socket.socket]:
    """Idle sockets, half-sent request headers and half-sent bodies, a third of each."""
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 3 == 1:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gamenight\r\nX-Slow: ")
        elif i % 3 == 2:
            sock.sendall(
                b"POST /api/v1/games HTTP/1.1\r\nHost: gamenight\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"title": '
            )
        sockets.append(sock)
    return sockets


def still_open(sock: socket.socket) -> bool:
    """True when the peer has neither closed the socket nor answered on it."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def healthy_traffic(base_url: str, seconds: float, timeout: float) -> dict:
    """Clients asking /healthz and /readyz in a loop: statuses and the slowest answer."""
    statuses: list = []
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            for path in ("/healthz", "/readyz"):
                started = time.monotonic()
                try:
                    statuses.append(session.get(base_url + path, timeout=timeout).status_code)
                except requests.RequestException as error:
                    statuses.append(type(error).__name__)
                latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=client) for _ in range(HEALTHY_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered = sum(1 for status in statuses if status == 200)
    return {
        "asked": len(statuses),
        "answered": answered,
        "slowest_s": max(latencies),
        "all": statuses,
    }


def hold_slow_sockets_during_traffic(port: int, base_url: str, timeout: float) -> tuple:
    sockets = open_slow_sockets(port, SLOW_SOCKETS)
    try:
        traffic = healthy_traffic(base_url, HOLD_SECONDS, timeout)
        held = sum(still_open(sock) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
    return held, traffic


def test_slow_and_idle_sockets_leave_healthy_clients_answered(stack, report):
    server, proxy, _, _ = stack
    held, through_nginx = hold_slow_sockets_during_traffic(proxy.port, proxy.url, timeout=5)
    # The same sockets straight at gunicorn's 2 sync workers, for comparison (not asserted).
    bare_held, bare = hold_slow_sockets_during_traffic(server.port, server.url, timeout=2)
    _wait_for_recovery(server.url)
    report.update(
        slow_sockets_held_through_nginx=held,
        healthy_requests_answered_through_nginx=f"{through_nginx['answered']}"
        f" of {through_nginx['asked']}",
        slowest_healthy_answer_through_nginx_s=round(through_nginx["slowest_s"], 3),
        slow_sockets_held_against_bare_gunicorn=bare_held,
        healthy_requests_answered_bare_gunicorn=f"{bare['answered']} of {bare['asked']}",
        slowest_healthy_answer_bare_gunicorn_s=round(bare["slowest_s"], 3),
    )
    assert held == SLOW_SOCKETS
    assert through_nginx["answered"] == through_nginx["asked"] > 0, set(through_nginx["all"])


def _wait_for_recovery(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)


def _get_from(source: str, port: int, path: str, headers: dict) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(source, 0)
    )
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_forged_forwarded_for_does_not_escape_the_rate_limit(fresh_limits):
    _, proxy, _, _ = fresh_limits
    statuses = []
    for i in range(PUBLIC_LIMIT + 5):
        forged = {"X-Forwarded-For": f"203.0.113.{i}, 198.51.100.{i}"}
        path = f"/api/v1/public/images/{uuid.uuid4()}.png"
        statuses.append(_get_from("127.0.0.1", proxy.port, path, forged).status)
    other_client = _get_from("127.0.0.2", proxy.port, f"/api/v1/public/images/{uuid.uuid4()}", {})

    assert statuses == [404] * PUBLIC_LIMIT + [429] * 5
    assert other_client.status == 404  # another real address has its own count
    assert other_client.getheader("X-RateLimit-Remaining") == str(PUBLIC_LIMIT - 1)


def test_upload_over_the_request_limit_gets_nginx_json_413_and_reaches_nothing(stack):
    server, proxy, database, _ = stack
    log_before = server.log()
    response = requests.post(
        proxy.url + "/api/v1/games",
        headers={"Authorization": "Bearer gn_whatever"},
        data={"guild_id": "proxy-guild", "title": "Too big", "scheduled_at": "2030-01-01T20:00Z"},
        files={"thumbnail": ("big.png", b"\x89PNG" + b"\0" * (12 * 2**20), "image/png")},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"].startswith("Request too large")
    assert "POST /api/v1/games" not in server.log()[len(log_before) :]
    with psycopg.connect(database.libpq_url(database.owner)) as connection:
        connection.execute("SELECT set_config('app.maintenance', 'on', false)")
        titles = connection.execute("SELECT title FROM game_sessions").fetchall()
    assert ("Too big",) not in titles


def test_public_image_headers_arrive_intact_through_the_proxy(fresh_limits):
    _, proxy, database, _ = fresh_limits
    data = png((200, 10, 10), size=48)
    path, etag = store_image(database, data)
    first = requests.get(proxy.url + path, timeout=5)
    cached = requests.get(proxy.url + path, headers={"Origin": "https://a.example"}, timeout=5)

    for response in (first, cached):
        assert response.status_code == 200 and response.content == data
        assert response.headers["ETag"] == etag
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Cache-Control"] == "public, max-age=3600"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Vary" not in response.headers
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (first.headers["X-Cache-Status"], cached.headers["X-Cache-Status"]) == ("MISS", "HIT")


def test_revalidation_through_the_proxy_gets_304_without_body(fresh_limits):
    _, proxy, database, _ = fresh_limits
    path, etag = store_image(database, png((10, 200, 10), size=40))
    answers = [
        requests.get(proxy.url + path, headers={"If-None-Match": etag}, timeout=5)
        for _ in range(2)  # a cache miss, then a hit
    ]
    for response in answers:
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["ETag"] == etag
    changed = requests.get(proxy.url + path, headers={"If-None-Match": '"other"'}, timeout=5)
    assert changed.status_code == 200


def test_unknown_image_is_never_cached_by_the_proxy(fresh_limits):
    _, proxy, _, _ = fresh_limits
    path = f"/api/v1/public/images/{uuid.uuid4()}.png"
    answers = [requests.get(proxy.url + path, timeout=5) for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 404]
    assert [a.headers["X-Cache-Status"] for a in answers] == ["MISS", "MISS"]
    assert answers[1].json() == {"message": "Image not found"}


def test_app_down_gives_json_502_on_the_api(tmp_path):
    proxy = Nginx(f"127.0.0.1:{free_port()}", tmp_path).start()
    try:
        api = requests.get(proxy.url + "/api/v1/games", timeout=5)
        page = requests.get(proxy.url + "/games", timeout=5)
    finally:
        proxy.stop()
    assert api.status_code == 502
    assert api.headers["Content-Type"] == "application/json"
    assert "not answering" in api.json()["message"]
    assert page.status_code == 502 and "text/html" in page.headers["Content-Type"]


def test_file_loads_under_debians_main_config(tmp_path):
    debian = Path("/etc/nginx/nginx.conf").read_text()
    assert "include /etc/nginx/conf.d/*.conf;" in debian
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "gamenight.conf").write_text(
        filled_nginx_conf("127.0.0.1:8080", "127.0.0.1:8000", tmp_path / "cache")
    )
    main = tmp_path / "nginx.conf"
    main.write_text(debian.replace("/etc/nginx/conf.d/", f"{conf_d}/"))
    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(main)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_body_limit_is_the_apps_request_limit():
    from config import Config

    [size] = re.findall(r"^\s*client_max_body_size (\d+)m;", NGINX_CONF.read_text(), re.M)
    assert int(size) * 2**20 == Config.MAX_CONTENT_LENGTH
