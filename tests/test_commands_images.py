"""``flask images stats|verify|repair`` (SPEC §9), run for real as the schema owner."""

import datetime as dt
import hashlib
import uuid

import psycopg
import pytest

from tests.cli import flask_cli

SCHEDULED_AT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def owner_url(database) -> str:
    return database.pg.owner_url if database.pg else database.app_url


def column(database, value: uuid.UUID):
    """A UUID in the backend's column format (native, or 32 hex characters on SQLite)."""
    return value if database.is_postgresql else value.hex


def add_image(database, stored_count: int, size: int = 100) -> uuid.UUID:
    """An image row whose reference_count is whatever the test says, right or wrong."""
    image_id, data = uuid.uuid4(), uuid.uuid4().bytes * (size // 16)
    database.execute(
        "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type, "
        "reference_count) VALUES (:id, :hash, :data, :size, 'image/png', :count)",
        id=column(database, image_id),
        hash=hashlib.sha256(data).hexdigest(),
        data=data,
        size=len(data),
        count=stored_count,
    )
    return image_id


def add_game(database, thumbnail_id=None, banner_image_id=None) -> uuid.UUID:
    """A game row in the guild of host-1, with these image slots, inserted by the owner."""
    database.create_token("host-1", "guild-1")
    game_id = uuid.uuid4()
    database.execute(
        "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status, "
        "thumbnail_id, banner_image_id) VALUES (:id, "
        "(SELECT id FROM guilds WHERE discord_guild_id = 'guild-1'), "
        "(SELECT id FROM users WHERE discord_user_id = 'host-1'), 'Game', :at, 'SCHEDULED', "
        ":thumbnail, :banner)",
        id=column(database, game_id),
        at=SCHEDULED_AT,
        thumbnail=thumbnail_id and column(database, thumbnail_id),
        banner=banner_image_id and column(database, banner_image_id),
    )
    return game_id


def point_at_missing_image(database, game_id: uuid.UUID) -> uuid.UUID:
    """Make a slot dangle, as a restore without constraints could (FKs bypassed)."""
    missing = uuid.uuid4()
    if not database.is_postgresql:  # SQLite does not enforce foreign keys here
        database.execute(
            "UPDATE game_sessions SET banner_image_id = :m WHERE id = :g",
            m=missing.hex,
            g=game_id.hex,
        )
        return missing
    from tests.conftest import ADMIN_URL

    url = psycopg.conninfo.make_conninfo(ADMIN_URL.replace("+psycopg", ""), dbname=database.pg.name)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")  # superuser: FKs off
        admin.execute(
            "UPDATE game_sessions SET banner_image_id = %s WHERE id = %s", (missing, game_id)
        )
    return missing


def images(database, command: str):
    return flask_cli(owner_url(database), "images", command, check=False)


@pytest.mark.sqlite_too
def test_verify_reports_drift_repair_fixes_it_and_verify_then_passes(database):
    shared = add_image(database, stored_count=2)
    drifted = add_image(database, stored_count=5)
    zero = add_image(database, stored_count=0)
    orphan = add_image(database, stored_count=1)
    add_game(database, thumbnail_id=shared, banner_image_id=drifted)
    add_game(database, thumbnail_id=zero, banner_image_id=shared)
    pointing = add_game(database)
    dangling = point_at_missing_image(database, pointing)

    report = images(database, "verify")
    assert report.returncode == 1, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0] == "FAILED: 4 images, 5 image slots in game_sessions; 4 problem(s):"
    assert sorted(lines[1:5]) == sorted(
        [
            f"  count drift  image {drifted}: reference_count 5, referenced by 1 slot(s)",
            f"  zero count   image {zero}: reference_count 0, referenced by 1 slot(s)",
            f"  orphan       image {orphan}: reference_count 1, referenced by 0 slot(s)",
            f"  dangling FK  game {pointing}: banner_image_id -> {dangling}, which does not exist",
        ]
    )
    assert shared.hex not in report.stdout.replace("-", "")

    repaired = images(database, "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.strip() == (
        "Repaired: 2 count(s) corrected, 1 orphan(s) deleted, 1 dangling slot(s) cleared"
    )
    counts = {
        uuid.UUID(str(row.id)): row.reference_count
        for row in database.rows("SELECT id, reference_count FROM game_images")
    }
    assert counts == {shared: 2, drifted: 1, zero: 1}

    verified = images(database, "verify")
    assert (verified.returncode, verified.stdout.strip()) == (
        0,
        "OK: 3 images, 4 image slots in game_sessions; every reference count matches",
    )
    again = images(database, "repair")
    assert again.stdout.strip() == "Nothing to repair: every reference count matches"


@pytest.mark.sqlite_too
def test_stats_counts_rows_bytes_references_bytes_saved_and_rows_not_yet_sanitised(database):
    shared = add_image(database, stored_count=3, size=1600)
    single = add_image(database, stored_count=1, size=800)
    add_game(database, thumbnail_id=shared, banner_image_id=shared)
    add_game(database, thumbnail_id=shared, banner_image_id=single)
    database.execute(
        "UPDATE game_images SET sanitised = false WHERE id = :id", id=column(database, single)
    )

    stats = images(database, "stats")
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines() == [
        "images:       2",
        "bytes stored: 2400 (0.0 MiB)",
        "references:   4",
        "bytes saved:  3200 (0.0 MiB) by deduplication",
        "unsanitised:  1 (not served until `flask images sanitise`)",
    ]


def test_verify_refuses_to_count_as_a_role_that_row_level_security_limits(database):
    image = add_image(database, stored_count=1)
    add_game(database, thumbnail_id=image)
    result = flask_cli(database.pg.app_url, "images", "verify", check=False)
    assert result.returncode == 2
    assert "not the owner of game_sessions" in result.stderr
    assert "FAILED" not in result.stdout  # no false drift reported
