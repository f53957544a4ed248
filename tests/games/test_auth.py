"""Authentication holds no transaction open while the body arrives or is decoded (SPEC §11)."""

import socket
import time

import psycopg
import pytest

from tests.conftest import ADMIN_URL
from tests.reliability.conftest import png, stack_env
from tests.servers import Gunicorn

BOUNDARY = "gamenight-slow-upload"


def multipart_game(image: bytes) -> bytes:
    """A game form with a thumbnail, as a browser or curl sends it."""
    fields = {"guild_id": "slow-guild", "title": "Slow upload", "scheduled_at": "2030-01-01T20:00Z"}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="thumbnail"; filename="t.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def app_role_backends(database) -> list[str]:
    """The state of every connection the app role holds to the test database."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT state FROM pg_stat_activity WHERE datname = %s AND usename = %s",
            (database.pg.name, database.pg.app_role),
        ).fetchall()
    return [state for (state,) in rows]


@pytest.fixture
def server(database, redis_prefix, tmp_path):
    """gunicorn straight on the socket (no nginx), so the body reaches the app slowly."""
    gunicorn = Gunicorn(stack_env(database, redis_prefix), workers=1, log_dir=tmp_path).start()
    yield gunicorn
    gunicorn.stop()


def test_no_transaction_stays_open_while_an_upload_body_is_sent_slowly(database, server):
    token = database.create_token("slow-user", "slow-guild")
    body = multipart_game(png((1, 2, 3), size=64))
    head = (
        f"POST /api/v1/games HTTP/1.1\r\nHost: gamenight\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        samples = []
        for _ in range(15):  # 1.5 s with the rest of the body still unsent
            time.sleep(0.1)
            samples.extend(app_role_backends(database))
        stamped = database.scalar("SELECT last_used_at FROM api_tokens")
        sock.sendall(body[len(body) // 2 :])
        answer = sock.makefile("rb").readline()

    assert b" 201 " in answer
    assert "idle" in samples  # authentication used (and returned) a connection meanwhile
    assert "idle in transaction" not in samples
    assert stamped is not None  # the last-use stamp was committed before the body arrived
