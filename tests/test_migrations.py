"""The two revisions of SPEC §3, run by the real CLI as the (non-superuser) owner."""

import hashlib
import io
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy import create_engine, text

from tests import pg
from tests.cli import flask_cli
from tests.conftest import ADMIN_URL


def _image_bytes(colour: str, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format=fmt)
    return buffer.getvalue()


HEAD = "0006_image_sanitised"
PNG_A = _image_bytes("red", "PNG")
JPEG_B = _image_bytes("blue", "JPEG")


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request, tmp_path):
    """(owner URL, engine) of an empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        engine = create_engine(url)
        yield url, engine
        engine.dispose()
        return
    database = pg.create_database(ADMIN_URL, label="mig")
    engine = create_engine(database.owner_url)
    try:
        yield database.owner_url, engine
    finally:
        engine.dispose()
        pg.drop_database(database)


def _run(engine, statement: str, **params) -> list:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT set_config('app.maintenance', 'on', true)"))
        result = connection.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def _id(engine, value: uuid.UUID):
    return value if engine.dialect.name == "postgresql" else value.hex


def _seed_embedded_games(engine) -> dict[str, uuid.UUID]:
    """Four games at revision 0001: two share identical bytes, one differs, one has none."""
    guild, host = uuid.uuid4(), uuid.uuid4()
    _run(
        engine,
        "INSERT INTO guilds (id, discord_guild_id, name) VALUES (:id, '1', 'g')",
        id=_id(engine, guild),
    )
    _run(
        engine,
        "INSERT INTO users (id, discord_user_id, display_name) VALUES (:id, '2', 'u')",
        id=_id(engine, host),
    )
    games = {name: uuid.uuid4() for name in ("shared_1", "shared_2", "different", "none")}
    embedded = {
        "shared_1": {"thumbnail_data": PNG_A, "thumbnail_mime_type": "image/png"},
        "shared_2": {"image_data": PNG_A, "image_mime_type": "image/png"},
        "different": {"thumbnail_data": JPEG_B, "thumbnail_mime_type": "image/jpeg"},
        "none": {},
    }
    for name, game_id in games.items():
        columns = embedded[name]
        names = ", ".join(
            ["id", "guild_id", "host_id", "title", "scheduled_at", "status", *columns]
        )
        values = ", ".join(
            [
                ":id",
                ":guild",
                ":host",
                ":title",
                ":at",
                "'SCHEDULED'",
                *(f":{column}" for column in columns),
            ]
        )
        _run(
            engine,
            f"INSERT INTO game_sessions ({names}) VALUES ({values})",
            id=_id(engine, game_id),
            guild=_id(engine, guild),
            host=_id(engine, host),
            title=name,
            at="2026-12-01 19:00:00+00:00",
            **columns,
        )
    return games


def _slots_after_upgrade(engine) -> dict[str, tuple]:
    rows = _run(engine, "SELECT title, thumbnail_id, banner_image_id FROM game_sessions")
    return {row.title: (row.thumbnail_id, row.banner_image_id) for row in rows}


def _norm(value):
    return None if value is None else str(uuid.UUID(str(value)))


def test_upgrade_moves_embedded_images_into_deduplicated_rows(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade", "0001_initial_schema")
    _seed_embedded_games(engine)
    flask_cli(url, "db", "upgrade")

    images = _run(
        engine,
        "SELECT id, content_hash, image_data, mime_type, reference_count, "
        "byte_size FROM game_images ORDER BY reference_count DESC",
    )
    assert [(row.content_hash, row.reference_count) for row in images] == [
        (hashlib.sha256(PNG_A).hexdigest(), 2),
        (hashlib.sha256(JPEG_B).hexdigest(), 1),
    ]
    assert [bytes(row.image_data) for row in images] == [PNG_A, JPEG_B]
    assert [row.mime_type for row in images] == ["image/png", "image/jpeg"]
    assert [row.byte_size for row in images] == [len(PNG_A), len(JPEG_B)]
    png_id, jpeg_id = (_norm(row.id) for row in images)
    slots = {title: tuple(map(_norm, ids)) for title, ids in _slots_after_upgrade(engine).items()}
    assert slots == {
        "shared_1": (png_id, None),
        "shared_2": (None, png_id),
        "different": (jpeg_id, None),
        "none": (None, None),
    }


def test_downgrade_puts_identical_bytes_back_and_round_trip_loses_nothing(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade", "0001_initial_schema")
    _seed_embedded_games(engine)
    before = _run(
        engine,
        "SELECT title, thumbnail_data, thumbnail_mime_type, image_data, "
        "image_mime_type FROM game_sessions ORDER BY title",
    )
    flask_cli(url, "db", "upgrade")
    flask_cli(url, "db", "downgrade", "0001_initial_schema")

    after = _run(
        engine,
        "SELECT title, thumbnail_data, thumbnail_mime_type, image_data, "
        "image_mime_type FROM game_sessions ORDER BY title",
    )
    assert [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in after] == [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in before
    ]

    flask_cli(url, "db", "upgrade")
    assert _run(engine, "SELECT reference_count FROM game_images ORDER BY 1") == [(1,), (2,)]


def test_upgrade_downgrade_base_upgrade_runs_clean(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade")
    flask_cli(url, "db", "downgrade", "base")
    flask_cli(url, "db", "upgrade")
    assert flask_cli(url, "db", "current").stdout.split()[0] == HEAD
    check = flask_cli(url, "db", "check", check=False)
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def _image_rows(engine) -> list[tuple]:
    rows = _run(
        engine,
        "SELECT id, content_hash, image_data, byte_size, mime_type, reference_count "
        "FROM game_images ORDER BY content_hash",
    )
    return [(_norm(row.id), row[1], bytes(row[2]), *row[3:]) for row in rows]


def test_rows_moved_by_revision_2_are_marked_unsanitised_and_later_rows_sanitised(
    empty_database,
):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade", "0001_initial_schema")
    _seed_embedded_games(engine)
    flask_cli(url, "db", "upgrade")
    assert [bool(row.sanitised) for row in _run(engine, "SELECT sanitised FROM game_images")] == [
        False,
        False,
    ]
    later = _image_bytes("green", "PNG")
    _run(
        engine,
        "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type) "
        "VALUES (:id, :hash, :data, :size, 'image/png')",
        id=_id(engine, uuid.uuid4()),
        hash=hashlib.sha256(later).hexdigest(),
        data=later,
        size=len(later),
    )
    marks = _run(engine, "SELECT content_hash, sanitised FROM game_images")
    assert bool(dict(marks)[hashlib.sha256(later).hexdigest()]) is True


def test_sanitised_mark_downgrades_and_upgrades_without_losing_an_image(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade", "0001_initial_schema")
    _seed_embedded_games(engine)
    flask_cli(url, "db", "upgrade", "0002_images_table")
    before = _image_rows(engine)
    slots_before = _slots_after_upgrade(engine)
    flask_cli(url, "db", "upgrade")
    _run(engine, "UPDATE game_images SET sanitised = true WHERE reference_count = 2")
    assert _image_rows(engine) == before
    flask_cli(url, "db", "downgrade", "0002_images_table")
    assert _image_rows(engine) == before
    assert _slots_after_upgrade(engine) == slots_before
    flask_cli(url, "db", "upgrade")
    # The mark is the one thing a downgrade drops: every row is unsanitised again.
    assert _image_rows(engine) == before
    marks = _run(engine, "SELECT DISTINCT sanitised FROM game_images")
    assert [bool(row.sanitised) for row in marks] == [False]


def _seed_accounts_at_head(engine) -> dict:
    """A guild, a user with a token and an open page session, and a game with an image."""
    ids = {name: uuid.uuid4() for name in ("guild", "user", "token", "session", "game", "image")}
    ids = {name: _id(engine, value) for name, value in ids.items()}
    statements = [
        "INSERT INTO guilds (id, discord_guild_id, name) VALUES (:guild, '1', 'Board games')",
        "INSERT INTO users (id, discord_user_id, display_name) VALUES (:user, '2', 'Ann')",
        "INSERT INTO guild_members (id, guild_id, user_id) VALUES (:token, :guild, :user)",
        "INSERT INTO api_tokens (id, user_id, token_hash, name, created_at) "
        "VALUES (:token, :user, 'h', 'laptop', CURRENT_TIMESTAMP)",
        "INSERT INTO page_sessions (id, token_id, secret_hash, created_at, expires_at) "
        "VALUES (:session, :token, 's', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type, "
        "reference_count) VALUES (:image, 'c', :data, 3, 'image/png', 1)",
        "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status, "
        "thumbnail_id) VALUES (:game, :guild, :user, 't', CURRENT_TIMESTAMP, 'SCHEDULED', :image)",
    ]
    for statement in statements:
        _run(engine, statement, data=b"png", **ids)
    return ids


ACCOUNT_ROWS = (
    "SELECT g.name, u.display_name, t.name, s.title, i.reference_count FROM game_sessions s "
    "JOIN guilds g ON g.id = s.guild_id JOIN users u ON u.id = s.host_id "
    "JOIN api_tokens t ON t.user_id = u.id JOIN game_images i ON i.id = s.thumbnail_id"
)


def _refused(engine, statement: str) -> bool:
    try:
        _run(engine, statement)
    except Exception:  # IntegrityError on PostgreSQL, the trigger's abort on SQLite
        return True
    return False


def test_restrict_and_page_sessions_round_trip_keeps_every_row(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade")
    _seed_accounts_at_head(engine)
    before = _run(engine, ACCOUNT_ROWS)
    flask_cli(url, "db", "downgrade", "0002_images_table")
    assert _run(engine, ACCOUNT_ROWS) == before
    flask_cli(url, "db", "upgrade")
    assert _run(engine, ACCOUNT_ROWS) == before
    assert flask_cli(url, "db", "current").stdout.split()[0] == HEAD


def test_plain_deletes_of_guilds_and_users_with_games_are_refused(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade")
    _seed_accounts_at_head(engine)
    assert _refused(engine, "DELETE FROM guilds")
    assert _refused(engine, "DELETE FROM users")
    assert _run(engine, "SELECT count(*) FROM game_sessions") == [(1,)]
    assert _run(engine, "SELECT reference_count FROM game_images") == [(1,)]
    # Without games the guild and user go, with their memberships, tokens and sessions.
    _run(engine, "DELETE FROM game_sessions")
    _run(engine, "DELETE FROM game_images")
    _run(engine, "DELETE FROM guilds")
    assert _run(engine, "SELECT count(*) FROM guilds") == [(0,)]


def _ondelete_of_owner_keys(engine) -> dict:
    keys = sa.inspect(engine).get_foreign_keys("game_sessions")
    return {
        key["referred_table"]: (key["options"].get("ondelete") or "NO ACTION").upper()
        for key in keys
        if key["referred_table"] in ("guilds", "users")
    }


def test_downgrade_from_0004_gives_back_the_cascade(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade")
    assert _ondelete_of_owner_keys(engine) == {"guilds": "RESTRICT", "users": "RESTRICT"}
    _seed_accounts_at_head(engine)
    flask_cli(url, "db", "downgrade", "0002_images_table")
    engine.dispose()
    assert _ondelete_of_owner_keys(engine) == {"guilds": "CASCADE", "users": "CASCADE"}
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # SQLite cascades only on connections that turn foreign keys on.
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        else:
            connection.execute(text("SELECT set_config('app.maintenance', 'on', true)"))
        connection.execute(text("DELETE FROM users"))
        assert connection.execute(text("SELECT count(*) FROM game_sessions")).scalar() == 0


def test_outbox_revision_round_trip_keeps_guilds_and_says_what_it_drops(empty_database):
    url, engine = empty_database
    flask_cli(url, "db", "upgrade", "0001_initial_schema")
    games = _seed_embedded_games(engine)
    _run(engine, "UPDATE guilds SET webhook_url = 'https://discord.test/api/webhooks/1/t'")
    flask_cli(url, "db", "upgrade")  # 0002, then 0003 over a guild that has a webhook
    assert _run(engine, "SELECT webhook_url, webhook_disabled_at FROM guilds") == [
        ("https://discord.test/api/webhooks/1/t", None)
    ]
    _run(
        engine,
        "INSERT INTO discord_deliveries (game_id, guild_id, action, state, attempts, queued_at, "
        "due_at) SELECT id, guild_id, 'sync', 'pending', 0, created_at, created_at "
        "FROM game_sessions",
    )
    _run(engine, "UPDATE guilds SET webhook_disabled_at = created_at")

    result = flask_cli(url, "db", "downgrade", "0002_images_table")
    assert f"dropping discord_deliveries: {len(games)} announcement(s) not delivered" in (
        result.stdout + result.stderr
    )
    assert _run(engine, "SELECT webhook_url FROM guilds") == [
        ("https://discord.test/api/webhooks/1/t",)
    ]
    assert len(_run(engine, "SELECT id FROM game_sessions")) == len(games)
    flask_cli(url, "db", "upgrade")
    assert _run(engine, "SELECT count(*) FROM discord_deliveries") == [(0,)]
