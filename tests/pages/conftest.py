"""Helpers of the page tests: CSRF on, a logged-in test client, form posts with their token."""

import io
import re

import pytest
from PIL import Image

GUILD = "guild-a"
OTHER_GUILD = "guild-b"
CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def png(colour=(220, 40, 90), size=(48, 32)) -> bytes:
    """A small valid PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def app_config(app_config):
    """The pages are tested as they run: CSRF protection on."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


def csrf_token_of(client, path: str) -> str:
    """The CSRF token of the form on a page."""
    response = client.get(path)
    match = CSRF_TOKEN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def submit(client, path: str, data: dict | None = None, form_page: str | None = None, **kwargs):
    """POST a form with the CSRF token its page (or ``form_page``) carries."""
    fields = {"csrf_token": csrf_token_of(client, form_page or path), **(data or {})}
    return client.post(path, data=fields, **kwargs)


def game_fields(**overrides) -> dict:
    """A valid new-game form; files are (bytes, name) pairs turned into uploads."""
    fields = {
        "guild_id": GUILD,
        "title": "Catan night",
        "scheduled_at": "2030-05-01T19:00",
        "timezone": "UTC",
        **overrides,
    }
    for name in ("thumbnail", "image"):
        if isinstance(fields.get(name), bytes):
            fields[name] = (io.BytesIO(fields[name]), f"{name}.png")
    return fields


@pytest.fixture
def log_in(client):
    """Log the test client in with a token; returns the login response."""

    def log_in_with(token: str):
        return submit(client, "/login", {"token": token})

    return log_in_with


@pytest.fixture
def host(database, log_in):
    """A logged-in user of GUILD; returns their token."""
    token = database.create_token("host-1", GUILD)
    assert log_in(token).status_code == 303
    return token


def create_game(client, **overrides):
    """Schedule a game through the new-game form; the response is not followed."""
    return submit(
        client, "/games/new", game_fields(**overrides), content_type="multipart/form-data"
    )


def game_id_of(response) -> str:
    """The id in the Location of a redirect to a details page."""
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[-1]
