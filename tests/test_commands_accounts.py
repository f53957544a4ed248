"""Operator commands on accounts (SPEC §9): names, tokens, members, and deleting guilds and users.

Run for real as the schema owner, against the API and pages of the same database.
"""

import uuid

import psycopg
import pytest

from tests.cli import flask_cli
from tests.games.conftest import BLUE, GREEN, INVARIANT_VIOLATIONS, RED, Api
from tests.pages.conftest import submit

GUILD, OTHER_GUILD = "guild-a", "guild-b"


def cli(database, *args, check=True):
    url = database.pg.owner_url if database.pg else database.app_url
    return flask_cli(url, *args, check=check)


@pytest.fixture
def app_config(app_config):
    # No metadata cache: a deleted image's public URL 404s at once (the window is tested
    # in tests/public/test_cache.py).
    return {**app_config, "PUBLIC_IMAGE_METADATA_TTL": 0}


def _created(response) -> dict:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _verify_passes(database) -> None:
    result = cli(database, "images", "verify", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert database.rows(INVARIANT_VIOLATIONS) == []


@pytest.mark.sqlite_too
def test_display_name_and_guild_name_are_set_and_an_unknown_guild_is_refused(database):
    cli(database, "users", "create-token", "1001", "--guild", "9001", "--display-name", "Ann")
    assert database.scalar("SELECT display_name FROM users") == "Ann"
    result = cli(database, "guilds", "set-name", "9001", "Board Gamers")
    assert "now named 'Board Gamers'" in result.stdout
    assert database.scalar("SELECT name FROM guilds") == "Board Gamers"
    refused = cli(database, "guilds", "set-name", "404", "Nobody", check=False)
    assert refused.returncode == 1 and "No guild with Discord id 404" in refused.stderr


@pytest.mark.sqlite_too
def test_list_tokens_shows_names_and_dates_never_the_token(database):
    first = cli(database, "users", "create-token", "1001", "--guild", "9001", "--name", "laptop")
    token = first.stdout.strip().splitlines()[-1]
    cli(database, "users", "create-token", "1001", "--guild", "9001", "--name", "phone")
    cli(database, "users", "revoke-token", "1001", "--name", "phone")
    listing = cli(database, "users", "list-tokens", "1001").stdout
    lines = listing.strip().splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "LAST", "USED", "REVOKED"]
    assert lines[1].startswith("laptop") and lines[1].rstrip().endswith("-")
    assert lines[2].startswith("phone") and lines[2].rstrip().endswith("UTC")
    assert lines[-1] == "2 token(s), 1 active"
    token_hash = database.scalar("SELECT token_hash FROM api_tokens WHERE name = 'laptop'")
    assert token not in listing and token_hash not in listing


def test_revoke_token_by_name_answers_401_at_once_and_spares_the_others(client, database):
    laptop = database.create_token("1001", GUILD)
    database.execute("UPDATE api_tokens SET name = 'laptop'")
    phone = database.create_token("1001", GUILD)
    assert Api(client, laptop).get("").status_code == 200
    result = cli(database, "users", "revoke-token", "1001", "--name", "laptop")
    assert "1 token(s) named 'laptop' revoked" in result.stdout
    refused = Api(client, laptop).get("")
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
    assert Api(client, phone).get("").status_code == 200
    again = cli(database, "users", "revoke-token", "1001")
    assert "1 token(s) revoked" in again.stdout
    assert Api(client, phone).get("").status_code == 401


def test_remove_member_hides_the_guilds_games_at_once_and_keeps_those_they_host(client, database):
    host = Api(client, database.create_token("1001", GUILD, OTHER_GUILD))
    member = Api(client, database.create_token("1002", GUILD))
    hosted = _created(host.create(files={"thumbnail": RED}))["id"]
    elsewhere = _created(host.create(guild_id=OTHER_GUILD))["id"]
    result = cli(database, "guilds", "remove-member", GUILD, "1001")
    assert f"Removed Discord user 1001 from guild {GUILD}" in result.stdout
    assert host.get(f"/{hosted}").status_code == 404
    assert host.get("").get_json()["total"] == 1
    assert host.get(f"/{elsewhere}").status_code == 200
    assert member.get(f"/{hosted}").status_code == 200  # the game stays, with its image
    again = cli(database, "guilds", "remove-member", GUILD, "1001")
    assert "was not a member" in again.stdout
    _verify_passes(database)


@pytest.mark.sqlite_too
def test_guilds_delete_removes_every_game_as_the_api_would(client, database):
    host = Api(client, database.create_token("1001", GUILD, OTHER_GUILD))
    doomed = [
        _created(host.create(files={"thumbnail": RED, "image": GREEN})),
        _created(host.create(files={"thumbnail": RED})),
    ]
    kept = _created(host.create(guild_id=OTHER_GUILD, files={"thumbnail": RED, "image": BLUE}))
    result = cli(database, "guilds", "delete", GUILD)

    for game in doomed:
        assert (
            f"deleted game {game['id']} 'Catan night' (guild {GUILD}, host 1001)" in result.stdout
        )
    assert (
        f"Deleted guild {GUILD}: 2 game(s), 3 image reference(s) released, 1 membership(s)"
        in result.stdout
    )
    assert database.scalar("SELECT count(*) FROM guilds WHERE discord_guild_id = :g", g=GUILD) == 0
    assert host.get("").get_json()["total"] == 1
    assert client.get(f"/api/v1/public/images/{doomed[0]['banner_image_id']}").status_code == 404
    shared = client.get(f"/api/v1/public/images/{kept['thumbnail_id']}")
    assert shared.status_code == 200 and shared.data == _stored_bytes(database, kept)
    _verify_passes(database)


def _stored_bytes(database, game) -> bytes:
    image_id = uuid.UUID(game["thumbnail_id"])
    query = "SELECT image_data FROM game_images WHERE id = :id"
    return bytes(database.scalar(query, id=image_id if database.is_postgresql else image_id.hex))


@pytest.mark.sqlite_too
def test_users_delete_takes_tokens_memberships_sessions_and_hosted_games(client, database):
    leaving = database.create_token("1001", GUILD, OTHER_GUILD)
    staying = Api(client, database.create_token("1002", GUILD))
    hosted = [
        _created(Api(client, leaving).create(files={"thumbnail": RED})),
        _created(Api(client, leaving).create(guild_id=OTHER_GUILD, files={"image": GREEN})),
    ]
    theirs = _created(staying.create(files={"thumbnail": RED}))
    result = cli(database, "users", "delete", "1001")

    assert "Deleted user 1001: 2 hosted game(s), 2 image reference(s) released, 1 token(s)" in (
        result.stdout
    )
    assert "2 membership(s)" in result.stdout
    for game in hosted:
        assert f"deleted game {game['id']}" in result.stdout
    assert Api(client, leaving).get("").status_code == 401
    assert database.scalar("SELECT count(*) FROM users") == 1
    assert database.scalar("SELECT count(*) FROM api_tokens") == 1
    assert database.scalar("SELECT count(*) FROM guild_members") == 1
    assert staying.get(f"/{theirs['id']}").status_code == 200
    assert client.get(f"/api/v1/public/images/{hosted[1]['banner_image_id']}").status_code == 404
    assert database.scalar("SELECT reference_count FROM game_images") == 1
    _verify_passes(database)


def test_users_delete_ends_their_page_sessions(app, client, database):
    token = database.create_token("1001", GUILD)
    app.config["WTF_CSRF_ENABLED"] = True
    assert submit(client, "/login", {"token": token}).status_code == 303
    result = cli(database, "users", "delete", "1001")
    assert "1 page session(s)" in result.stdout
    assert database.scalar("SELECT count(*) FROM page_sessions") == 0
    assert client.get("/games").status_code == 302


@pytest.mark.sqlite_too
def test_deleting_an_unknown_guild_or_user_is_a_clean_error(database):
    for args in (("guilds", "delete", "404"), ("users", "delete", "404")):
        result = cli(database, *args, check=False)
        assert result.returncode == 1 and "No " in result.stderr and "404" in result.stderr


def test_a_plain_sql_delete_of_a_guild_or_user_with_games_is_refused(client, database):
    host = Api(client, database.create_token("1001", GUILD))
    _created(host.create(files={"thumbnail": RED}))
    with psycopg.connect(database.pg.libpq_url(database.pg.owner), autocommit=True) as owner:
        for statement in ("DELETE FROM guilds", "DELETE FROM users"):
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="game_sessions"):
                owner.execute(statement)
    assert database.scalar("SELECT count(*) FROM game_sessions") == 1
    _verify_passes(database)
