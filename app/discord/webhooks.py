"""Games announced through their guild's Discord webhook: posted, edited and deleted.

A view marks the game (``announce_created``, ``announce_updated``, ``announce_deleted``) inside
its transaction; the marks wait on the session and are handed to the background worker only
after that transaction commits (``after_commit``). A rollback forgets them.
"""

import dataclasses
import logging
import uuid

from flask import Flask, current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, SessionTransaction

from app.discord.delivery import DeliveryWorker, RetryPolicy, WebhookClient, is_http_url
from app.discord.delivery import webhook_url as build_url
from app.discord.embeds import game_message
from app.extensions import db
from app.guild_context import set_guild_context
from app.models.game_session import GameSession
from app.services.images import describe_images, public_image_url

log = logging.getLogger(__name__)
PENDING_KEY = "gamenight.webhook_announcements"
GAMES = GameSession.__table__


@dataclasses.dataclass(frozen=True)
class Announcement:
    """One change of a game to show in its guild's channel; built inside the request."""

    app: Flask
    action: str  # "post", "edit" or "delete"
    game_id: uuid.UUID
    guild_id: uuid.UUID
    url: str
    payload: dict | None
    message_id: str | None
    policy: RetryPolicy

    @property
    def what(self) -> str:
        """How the logs name this delivery (never with the URL, which holds a secret)."""
        return f"webhook {self.action} of game {self.game_id} (guild {self.guild_id})"


def announce_created(game: GameSession) -> GameSession:
    """Post the new game (created or cloned) once the request commits; store its message id."""
    _announce(game, "post")
    return game


def announce_updated(game: GameSession, previous_guild_id: uuid.UUID | None = None) -> GameSession:
    """Edit the game's message once the request commits (post it if it has none yet).

    ``previous_guild_id`` names the guild the game was moved from, if it moved.
    """
    _announce(game, "edit")
    return game


def announce_deleted(game: GameSession) -> GameSession:
    """Delete the game's message once the request commits."""
    if game.message_id:
        _announce(game, "delete")
    return game


def _announce(game: GameSession, action: str) -> None:
    config = current_app.config
    url = game.guild.webhook_url
    if not url or not config["DISCORD_WEBHOOKS_ENABLED"]:
        return
    if not is_http_url(url):
        log.warning("guild %s has a webhook URL that is not http(s): ignored", game.guild_id)
        return
    policy = RetryPolicy(
        config["DISCORD_WEBHOOK_TIMEOUT"],
        max(config["DISCORD_WEBHOOK_ATTEMPTS"], 1),
        config["DISCORD_WEBHOOK_BACKOFF"],
    )
    payload = None if action == "delete" else message_of(game)
    announcement = Announcement(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        *(action, game.id, game.guild_id, url, payload, game.message_id, policy),
    )
    db.session().info.setdefault(PENDING_KEY, []).append(announcement)


def message_of(game: GameSession) -> dict:
    """The Discord message of the game, images by their public URLs."""
    base_url = current_app.config["BACKEND_URL"]
    known = describe_images([game.thumbnail_id, game.banner_image_id])
    urls = {
        image_id: public_image_url(base_url, image_id, info.mime_type)
        for image_id, info in known.items()
    }
    return game_message(game, urls.get(game.thumbnail_id), urls.get(game.banner_image_id))


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    for announcement in session.info.pop(PENDING_KEY, ()):
        worker.submit(announcement)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


def deliver(announcement: Announcement, client: WebhookClient) -> None:
    """Run one announcement against Discord (in the worker thread)."""
    if announcement.action == "post":
        _post(announcement, client)
    elif announcement.action == "edit":
        _edit(announcement, client)
    else:
        _delete(announcement, announcement.message_id, client)


def _post(announcement: Announcement, client: WebhookClient, replacing: str | None = None) -> None:
    url = build_url(announcement.url, wait="true")
    response = client.send(
        "POST", url, announcement.payload, announcement.policy, announcement.what
    )
    message_id = _message_id(response)
    if message_id is None:
        return
    if not store_message_id(announcement, message_id, replacing):
        # The game was deleted, or announced by another process, meanwhile: no stray message.
        log.info("%s: game gone or already announced; removing the new message", announcement.what)
        _delete(announcement, message_id, client)


def _edit(announcement: Announcement, client: WebhookClient) -> None:
    # Read now, not in the request: a post queued just before may have stored the id since.
    row = _current_message(announcement)
    if row is None:
        return
    if row.message_id is None:
        _post(announcement, client)
        return
    url = build_url(announcement.url, "messages", row.message_id)
    response = client.send(
        "PATCH", url, announcement.payload, announcement.policy, announcement.what
    )
    if response is not None and response.status_code == 404:
        # Deleted in Discord, or the game moved to another guild's webhook: post it afresh.
        _post(announcement, client, replacing=row.message_id)


def _delete(announcement: Announcement, message_id: str, client: WebhookClient) -> None:
    url = build_url(announcement.url, "messages", message_id)
    client.send("DELETE", url, None, announcement.policy, announcement.what)


def _message_id(response) -> str | None:
    if response is None or not response.ok:
        return None
    try:
        return str(response.json()["id"])
    except (ValueError, KeyError, TypeError):
        log.error("webhook post answered without a message id (HTTP %d)", response.status_code)
        return None


def _current_message(announcement: Announcement):
    """The game's row (its message_id), or None once the game is gone."""
    with announcement.app.app_context():
        set_guild_context(db.session, [announcement.guild_id])
        query = select(GAMES.c.message_id).where(GAMES.c.id == announcement.game_id)
        row = db.session.execute(query).first()
        db.session.commit()
        return row


def store_message_id(
    announcement: Announcement, message_id: str, replacing: str | None = None
) -> bool:
    """Record the posted message in place of ``replacing``, touching nothing else; False if not."""
    current = GAMES.c.message_id
    expected = current.is_(None) if replacing is None else current == replacing
    with announcement.app.app_context():
        set_guild_context(db.session, [announcement.guild_id])
        result = db.session.execute(
            update(GAMES)
            .where(GAMES.c.id == announcement.game_id, expected)
            # Naming updated_at keeps its onupdate stamp away: this is not an edit of the game.
            .values(message_id=message_id, updated_at=GAMES.c.updated_at)
        )
        db.session.commit()
        return result.rowcount == 1


worker = DeliveryWorker(deliver)
