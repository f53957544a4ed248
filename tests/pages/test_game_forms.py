"""The game forms: what they store, and every refusal shown on the form, never a 500."""

import datetime as dt
import io

import pytest

from app.discord import worker
from tests.data.upload_corpus import CASES
from tests.discord.fake_discord import FakeDiscord
from tests.pages.conftest import GUILD, create_game, game_id_of, png, submit

pytestmark = pytest.mark.sqlite_too


def corpus_file(filename: str) -> bytes:
    """A file of the upload corpus, built here (the suite must not depend on test order)."""
    build, _ = CASES[filename]
    return build()


def _row(database, game_id: str):
    key = game_id if database.is_postgresql else game_id.replace("-", "")
    return database.rows("SELECT * FROM game_sessions WHERE id = :id", id=key)[0]


def _utc_minute(value) -> str:
    """A stored time as UTC "YYYY-MM-DD HH:MM" (SQLite hands back naive UTC text)."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_new_game_form_offers_my_guilds_and_utc_first(client, database, host):
    database.create_token("host-1", "guild-z")
    page = _text(client.get("/games/new"))
    assert '<option value="guild-a">' in page and '<option value="guild-z">' in page
    assert 'type="datetime-local"' in page and 'name="scheduled_at"' in page
    assert '<option selected value="UTC">UTC</option>' in page
    assert '<option value="Europe/Paris">' in page
    for name in ("thumbnail", "image"):
        assert f'name="{name}" type="file"' in page


def test_local_time_in_the_chosen_zone_is_stored_in_utc(client, database, host):
    game_id = game_id_of(
        create_game(
            client, timezone="Europe/Paris", description="Bring snacks", max_players="5", where=""
        )
    )
    row = _row(database, game_id)
    assert _utc_minute(row.scheduled_at) == "2030-05-01 17:00"
    assert (row.description, row.max_players, row.where) == ("Bring snacks", 5, None)
    assert row.thumbnail_id is None and row.banner_image_id is None


def test_field_errors_are_shown_on_the_form(client, database, host):
    response = create_game(client, scheduled_at="")
    assert response.status_code == 422 and "This field is required." in _text(response)
    response = create_game(client, title="x" * 201, max_players="0", description="nul\x00")
    page = _text(response)
    assert response.status_code == 422
    assert "Please correct the fields marked below" in page
    assert "Length must be between 1 and 200." in page
    assert "Must be greater than or equal to 1" in page
    assert "Must not contain NUL characters." in page
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0


def test_a_guild_i_am_not_in_is_refused(client, database, host):
    database.create_token("someone", "guild-b")
    response = create_game(client, guild_id="guild-b")
    assert response.status_code == 422 and "Not a valid choice" in _text(response)


@pytest.mark.parametrize(
    ("upload", "status", "message"),
    [
        ("script.svg", 415, "Unsupported image"),
        ("empty.png", 415, "the file is empty"),
        ("5-mib-plus-one-byte.png", 413, "Image too large"),
    ],
)
def test_refused_uploads_are_shown_on_the_form(client, database, host, upload, status, message):
    response = create_game(client, thumbnail=corpus_file(upload))
    assert response.status_code == status
    assert message in _text(response) and 'id="game-form"' in _text(response)
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert database.scalar("SELECT count(*) FROM game_images") == 0


def test_an_image_of_exactly_5_mib_is_accepted(client, database, host):
    game_id = game_id_of(create_game(client, image=corpus_file("exactly-5-mib.png")))
    assert _row(database, game_id).banner_image_id is not None


def test_a_request_over_the_size_limit_returns_to_the_form_saying_why(client, database, host):
    response = create_game(client, description="x" * (12 * 1024 * 1024))
    assert response.status_code == 303 and response.headers["Location"] == "/games/new"
    assert "Request too large" in _text(client.get("/games/new"))


def test_edit_form_is_prefilled_and_saves_every_field(client, database, host):
    game_id = game_id_of(create_game(client, where="Room 4"))
    page = _text(client.get(f"/games/{game_id}/edit"))
    assert 'value="Catan night"' in page and 'value="2030-05-01T19:00"' in page
    assert 'value="Room 4"' in page
    fields = {
        "guild_id": GUILD,
        "title": "Catan finals",
        "scheduled_at": "2030-06-01T20:30",
        "timezone": "America/New_York",
        "status": "CANCELLED",
        "where": "",
    }
    response = submit(client, f"/games/{game_id}/edit", fields)
    assert response.status_code == 303 and response.headers["Location"] == f"/games/{game_id}"
    row = _row(database, game_id)
    assert (row.title, row.status, row.where) == ("Catan finals", "CANCELLED", None)
    assert _utc_minute(row.scheduled_at) == "2030-06-02 00:30"


def test_edit_removes_the_thumbnail_and_replaces_the_banner(client, database, host):
    game_id = game_id_of(create_game(client, thumbnail=png((1, 2, 3)), image=png((4, 5, 6))))
    fields = {
        "guild_id": GUILD,
        "title": "Catan",
        "scheduled_at": "2030-05-01T19:00",
        "timezone": "UTC",
        "status": "SCHEDULED",
        "remove_thumbnail": "y",
        "image": (io.BytesIO(png((7, 8, 9))), "new.png"),
    }
    response = submit(client, f"/games/{game_id}/edit", fields, content_type="multipart/form-data")
    assert response.status_code == 303
    row = _row(database, game_id)
    assert row.thumbnail_id is None and row.banner_image_id is not None
    assert database.scalar("SELECT count(*) FROM game_images") == 1
    page = _text(client.get(f"/games/{game_id}"))
    assert page.count("<img") == 1 and 'id="banner"' in page


def test_only_the_host_may_edit_or_delete(app, client, database, host):
    game_id = game_id_of(create_game(client))
    guest = app.test_client()
    submit(guest, "/login", {"token": database.create_token("guest", GUILD)})
    assert 'id="edit"' not in _text(guest.get(f"/games/{game_id}"))
    assert guest.get(f"/games/{game_id}/edit").status_code == 403
    response = submit(guest, f"/games/{game_id}/delete", form_page="/games")
    assert response.status_code == 403
    assert database.scalar("SELECT count(*) FROM game_sessions") == 1


def test_delete_removes_the_game_and_releases_its_images(client, database, host):
    game_id = game_id_of(create_game(client, thumbnail=png()))
    response = submit(client, f"/games/{game_id}/delete", form_page=f"/games/{game_id}/edit")
    assert response.status_code == 303 and response.headers["Location"] == "/games"
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert database.scalar("SELECT count(*) FROM game_images") == 0
    assert "Game deleted." in _text(client.get("/games"))


def test_games_changed_on_the_pages_are_announced_like_the_api(app, client, database, host):
    discord = FakeDiscord().start()

    def deliver() -> None:
        with app.app_context():
            worker.deliver_due(app, worker.make_deliverer(app))

    try:
        database.execute(
            "UPDATE guilds SET webhook_url = :url WHERE discord_guild_id = :guild",
            url=discord.url,
            guild=GUILD,
        )
        game_id = game_id_of(create_game(client))
        deliver()
        fields = {
            "guild_id": GUILD,
            "title": "Renamed",
            "scheduled_at": "2030-05-01T19:00",
            "timezone": "UTC",
            "status": "SCHEDULED",
        }
        assert submit(client, f"/games/{game_id}/edit", fields).status_code == 303
        deliver()
        edit_page = f"/games/{game_id}/edit"
        assert submit(client, f"/games/{game_id}/delete", form_page=edit_page).status_code == 303
        deliver()
        assert [r["method"] for r in discord.received()] == ["POST", "PATCH", "DELETE"]
        assert discord.received()[1]["body"]["embeds"][0]["title"] == "Renamed"
        assert discord.channel() == {}
    finally:
        discord.stop()
