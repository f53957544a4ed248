"""Logging in: where ``next`` may lead, and sessions that end for every copy of the cookie."""

import datetime as dt
from urllib.parse import quote

import pytest

from tests.cli import flask_cli
from tests.pages.conftest import GUILD, submit

LONG = "/" + "a" * 5000
# Each value is the raw query string after ``next=``, as an attacker would write the link.
OFF_SITE = {
    "tab": "/%09/evil.example",
    "newline": "/%0a/evil.example",
    "carriage return": "/%0d/evil.example",
    "encoded backslash": "/%5cevil.example",
    "backslash": "\\\\evil.example",
    "slash backslash": "/\\evil.example",
    "scheme without slashes": "https:evil.example",
    "protocol relative": "//evil.example",
    "triple slash": "///evil.example",
    "leading tab": "%09//evil.example",
    "leading space": "%20//evil.example",
    "javascript": "javascript:alert(1)",
    "absolute": "https://evil.example/games",
    "bracket host": "//[evil",
    "very long": LONG,
}


@pytest.fixture
def token(database) -> str:
    return database.create_token("host-1", GUILD)


def _log_in_with_next(client, token: str, raw_next: str):
    return submit(client, f"/login?next={raw_next}", {"token": token}, form_page="/login")


@pytest.mark.parametrize("raw_next", OFF_SITE.values(), ids=OFF_SITE.keys())
def test_next_off_this_site_lands_on_the_game_list(client, token, raw_next):
    assert client.get(f"/login?next={raw_next}").status_code == 200
    response = _log_in_with_next(client, token, raw_next)
    assert response.status_code == 303
    assert response.headers["Location"] == "/games"


@pytest.mark.parametrize(
    ("raw_next", "location"),
    [
        ("/games/new", "/games/new"),
        (quote("/games?page=2", safe="/"), "/games?page=2"),
        ("/games/caf%C3%A9", "/games/caf%C3%A9"),
        # A tab inside a same-site path is dropped, as the browser would drop it.
        ("/games%09/new", "/games/new"),
    ],
)
def test_next_on_this_site_is_followed(client, token, raw_next, location):
    response = _log_in_with_next(client, token, raw_next)
    assert response.status_code == 303
    assert response.headers["Location"] == location


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_replayed_after_logout_is_sent_to_login(app, client, database, token):
    submit(client, "/login", {"token": token})
    copied = _cookie(client)
    assert database.scalar("SELECT count(*) FROM page_sessions") == 1
    assert submit(client, "/logout", form_page="/games").status_code == 303

    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/games")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/games"
    assert database.scalar("SELECT count(*) FROM page_sessions") == 0


def test_logging_out_one_browser_leaves_the_other_logged_in(app, client, database, token):
    submit(client, "/login", {"token": token})
    other = app.test_client()
    submit(other, "/login", {"token": token})
    submit(client, "/logout", form_page="/games")
    assert other.get("/games").status_code == 200
    assert client.get("/games").status_code == 302


def test_a_session_lasts_session_lifetime_hours(client, database, token):
    before = dt.datetime.now(dt.UTC)
    response = submit(client, "/login", {"token": token})
    assert "Expires=" in response.headers["Set-Cookie"]
    created, expires = database.rows("SELECT created_at, expires_at FROM page_sessions")[0]
    assert expires - created == dt.timedelta(hours=12)
    assert created >= before - dt.timedelta(seconds=5)

    database.execute("UPDATE page_sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/games").status_code == 302


@pytest.fixture
def app_config(app_config, request):
    hours = getattr(request, "param", None)
    return app_config if hours is None else {**app_config, "SESSION_LIFETIME_HOURS": hours}


@pytest.mark.parametrize("app_config", [1.5], indirect=True)
def test_session_lifetime_hours_is_configurable(client, database, token):
    submit(client, "/login", {"token": token})
    created, expires = database.rows("SELECT created_at, expires_at FROM page_sessions")[0]
    assert expires - created == dt.timedelta(hours=1.5)


def test_revoking_the_token_ends_its_page_sessions(client, database, token):
    submit(client, "/login", {"token": token})
    assert client.get("/games").status_code == 200
    result = flask_cli(database.pg.owner_url, "users", "revoke-token", "host-1")
    assert "1 token(s) revoked" in result.stdout
    assert database.scalar("SELECT count(*) FROM page_sessions") == 0
    response = client.get("/games")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/games"
    response = client.get("/api/v1/games", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_revoked_token_shuts_its_sessions_even_if_rows_remain(client, database, token):
    submit(client, "/login", {"token": token})
    database.execute("UPDATE api_tokens SET revoked_at = now()")
    assert database.scalar("SELECT count(*) FROM page_sessions") == 1
    assert client.get("/games").status_code == 302
