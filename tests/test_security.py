"""SPEC §4 on PostgreSQL: three roles, forced row-level security, least privilege."""

import hashlib
import uuid

import psycopg
import pytest

from tests.cli import flask_cli

PRIVATE_TABLES = [
    "game_sessions",
    "guilds",
    "users",
    "api_tokens",
    "guild_members",
    "discord_deliveries",
]


@pytest.fixture
def two_guild_games(database):
    """One game in guild A and one in guild B; returns {discord guild id: internal guild id}."""
    database.create_token("host", "A", "B")
    guilds = {
        row.discord_guild_id: row.id
        for row in database.rows("SELECT id, discord_guild_id FROM guilds")
    }
    host = database.scalar("SELECT id FROM users")
    for name, guild_id in guilds.items():
        database.execute(
            "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status) "
            "VALUES (:id, :g, :h, :t, now(), 'SCHEDULED')",
            id=uuid.uuid4(),
            g=guild_id,
            h=host,
            t=f"game of {name}",
        )
    return guilds


def _connect(database, role: str) -> psycopg.Connection:
    return psycopg.connect(database.pg.libpq_url(role))


def _visible_titles(connection, guild_ids: str | None) -> list[str]:
    with connection.transaction():
        if guild_ids is not None:
            connection.execute("SELECT set_config('app.current_guild_ids', %s, true)", (guild_ids,))
        return [
            row[0] for row in connection.execute("SELECT title FROM game_sessions ORDER BY title")
        ]


def test_app_role_sees_no_games_without_guild_context(database, two_guild_games):
    with _connect(database, database.pg.app_role) as connection:
        assert _visible_titles(connection, None) == []
        assert _visible_titles(connection, "") == []


def test_app_role_sees_only_its_guilds_games_and_context_ends_with_transaction(
    database, two_guild_games
):
    with _connect(database, database.pg.app_role) as connection:
        assert _visible_titles(connection, str(two_guild_games["A"])) == ["game of A"]
        both = f"{two_guild_games['A']},{two_guild_games['B']}"
        assert _visible_titles(connection, both) == ["game of A", "game of B"]
        assert _visible_titles(connection, None) == []


def test_app_role_cannot_write_into_another_guild_or_use_maintenance(database, two_guild_games):
    with _connect(database, database.pg.app_role) as connection:
        with connection.transaction():
            connection.execute("SELECT set_config('app.maintenance', 'on', true)")
            assert connection.execute("SELECT count(*) FROM game_sessions").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
            connection.execute(
                "SELECT set_config('app.current_guild_ids', %s, true)", (str(two_guild_games["A"]),)
            )
            connection.execute(
                "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status) "
                "SELECT gen_random_uuid(), %s, id, 'sneaky', now(), 'SCHEDULED' FROM users",
                (two_guild_games["B"],),
            )
        with connection.transaction():
            connection.execute(
                "SELECT set_config('app.current_guild_ids', %s, true)", (str(two_guild_games["A"]),)
            )
            assert (
                connection.execute("DELETE FROM game_sessions WHERE title = 'game of B'").rowcount
                == 0
            )
    assert database.scalar("SELECT count(*) FROM game_sessions") == 2


@pytest.mark.parametrize("table", PRIVATE_TABLES)
def test_public_role_is_denied_every_private_table(database, two_guild_games, table):
    with (
        _connect(database, database.pg.public_role) as connection,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        connection.execute(f"SELECT * FROM {table}")


def test_public_role_can_read_game_images_and_nothing_more(database):
    with _connect(database, database.pg.public_role) as connection:
        assert connection.execute("SELECT count(*) FROM game_images").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("DELETE FROM game_images")


def test_runtime_roles_are_neither_superuser_nor_bypassrls(database):
    roles = [database.pg.owner, database.pg.app_role, database.pg.public_role]
    rows = database.rows(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY(:roles)",
        roles=roles,
    )
    assert sorted(rows) == sorted((role, False, False) for role in roles)


def test_game_sessions_has_row_level_security_enabled_and_forced(database):
    row = database.rows(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'game_sessions'"
    )[0]
    assert tuple(row) == (True, True)


def test_owner_sees_no_games_outside_maintenance_context(database, two_guild_games):
    with _connect(database, database.pg.owner) as connection:
        assert _visible_titles(connection, None) == []


def test_grant_refuses_a_superuser_role(database):
    result = flask_cli(
        database.pg.owner_url,
        "db",
        "grant",
        "--app-role",
        "postgres",
        "--public-role",
        database.pg.public_role,
        check=False,
    )
    assert result.returncode != 0
    assert "superuser or BYPASSRLS" in result.stderr


def test_tokens_appear_nowhere_in_the_database_in_clear(database):
    result = flask_cli(database.pg.owner_url, "users", "create-token", "42", "--guild", "7")
    token = result.stdout.strip().splitlines()[-1]
    dump = "\n".join(
        str(row)
        for table in PRIVATE_TABLES + ["game_images"]
        for row in database.rows(f"SELECT t::text FROM {table} t")
    )
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump


def test_image_bytes_are_stored_uncompressed_out_of_line(database):
    """Images are compressed already: PostgreSQL must not spend time trying pglz on them."""
    storage = database.scalar(
        "SELECT attstorage FROM pg_attribute WHERE attname = 'image_data' "
        "AND attrelid = 'game_images'::regclass"
    )
    assert storage == "e"


def test_app_role_queues_claims_and_removes_outbox_jobs_but_renames_no_guild(
    database, two_guild_games
):
    game = database.scalar("SELECT id FROM game_sessions LIMIT 1")
    with _connect(database, database.pg.app_role) as connection:
        with connection.transaction():
            job = connection.execute(
                "INSERT INTO discord_deliveries (game_id, guild_id, action, state, attempts, "
                "queued_at, due_at) VALUES (%s, %s, 'sync', 'pending', 0, now(), now()) "
                "RETURNING id",
                (game, two_guild_games["A"]),
            ).fetchone()[0]
            connection.execute(
                "SELECT id FROM discord_deliveries FOR UPDATE SKIP LOCKED"
            ).fetchall()
            connection.execute(
                "UPDATE discord_deliveries SET lease_until = now() WHERE id = %s", (job,)
            )
            connection.execute(
                "UPDATE guilds SET webhook_disabled_at = now() WHERE id = %s",
                (two_guild_games["A"],),
            )
            connection.execute("DELETE FROM discord_deliveries WHERE id = %s", (job,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
            connection.execute("UPDATE guilds SET name = 'renamed'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
            connection.execute("UPDATE guilds SET webhook_url = 'https://elsewhere.test/x'")
    assert database.scalar("SELECT count(*) FROM guilds WHERE webhook_disabled_at IS NOT NULL") == 1


def test_public_role_has_no_grant_on_the_outbox_or_its_sequence(database):
    rows = database.rows(
        "SELECT has_table_privilege(:role, 'discord_deliveries', 'SELECT, INSERT, UPDATE, DELETE'),"
        " has_sequence_privilege(:role, 'discord_deliveries_id_seq', 'USAGE, SELECT, UPDATE')",
        role=database.pg.public_role,
    )
    assert tuple(rows[0]) == (False, False)
