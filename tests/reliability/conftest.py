"""Load, fault and fuzz tests against real gunicorn, PostgreSQL and Redis.

Each test records its figures in ``report``; they are printed together at the end of the run.
"""

import collections
import hashlib
import io
import threading
import uuid

import psycopg
import pytest
import requests
from PIL import Image

from tests.conftest import REDIS_URL
from tests.servers import Gunicorn

FIGURES: dict[str, dict] = {}
UNMEASURED_LIMIT = "1000000/minute"


def pytest_terminal_summary(terminalreporter):
    """Print every reliability test's figures at the end of the run."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            terminalreporter.write_line(f"    {key}: {value}")


@pytest.fixture
def report(request):
    """A dict of figures for this test, shown in the end-of-run summary."""
    figures: dict = {}
    yield figures
    FIGURES[request.node.name] = figures


def stack_env(database, redis_prefix: str, redis_url: str = REDIS_URL, **extra) -> dict:
    """Environment of a production-like gunicorn on the test database and Redis."""
    return {
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "SECRET_KEY": "reliability",
        "BACKEND_URL": "https://gamenight.test",
        "GUNICORN_ACCESSLOG": "-",
        # The authenticated side's limits are not what these tests measure (test_rate_limits).
        "API_RATE_LIMITS": UNMEASURED_LIMIT,
        "UPLOAD_RATE_LIMITS": UNMEASURED_LIMIT,
        "LOGIN_RATE_LIMITS": UNMEASURED_LIMIT,
        **extra,
    }


@pytest.fixture
def start_gunicorn(tmp_path):
    """Start gunicorn masters (2 workers each); all are stopped after the test."""
    servers: list[Gunicorn] = []

    def start(env: dict, workers: int = 2) -> Gunicorn:
        server = Gunicorn(env, workers=workers, log_dir=tmp_path).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def png(colour: tuple[int, int, int], size: int = 32) -> bytes:
    """A small, valid PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class StatusLog:
    """Thread-safe counts of answers by status (and of transport errors)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_status: collections.Counter = collections.Counter()
        self.failures: list[str] = []
        self.unexplained_errors = 0  # error answers without a JSON "message"

    def record(self, status: int, what: str = "") -> None:
        with self._lock:
            self.by_status[status] += 1
            if status >= 500 and len(self.failures) < 20:
                self.failures.append(f"{status} {what}")

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)


class ApiClient:
    """One user's HTTP client for the games API, recording every answer."""

    def __init__(self, base_url: str, token: str, log: StatusLog, timeout: float = 15):
        self.base = base_url + "/api/v1/games"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.log = log
        self.timeout = timeout

    def call(self, method: str, path: str = "", **kwargs) -> requests.Response:
        response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        self.log.record(response.status_code, f"{method} {path} {response.text[:200]}")
        if response.status_code >= 400 and not _has_json_message(response):
            self.log.unexplained_errors += 1
        return response


def _has_json_message(response: requests.Response) -> bool:
    try:
        return isinstance(response.json().get("message"), str)
    except ValueError:
        return False


def invariant_violations(database) -> list:
    """Rows whose reference_count differs from the slots pointing at them (or is zero)."""
    return database.rows(
        "SELECT i.id, i.reference_count, "
        "  (SELECT count(*) FROM game_sessions s WHERE s.thumbnail_id = i.id)"
        "+ (SELECT count(*) FROM game_sessions s WHERE s.banner_image_id = i.id) AS slots "
        "FROM game_images i WHERE i.reference_count <> "
        "  (SELECT count(*) FROM game_sessions s WHERE s.thumbnail_id = i.id)"
        "+ (SELECT count(*) FROM game_sessions s WHERE s.banner_image_id = i.id) "
        "OR i.reference_count = 0"
    )


def store_image(database, data: bytes) -> tuple[str, str]:
    """A game_images row (as the owner); its public path and quoted ETag."""
    image_id, content_hash = uuid.uuid4(), hashlib.sha256(data).hexdigest()
    with psycopg.connect(database.libpq_url(database.owner)) as connection:
        connection.execute(
            "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type,"
            " reference_count) VALUES (%s, %s, %s, %s, 'image/png', 1)",
            (image_id, content_hash, data, len(data)),
        )
    return f"/api/v1/public/images/{image_id}.png", f'"{content_hash}"'
