"""Every change of a game goes through here, whoever asks: the API, the pages or the CLI.

One operation is one unit of work: the uploads are sanitised before the database is touched
(no transaction is open while Pillow decodes), the games service changes the rows, the
announcement to Discord is recorded in the same transaction, and one commit ends it. What
an operation returns is what the caller presents. Callers parse their input and present the
result; they never commit, announce or sanitise themselves.
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, select

from app.discord.webhooks import announce_created, announce_deleted, announce_updated
from app.extensions import db
from app.models.discord_delivery import DeliveryAction, DiscordDelivery
from app.models.game_session import IMAGE_SLOTS
from app.presenters import present_game
from app.services import accounts, games, images
from app.services.errors import ServiceError
from app.services.uploads import SanitisedImage, sanitise_upload
from app.transactions import run_in_transaction

Fields = Mapping[str, Any]


def create_game(user_id: uuid.UUID, fields: Fields, files: Mapping[str, bytes]) -> dict:
    """Schedule a game hosted by the user, with its uploads; the new game as presented."""
    uploads = sanitise_files(files)
    return run_in_transaction(
        lambda: present_game(announce_created(games.create_game(user_id, fields, uploads)))
    )


def update_game(
    user_id: uuid.UUID,
    game_id: uuid.UUID,
    fields: Fields,
    files: Mapping[str, bytes],
    removals: tuple[str, ...] = (),
) -> dict:
    """Change the host's game: fields, replaced and removed images; the game as presented."""
    uploads = sanitise_files(files)
    # A move to another guild is seen by the announcement itself (the flushed guild_id change).
    return run_in_transaction(
        lambda: present_game(
            announce_updated(games.update_game(user_id, game_id, fields, uploads, removals))
        )
    )


def delete_game(user_id: uuid.UUID, game_id: uuid.UUID) -> None:
    """Delete the host's game: its images are released and its message deleted."""
    run_in_transaction(lambda: announce_deleted(games.delete_game(user_id, game_id)))


def clone_game(
    user_id: uuid.UUID, game_id: uuid.UUID, scheduled_at: dt.datetime | None = None
) -> dict:
    """Copy a visible game, hosted by the user, sharing its images; the copy as presented."""
    return run_in_transaction(
        lambda: present_game(announce_created(games.clone_game(user_id, game_id, scheduled_at)))
    )


@dataclass(frozen=True)
class RemovedGame:
    """A game an operator's deletion removed, as the command reports it."""

    id: uuid.UUID
    title: str
    discord_guild_id: str
    discord_host_id: str


@dataclass(frozen=True)
class Removal:
    """What an operator's deletion removed: the games, their image references, account rows."""

    games: list[RemovedGame]
    images_released: int
    messages_queued: int
    rows: accounts.AccountRows


def delete_guild(discord_guild_id: str) -> Removal:
    """Delete a guild with all its games, each as the API deletes one, and its memberships."""

    def work() -> Removal:
        guild = accounts.find_guild(discord_guild_id)
        removed = _delete_announcing(games.delete_games(guild_id=guild.id))
        return Removal(*removed, accounts.delete_guild(guild))

    return run_in_transaction(work)


def delete_user(discord_user_id: str) -> Removal:
    """Delete a user with the games they host (each as the API deletes one), their tokens,
    page sessions and memberships."""

    def work() -> Removal:
        user = accounts.find_user(discord_user_id)
        removed = _delete_announcing(games.delete_games(host_id=user.id))
        return Removal(*removed, accounts.delete_user(user))

    return run_in_transaction(work)


def _delete_announcing(deleted: list) -> tuple[list[RemovedGame], int, int]:
    """Announce each deleted game's removal: (the games, image references released, Discord
    message deletions queued in the outbox)."""
    removed = [
        RemovedGame(game.id, game.title, game.guild.discord_guild_id, game.host.discord_user_id)
        for game in map(announce_deleted, deleted)
    ]
    slots = [image for game in deleted for image in (game.thumbnail_id, game.banner_image_id)]
    queued = db.session.scalar(
        select(func.count(DiscordDelivery.id)).where(
            DiscordDelivery.game_id.in_([game.id for game in removed]),
            DiscordDelivery.action == DeliveryAction.DELETE.value,
        )
    )
    return removed, sum(image is not None for image in slots), queued


class Replacement(NamedTuple):
    """What replace_image did: ``cleaned``, ``already clean``, ``removed`` or ``unused``."""

    outcome: str
    game_ids: list[uuid.UUID]


def replace_image(old_image_id: uuid.UUID, clean: SanitisedImage | None) -> Replacement:
    """Repoint every game holding the old image at its clean bytes (None: remove it).

    One commit: the games change, the old row is released, each game's message is edited.
    Bytes identical to the old row's are already clean: the row is only marked so, and no
    game or message changes, since no URL does.
    """

    def work() -> Replacement:
        if clean is not None and images.is_stored_as(old_image_id, clean.data):
            images.mark_sanitised(old_image_id)
            return Replacement("already clean", [])
        changed = games.replace_image_in_games(old_image_id, clean)
        for game in changed:
            announce_updated(game)
        if not changed:
            return Replacement("unused", [])
        return Replacement("cleaned" if clean else "removed", [game.id for game in changed])

    return run_in_transaction(work)


def sanitise_files(files: Mapping[str, bytes]) -> dict[str, SanitisedImage]:
    """Each slot's upload sanitised; a refusal names the slot it came in."""
    uploads = {}
    for slot in IMAGE_SLOTS:
        if slot not in files:
            continue
        try:
            uploads[slot] = sanitise_upload(files[slot])
        except ServiceError as e:
            raise type(e)(e.message, {slot: [e.message]}) from e
    return uploads
