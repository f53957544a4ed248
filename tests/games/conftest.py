"""Helpers of the games tests: tokens, images, requests, and the image invariant after each."""

import io
import uuid

import pytest
from PIL import Image

from tests.cli import flask_cli

GUILD = "guild-a"
OTHER_GUILD = "guild-b"
WHEN = "2030-05-01T19:00:00Z"


def image_bytes(colour=(200, 40, 90), fmt: str = "PNG", size=(24, 16)) -> bytes:
    """A small valid image of one colour."""
    buffer = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode, size, 3 if mode == "P" else colour).save(buffer, format=fmt)
    return buffer.getvalue()


RED = image_bytes((220, 20, 20))
GREEN = image_bytes((20, 220, 20))
BLUE = image_bytes((20, 20, 220))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(data: bytes, name: str = "picture.png") -> tuple:
    return io.BytesIO(data), name


class Api:
    """The games API through the Flask test client, as one user."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = bearer(token)

    def create(self, files: dict | None = None, **fields):
        data = {"guild_id": GUILD, "title": "Catan night", "scheduled_at": WHEN, **fields}
        for slot, content in (files or {}).items():
            data[slot] = upload(content)
        return self.client.post(
            "/api/v1/games", data=data, headers=self.headers, content_type="multipart/form-data"
        )

    def update(self, game_id, files: dict | None = None, **fields):
        data = dict(fields)
        for slot, content in (files or {}).items():
            data[slot] = upload(content)
        return self.client.put(
            f"/api/v1/games/{game_id}",
            data=data,
            headers=self.headers,
            content_type="multipart/form-data",
        )

    def get(self, path: str = "", **kwargs):
        return self.client.get(f"/api/v1/games{path}", headers=self.headers, **kwargs)

    def delete(self, game_id):
        return self.client.delete(f"/api/v1/games/{game_id}", headers=self.headers)

    def clone(self, game_id, **body):
        return self.client.post(
            f"/api/v1/games/{game_id}/clone", json=body or None, headers=self.headers
        )


@pytest.fixture
def host_token(database) -> str:
    return database.create_token("host-user", GUILD)


@pytest.fixture
def api(client, host_token) -> Api:
    """The host, a member of GUILD."""
    return Api(client, host_token)


@pytest.fixture
def member_api(client, database) -> Api:
    """Another member of GUILD, not the host."""
    return Api(client, database.create_token("member-user", GUILD))


@pytest.fixture
def outsider_api(client, database) -> Api:
    """A member of OTHER_GUILD only."""
    return Api(client, database.create_token("outsider-user", OTHER_GUILD))


def image_counts(database) -> dict:
    """content hash -> reference_count, read through a fresh connection."""
    return dict(database.rows("SELECT content_hash, reference_count FROM game_images"))


def count_of(database, image_id) -> int | None:
    return database.scalar(
        "SELECT reference_count FROM game_images WHERE id = :id", id=_id(database, image_id)
    )


def game_row(database, game_id):
    return database.rows("SELECT * FROM game_sessions WHERE id = :id", id=_id(database, game_id))


def _id(database, value):
    value = uuid.UUID(str(value))
    return value if database.is_postgresql else value.hex


INVARIANT_VIOLATIONS = (
    "SELECT i.id FROM game_images i WHERE i.reference_count = 0 OR i.reference_count <> "
    "(SELECT count(*) FROM game_sessions s WHERE s.thumbnail_id = i.id) + "
    "(SELECT count(*) FROM game_sessions s WHERE s.banner_image_id = i.id)"
)


@pytest.fixture(autouse=True)
def reference_counts_stay_exact(database):
    """After every test: each image counts exactly the slots pointing at it, none counts 0."""
    yield
    assert database.rows(INVARIANT_VIOLATIONS) == []


@pytest.fixture(scope="module", autouse=True)
def images_verify_after_module(pg_database):
    """After the module, the operator's ``flask images verify`` passes on the test database."""
    yield
    result = flask_cli(pg_database.owner_url, "images", "verify", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
