"""The operator CLI of SPEC §9 (users, guilds), run for real as the owner."""

import hashlib

import pytest

from tests.cli import flask_cli


def _owner_url(database) -> str:
    return database.pg.owner_url if database.pg else database.app_url


@pytest.mark.sqlite_too
def test_create_token_prints_token_last_and_stores_only_its_hash(database):
    result = flask_cli(
        _owner_url(database),
        "users",
        "create-token",
        "1001",
        "--guild",
        "9001",
        "--guild",
        "9002",
        "--name",
        "laptop",
    )
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("gn_") and len(token) > 40
    rows = database.rows("SELECT token_hash, name FROM api_tokens")
    assert [tuple(row) for row in rows] == [(hashlib.sha256(token.encode()).hexdigest(), "laptop")]
    memberships = database.rows(
        "SELECT g.discord_guild_id FROM guild_members m JOIN guilds g ON g.id = m.guild_id "
        "JOIN users u ON u.id = m.user_id WHERE u.discord_user_id = '1001' ORDER BY 1"
    )
    assert [row[0] for row in memberships] == ["9001", "9002"]


@pytest.mark.sqlite_too
def test_create_token_again_reuses_user_and_guilds_and_adds_a_second_token(database):
    flask_cli(_owner_url(database), "users", "create-token", "1001", "--guild", "9001")
    flask_cli(
        _owner_url(database), "users", "create-token", "1001", "--guild", "9001", "--guild", "9003"
    )
    assert database.scalar("SELECT count(*) FROM users") == 1
    assert database.scalar("SELECT count(*) FROM guilds") == 2
    assert database.scalar("SELECT count(*) FROM guild_members") == 2
    assert database.scalar("SELECT count(*) FROM api_tokens") == 2


@pytest.mark.sqlite_too
def test_set_webhook_sets_and_clears_and_refuses_non_http(database):
    url = _owner_url(database)
    flask_cli(url, "guilds", "set-webhook", "9001", "https://discord.test/api/webhooks/1/x")
    assert (
        database.scalar("SELECT webhook_url FROM guilds") == "https://discord.test/api/webhooks/1/x"
    )
    flask_cli(url, "guilds", "set-webhook", "9001", "")
    assert database.scalar("SELECT webhook_url FROM guilds") is None
    refused = flask_cli(url, "guilds", "set-webhook", "9001", "ftp://x", check=False)
    assert refused.returncode == 2 and "http(s)" in refused.stderr
