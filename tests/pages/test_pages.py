"""The pages through the Flask test client with CSRF on: sessions, CSRF, lists and details."""

import re

import pytest

from config import ProductionConfig
from tests.pages.conftest import GUILD, OTHER_GUILD, create_game, game_id_of, png, submit

pytestmark = pytest.mark.sqlite_too
IMG = re.compile(r"<img\b[^>]*>")


def test_pages_send_visitors_without_a_session_to_login(client, database):
    for path in ("/games", "/games/new", "/games/00000000-0000-0000-0000-000000000000"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next={path}"


def test_login_keeps_a_session_secret_in_a_signed_httponly_lax_cookie(client, database, log_in):
    token = database.create_token("host-1", GUILD)
    response = log_in(token)
    assert response.status_code == 303 and response.headers["Location"] == "/games"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert token not in cookie
    with client.session_transaction() as session:
        assert token not in str(dict(session)) and len(session["page_session"]) >= 43
    assert client.get("/games").status_code == 200


def test_login_returns_to_the_page_asked_for_but_never_off_site(client, database):
    token = database.create_token("host-1", GUILD)
    response = submit(client, "/login?next=/games/new", {"token": token})
    assert response.headers["Location"] == "/games/new"
    response = submit(client, "/login?next=//evil.example/x", {"token": token})
    assert response.headers["Location"] == "/games"


def test_an_invalid_token_is_a_form_error(client, database, log_in):
    response = log_in("gn_not-a-token")
    assert response.status_code == 422
    assert "Invalid or revoked API token" in response.get_data(as_text=True)
    assert client.get("/games").status_code == 302


def test_posts_without_a_csrf_token_are_refused(client, database, host):
    refused = [
        client.post("/login", data={"token": host}),
        client.post(
            "/games/new",
            data={
                "guild_id": GUILD,
                "title": "x",
                "scheduled_at": "2030-05-01T19:00",
                "timezone": "UTC",
            },
        ),
        client.post("/logout"),
    ]
    assert [response.status_code for response in refused] == [400, 400, 400]
    assert "expired or did not come from this site" in refused[1].get_data(as_text=True)
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert client.get("/games").status_code == 200  # the refused logout left the session


def test_a_csrf_token_of_another_session_is_refused(app, client, database, host):
    other = app.test_client()
    stolen = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', other.get("/login").get_data(as_text=True)
    ).group(1)
    response = client.post("/logout", data={"csrf_token": stolen})
    assert response.status_code == 400


def test_logout_ends_the_session(client, database, host):
    response = submit(client, "/logout", form_page="/games")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/games").status_code == 302


def test_a_revoked_token_ends_its_sessions(client, database, host):
    database.execute("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")
    assert client.get("/games").status_code == 302


def test_game_list_shows_the_games_of_my_guilds_only(app, client, database, host):
    game_id_of(create_game(client, title="Mine to see"))
    other = app.test_client()
    token = database.create_token("stranger", OTHER_GUILD)
    submit(other, "/login", {"token": token})
    game_id_of(create_game(other, guild_id=OTHER_GUILD, title="Not for you"))
    page = client.get("/games").get_data(as_text=True)
    assert "Mine to see" in page and "Not for you" not in page


def test_details_show_the_thumbnail_and_no_img_for_a_missing_banner(client, database, host):
    game_id = game_id_of(create_game(client, thumbnail=png()))
    thumbnail_id = database.scalar(
        "SELECT thumbnail_id FROM game_sessions WHERE id = :id", id=_db_id(database, game_id)
    )
    page = client.get(f"/games/{game_id}").get_data(as_text=True)
    images = IMG.findall(page)
    assert len(images) == 1
    assert f'src="/api/v1/public/images/{_uuid_text(thumbnail_id)}"' in images[0]
    assert client.get(f"/api/v1/public/images/{_uuid_text(thumbnail_id)}").status_code == 200


def test_a_game_without_images_renders_no_img(client, database, host):
    game_id = game_id_of(create_game(client))
    assert "<img" not in client.get(f"/games/{game_id}").get_data(as_text=True)


def test_a_game_of_another_guild_is_a_404_page(app, client, database, host):
    other = app.test_client()
    submit(other, "/login", {"token": database.create_token("stranger", OTHER_GUILD)})
    game_id = game_id_of(create_game(other, guild_id=OTHER_GUILD))
    for path in (f"/games/{game_id}", f"/games/{game_id}/edit"):
        response = client.get(path)
        assert response.status_code == 404 and "Game not found" in response.get_data(as_text=True)


def test_production_sends_the_session_cookie_over_https_only():
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def _db_id(database, game_id: str):
    return game_id if database.is_postgresql else game_id.replace("-", "")


def _uuid_text(value) -> str:
    import uuid

    return str(uuid.UUID(str(value)))
