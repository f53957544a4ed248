"""Game sessions: create, read, update, delete and clone, with the references to their images.

Every function flushes and never commits; the request boundary commits once. Membership is
checked here as well as by row-level security, so SQLite answers exactly as PostgreSQL does.
Locks are always taken in one order: the game row first, then image rows by content hash.
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select

from app.extensions import db
from app.models.game_session import IMAGE_SLOTS, GameSession, GameStatus
from app.models.guild import Guild, GuildMember
from app.models.user import User
from app.services import images
from app.services.errors import Forbidden, InvalidInput, NotFound

EDITABLE = (
    "title",
    "description",
    "where",
    "signup_instructions",
    "scheduled_at",
    "max_players",
    "expected_duration_minutes",
    "status",
)
REQUIRED = ("title", "scheduled_at", "status")


class Upload(Protocol):
    """A sanitised upload (app.services.uploads.SanitisedImage)."""

    data: bytes
    mime_type: str


def _membership_filter(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Games of the guilds the user belongs to (RLS says the same on PostgreSQL)."""
    member_guilds = select(GuildMember.guild_id).where(GuildMember.user_id == user_id)
    return GameSession.guild_id.in_(member_guilds.scalar_subquery())


def _visible_games(user_id: uuid.UUID):
    return select(GameSession).where(_membership_filter(user_id))


def get_game(user_id: uuid.UUID, game_id: uuid.UUID) -> GameSession:
    """The game if the user may see it; NotFound otherwise (existence is not revealed)."""
    game = db.session.scalar(_visible_games(user_id).where(GameSession.id == game_id))
    if game is None:
        raise NotFound("Game not found")
    return game


def _locked_game(user_id: uuid.UUID, game_id: uuid.UUID, *, share: bool = False) -> GameSession:
    """The visible game, its row locked (FOR UPDATE, or FOR SHARE) before any image row."""
    query = (
        _visible_games(user_id)
        .where(GameSession.id == game_id)
        .with_for_update(of=GameSession, read=share)
        .execution_options(populate_existing=True)
    )
    game = db.session.scalar(query)
    if game is None:
        raise NotFound("Game not found")
    return game


def hosted_game(user_id: uuid.UUID, game_id: uuid.UUID) -> GameSession:
    """The game, locked, if the user hosts it; Forbidden or NotFound otherwise."""
    game = _locked_game(user_id, game_id)
    if game.host_id != user_id:
        raise Forbidden("Only the host of this game may change or delete it")
    return game


def list_games(
    user_id: uuid.UUID,
    discord_guild_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[GameSession], int]:
    """One page of the user's games, soonest first, and how many match in all."""
    conditions = [_membership_filter(user_id)]
    if discord_guild_id is not None:
        conditions.append(GameSession.guild.has(Guild.discord_guild_id == discord_guild_id))
    if status is not None:
        conditions.append(GameSession.status == status)
    total = db.session.scalar(select(func.count(GameSession.id)).where(*conditions))
    page = (
        select(GameSession)
        .where(*conditions)
        .order_by(GameSession.scheduled_at, GameSession.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.session.scalars(page)), total


def _member_guild(user_id: uuid.UUID, discord_guild_id: str) -> Guild:
    guild = db.session.scalar(
        select(Guild)
        .join(GuildMember, GuildMember.guild_id == Guild.id)
        .where(Guild.discord_guild_id == discord_guild_id, GuildMember.user_id == user_id)
    )
    if guild is None:
        message = "You are not a member of this guild"
        raise Forbidden(message, {"guild_id": [message]})
    return guild


def as_utc(moment: dt.datetime) -> dt.datetime:
    """The same instant in UTC; a naive time is refused (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        message = "Give a time zone offset or Z"
        raise InvalidInput(message, {"scheduled_at": [message]})
    return moment.astimezone(dt.UTC)


def _apply_fields(game: GameSession, fields: Mapping[str, Any]) -> None:
    missing = [name for name in REQUIRED if name in fields and fields[name] is None]
    if missing:
        raise InvalidInput("Required fields cannot be empty", {n: ["Required"] for n in missing})
    for name in EDITABLE:
        if name in fields:
            setattr(game, name, fields[name])
    if fields.get("scheduled_at") is not None:
        game.scheduled_at = as_utc(fields["scheduled_at"])
    if "status" in fields and fields["status"] not in GameStatus.__members__:
        raise InvalidInput("Unknown status", {"status": ["Unknown status"]})


def create_game(
    user_id: uuid.UUID, fields: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None
) -> GameSession:
    """Schedule a game in one of the user's guilds, the user hosting; store its uploads."""
    guild = _member_guild(user_id, fields["guild_id"])
    game = GameSession(guild=guild, host=db.session.get(User, user_id))
    _apply_fields(game, fields)
    _change_images(game, uploads or {}, removals=())
    db.session.add(game)
    db.session.flush()
    return game


def update_game(
    user_id: uuid.UUID,
    game_id: uuid.UUID,
    fields: Mapping[str, Any],
    uploads: Mapping[str, Upload] | None = None,
    removals: tuple[str, ...] = (),
) -> GameSession:
    """Change the host's game: fields, new images for slots, removed slots."""
    uploads = uploads or {}
    _refuse_upload_and_removal(uploads, removals)
    game = hosted_game(user_id, game_id)
    if fields.get("guild_id") is not None:
        game.guild = _member_guild(user_id, fields["guild_id"])
    _apply_fields(game, fields)
    _change_images(game, uploads, removals)
    db.session.flush()
    return game


def delete_game(user_id: uuid.UUID, game_id: uuid.UUID) -> GameSession:
    """Delete the host's game and release both of its images; return the deleted game."""
    game = hosted_game(user_id, game_id)
    _delete_releasing([game])
    return game


def delete_games(
    *, guild_id: uuid.UUID | None = None, host_id: uuid.UUID | None = None
) -> list[GameSession]:
    """Delete every game of a guild, or hosted by a user (an operator's removal), as
    ``delete_game`` does: images released. The session must see every guild's games."""
    if (guild_id is None) == (host_id is None):
        raise ValueError("give exactly one of guild_id and host_id")
    owner = GameSession.guild_id == guild_id if guild_id else GameSession.host_id == host_id
    query = (
        select(GameSession)
        .where(owner)
        .order_by(GameSession.id)
        .with_for_update(of=GameSession)
        .execution_options(populate_existing=True)
    )
    found = list(db.session.scalars(query))
    _delete_releasing(found)
    return found


def _delete_releasing(doomed: list[GameSession]) -> None:
    """Delete the games (rows locked), then release their images in one content-hash order."""
    held = [image_id for game in doomed for image_id in (game.thumbnail_id, game.banner_image_id)]
    for game in doomed:
        db.session.delete(game)
    db.session.flush()
    _run_image_operations([("release", image_id) for image_id in held if image_id])


def clone_game(
    user_id: uuid.UUID, game_id: uuid.UUID, scheduled_at: dt.datetime | None = None
) -> GameSession:
    """Copy a visible game, hosted by the user and scheduled again; the copy shares the images."""
    source = _locked_game(user_id, game_id, share=True)
    copy = GameSession(
        guild_id=source.guild_id,
        host=db.session.get(User, user_id),
        **{name: getattr(source, name) for name in EDITABLE},
    )
    copy.status = GameStatus.SCHEDULED.value
    if scheduled_at is not None:
        copy.scheduled_at = as_utc(scheduled_at)
    shared = [source.thumbnail_id, source.banner_image_id]
    _run_image_operations([("acquire", image_id) for image_id in shared if image_id])
    copy.thumbnail_id, copy.banner_image_id = shared
    db.session.add(copy)
    db.session.flush()
    return copy


def _refuse_upload_and_removal(uploads: Mapping[str, Upload], removals) -> None:
    both = sorted(set(uploads) & set(removals))
    if both:
        errors = {slot: [f"Upload a new {slot} or remove it, not both"] for slot in both}
        raise InvalidInput("An image cannot be uploaded and removed at once", errors)


def _change_images(game: GameSession, uploads: Mapping[str, Upload], removals) -> None:
    """New uploads are stored before old images are released, so the same bytes keep their id."""
    operations: list[tuple] = []
    for slot, column in IMAGE_SLOTS.items():
        if slot not in uploads and slot not in removals:
            continue
        if slot in uploads:
            operations.append(("store", uploads[slot], slot))
        if getattr(game, column) is not None:
            operations.append(("release", getattr(game, column)))
            setattr(game, column, None)
    for slot, image_id in _run_image_operations(operations).items():
        setattr(game, IMAGE_SLOTS[slot], image_id)


def _run_image_operations(operations: list[tuple]) -> dict[str, uuid.UUID]:
    """Apply store/acquire/release in content-hash order (stores first); return stored ids."""
    known = images.describe_images(op[1] for op in operations if op[0] != "store")

    def sort_key(op: tuple) -> tuple[str, int]:
        if op[0] == "store":
            return images.content_hash_of(op[1].data), 0
        info = known.get(op[1])
        return (info.content_hash if info else ""), 0 if op[0] == "acquire" else 1

    stored: dict[str, uuid.UUID] = {}
    for op in sorted(operations, key=sort_key):
        if op[0] == "store":
            stored[op[2]] = images.store_image(op[1].data, op[1].mime_type)
        elif op[0] == "acquire":
            images.acquire_image(op[1])
        else:
            images.release_image(op[1])
    return stored


def replace_image_in_games(old_image_id: uuid.UUID, upload: Upload | None) -> list[GameSession]:
    """Point every slot holding the old image at the upload's bytes, or at nothing; the games.

    The games are locked first (by id), then the images by content hash, as every other
    change does: each slot stores the new bytes before it releases the old row, which goes
    with its last slot. The caller must see every guild's games (maintenance context).
    """
    held = db.session.scalars(
        select(GameSession)
        .where(
            (GameSession.thumbnail_id == old_image_id)
            | (GameSession.banner_image_id == old_image_id)
        )
        .order_by(GameSession.id)
        .with_for_update()
    ).all()
    operations: list[tuple] = []
    for game in held:
        for column in IMAGE_SLOTS.values():
            if getattr(game, column) != old_image_id:
                continue
            if upload is not None:
                operations.append(("store", upload, (game.id, column)))
            operations.append(("release", old_image_id))
            setattr(game, column, None)
    by_id = {game.id: game for game in held}
    for (game_id, column), image_id in _run_image_operations(operations).items():
        setattr(by_id[game_id], column, image_id)
    db.session.flush()
    return list(held)
