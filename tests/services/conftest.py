"""Fixtures and helpers of the image service tests: a host, games that reference images, and
an independent check of the invariant of SPEC §2 in plain SQL."""

import datetime as dt
import uuid
from typing import NamedTuple

import pytest
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import Connection

from app.extensions import db
from app.guild_context import GUILD_IDS_KEY, set_guild_context
from app.models.game_session import GameSession

# Every image row and every dangling slot that breaks the invariant, in one statement (one
# snapshot): a row's count must equal the slots pointing at it, and never be zero.
INVARIANT_BREAKS = text("""
    SELECT 'count' AS problem, id, reference_count AS stored, slots FROM (
        SELECT i.id, i.reference_count,
               (SELECT count(*) FROM game_sessions g WHERE g.thumbnail_id = i.id)
             + (SELECT count(*) FROM game_sessions g WHERE g.banner_image_id = i.id) AS slots
        FROM game_images i) counted
    WHERE reference_count <> slots OR reference_count = 0
    UNION ALL
    SELECT 'dangling', g.id, NULL, NULL FROM game_sessions g
    WHERE (g.thumbnail_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM game_images i WHERE i.id = g.thumbnail_id))
       OR (g.banner_image_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM game_images i WHERE i.id = g.banner_image_id))
""")


class Host(NamedTuple):
    guild_id: uuid.UUID
    user_id: uuid.UUID


def as_uuid(value) -> uuid.UUID:
    """A UUID from either backend's column format."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


@pytest.fixture
def host(database) -> Host:
    """A user who may schedule games in one guild."""
    database.create_token("host-1", "guild-1")
    guild_id = database.scalar("SELECT id FROM guilds WHERE discord_guild_id = 'guild-1'")
    user_id = database.scalar("SELECT id FROM users WHERE discord_user_id = 'host-1'")
    return Host(as_uuid(guild_id), as_uuid(user_id))


def add_game(host: Host, thumbnail_id=None, banner_image_id=None) -> uuid.UUID:
    """Insert a game referencing these images through db.session (not committed)."""
    _enter_guild(host)
    game_id = uuid.uuid4()
    db.session.execute(
        insert(GameSession).values(
            id=game_id,
            guild_id=host.guild_id,
            host_id=host.user_id,
            title="Game night",
            scheduled_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            status="SCHEDULED",
            thumbnail_id=thumbnail_id,
            banner_image_id=banner_image_id,
        )
    )
    return game_id


def remove_game(host: Host, game_id: uuid.UUID) -> list[uuid.UUID | None]:
    """Delete a game through db.session (not committed); return its two image ids."""
    _enter_guild(host)
    row = db.session.execute(
        delete(GameSession)
        .where(GameSession.id == game_id)
        .returning(GameSession.thumbnail_id, GameSession.banner_image_id)
    ).one()
    return list(row)


def _enter_guild(host: Host) -> None:
    if db.session.info.get(GUILD_IDS_KEY) != (host.guild_id,):
        set_guild_context(db.session(), [host.guild_id])


def invariant_breaks(connection: Connection) -> list:
    """The rows breaking the invariant, seen by the owner (maintenance mode on PostgreSQL)."""
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT set_config('app.maintenance', 'on', true)"))
        return list(connection.execute(INVARIANT_BREAKS))
