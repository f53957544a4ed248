"""Games announced through their guild's Discord webhook: posted, edited and deleted.

The operations layer calls ``announce_created``, ``announce_updated`` and ``announce_deleted``
inside the transaction of the change, after the game is flushed: each writes its job to the
outbox (app/discord/outbox.py) in that same transaction, so the change and its announcement
commit together or not at all. Delivery happens later, in a worker (app/discord/worker.py),
which builds the message from the game's row as it is then (``message_of``).
"""

import logging
import uuid

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from app.discord import outbox, worker
from app.discord.client import is_http_url
from app.discord.embeds import game_message
from app.extensions import db
from app.models.game_session import GameSession
from app.models.guild import Guild
from app.services.images import describe_images, public_image_url

log = logging.getLogger(__name__)
QUEUED_KEY = "gamenight.discord_queued"
MOVES_KEY = "gamenight.discord_moves"


def announce_created(game: GameSession) -> GameSession:
    """Queue the post of a new game (created or cloned); its message id is stored on delivery."""
    if announced_through(game.guild_id) is not None:
        outbox.enqueue_sync(game.id, game.guild_id)
        _queued()
    return game


def announce_updated(game: GameSession, previous_guild_id: uuid.UUID | None = None) -> GameSession:
    """Queue the edit of the game's message; a game moved to another guild leaves the old one."""
    previous = previous_guild_id or _moved_from(game)
    if previous is not None and previous != game.guild_id and game.message_id:
        old_guild = db.session.get(Guild, previous)
        if old_guild is not None and old_guild.webhook_url:
            outbox.enqueue_delete(game.id, previous, game.message_id, old_guild.webhook_url)
            _queued()
        # The message belongs to the old guild's webhook: the new guild's gets a new one.
        game.message_id = None
        db.session.flush()
    if announced_through(game.guild_id) is not None:
        outbox.enqueue_sync(game.id, game.guild_id)
        _queued()
    return game


def announce_deleted(game: GameSession) -> GameSession:
    """Queue the deletion of the (already deleted) game's message."""
    guild = db.session.get(Guild, game.guild_id)
    if game.message_id and guild is not None and guild.webhook_url:
        outbox.enqueue_delete(game.id, game.guild_id, game.message_id, guild.webhook_url)
        _queued()
    # No message id yet: a post still queued finds the game gone and sends nothing, and a post
    # in flight deletes the message it made when it cannot store its id.
    return game


def announced_through(guild_id: uuid.UUID) -> str | None:
    """The guild's webhook URL when announcements go through it now; None otherwise."""
    if not current_app.config["DISCORD_WEBHOOKS_ENABLED"]:
        return None
    guild = db.session.get(Guild, guild_id)
    if guild is None or not guild.webhook_url or guild.webhook_disabled_at is not None:
        return None
    if not is_http_url(guild.webhook_url):
        log.warning("guild %s has a webhook URL that is not http(s): ignored", guild_id)
        return None
    return guild.webhook_url


def message_of(game: GameSession) -> dict:
    """The Discord message of the game, images by their public URLs."""
    base_url = current_app.config["BACKEND_URL"]
    known = describe_images([game.thumbnail_id, game.banner_image_id])
    urls = {
        image_id: public_image_url(base_url, image_id, info.mime_type)
        for image_id, info in known.items()
    }
    return game_message(game, urls.get(game.thumbnail_id), urls.get(game.banner_image_id))


def _queued() -> None:
    db.session().info[QUEUED_KEY] = True


def _moved_from(game: GameSession) -> uuid.UUID | None:
    return db.session().info.get(MOVES_KEY, {}).get(game.id)


@event.listens_for(Session, "after_flush")
def _note_moves(session: Session, flush_context) -> None:
    # History is still there in after_flush: remember the guild a game leaves.
    for obj in session.dirty:
        if not isinstance(obj, GameSession):
            continue
        state = inspect(obj)
        old_guilds = [guild.id for guild in state.attrs.guild.history.deleted if guild is not None]
        old_ids = old_guilds or list(state.attrs.guild_id.history.deleted)
        if old_ids and old_ids[0] is not None and old_ids[0] != obj.guild_id:
            session.info.setdefault(MOVES_KEY, {}).setdefault(obj.id, old_ids[0])


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    session.info.pop(MOVES_KEY, None)
    if session.info.pop(QUEUED_KEY, False):
        worker.wake_local()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(QUEUED_KEY, None)
        session.info.pop(MOVES_KEY, None)
