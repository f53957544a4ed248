"""Deliver one claimed job: read what to send, call Discord outside any transaction, record it.

Each database step is a short transaction of its own; no connection is held while Discord is
called. The game's row is read under its guild's RLS context, as the app role, and the message
is built from it then: however many edits were queued, one call shows the latest state.
"""

import dataclasses
import datetime as dt
import logging
import random

from sqlalchemy import select, update

from app.discord import outbox
from app.discord.client import Answer, Outcome, RateLimits, WebhookClient, is_http_url
from app.discord.outbox import Claim
from app.discord.webhooks import message_of
from app.extensions import db
from app.guild_context import set_guild_context
from app.models.base import utcnow
from app.models.discord_delivery import DeliveryAction
from app.models.game_session import GameSession
from app.models.guild import Guild

log = logging.getLogger(__name__)
GAMES = GameSession.__table__


@dataclasses.dataclass(frozen=True)
class Policy:
    """Backoff and lifetime of jobs (seconds), from the app's configuration."""

    backoff: float
    max_backoff: float
    max_age: float

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(
            config["DISCORD_WEBHOOK_BACKOFF"],
            config["DISCORD_DELIVERY_MAX_BACKOFF"],
            config["DISCORD_DELIVERY_MAX_AGE"],
        )

    def pause(self, attempts: int) -> float:
        """Exponential backoff with jitter after the given number of failed attempts."""
        base = min(self.backoff * 2 ** max(attempts - 1, 0), self.max_backoff)
        return base * random.uniform(0.75, 1.25)


@dataclasses.dataclass(frozen=True)
class SyncTarget:
    """What a sync sends: the webhook, the message to edit (if any), the payload."""

    url: str
    message_id: str | None
    payload: dict
    covers_up_to: int


@dataclasses.dataclass
class Deliverer:
    """Delivers claims through one HTTP client and the process's rate-limit pauses."""

    client: WebhookClient
    limits: RateLimits
    policy: Policy

    def deliver(self, claim: Claim) -> None:
        """Deliver the claim and record its outcome (never raises for Discord's answers)."""
        if claim.action == DeliveryAction.DELETE.value:
            self._delete(claim)
        else:
            self._sync(claim)

    def _sync(self, claim: Claim) -> None:
        target = read_sync_target(claim)
        if target is None:
            _commit(outbox.finish, claim)  # game gone or moved, or no webhook: nothing to show
            return
        if self._paused(claim, target.url):
            return
        if target.message_id is None:
            answer = self.client.post(target.url, target.payload)
            replacing = None
        else:
            answer = self.client.edit(target.url, target.message_id, target.payload)
            replacing = target.message_id
            if answer.outcome is Outcome.UNKNOWN_MESSAGE:
                # Deleted in Discord by hand: post the game afresh.
                answer = self.client.post(target.url, target.payload)
        self.limits.record(target.url, answer)
        if answer.outcome is Outcome.OK:
            self._synced(claim, target, answer, replacing)
        else:
            self._failed(claim, target.url, answer)

    def _synced(self, claim: Claim, target: SyncTarget, answer: Answer, replacing) -> None:
        posted = answer.message_id if answer.message_id != target.message_id else None
        try:
            if posted is not None and not store_message_id(claim, posted, replacing):
                # The game was deleted or moved meanwhile: leave no stray message behind.
                outbox.enqueue_delete(claim.game_id, claim.guild_id, posted, target.url)
            outbox.finish(claim, up_to=target.covers_up_to)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise

    def _delete(self, claim: Claim) -> None:
        url = claim.webhook_url or _webhook_of(claim.guild_id)
        if not claim.message_id or url is None or not is_http_url(url) or _disabled(claim, url):
            _commit(outbox.finish, claim)
            return
        if self._paused(claim, url):
            return
        answer = self.client.delete(url, claim.message_id)
        self.limits.record(url, answer)
        if answer.outcome in (Outcome.OK, Outcome.UNKNOWN_MESSAGE):
            _commit(outbox.finish, claim)  # 10008 on a delete: it is gone already
        else:
            self._failed(claim, url, answer)

    def _paused(self, claim: Claim, url: str) -> bool:
        wait = self.limits.wait_for(url)
        if wait <= 0:
            return False
        _commit(outbox.release, claim, utcnow() + dt.timedelta(seconds=wait), None, False)
        return True

    def _failed(self, claim: Claim, url: str, answer: Answer) -> None:
        what = f"webhook {claim.action} of game {claim.game_id} (guild {claim.guild_id})"
        now = utcnow()
        if answer.outcome is Outcome.WEBHOOK_GONE:
            log.error("%s: %s, the webhook is gone; disabling it", what, answer.detail)
            _commit(_disable_and_bury, claim, url, f"{answer.detail}: webhook disabled")
        elif answer.outcome in (Outcome.REFUSED, Outcome.UNKNOWN_MESSAGE):
            log.error("%s refused by Discord (%s); the job is dead", what, answer.detail)
            _commit(outbox.bury, claim, answer.detail)
        elif now - _aware(claim.queued_at) >= dt.timedelta(seconds=self.policy.max_age):
            log.error("%s failed (%s) past DISCORD_DELIVERY_MAX_AGE; dead", what, answer.detail)
            _commit(outbox.bury, claim, f"{answer.detail}; too old to retry")
        else:
            asked = answer.retry_after if answer.outcome is Outcome.RATE_LIMITED else None
            wait = asked if asked is not None else self.policy.pause(claim.attempts + 1)
            log.warning("%s failed (%s); retrying in %.2f s", what, answer.detail, wait)
            due = now + dt.timedelta(seconds=wait)
            _commit(outbox.release, claim, due, answer.detail, True)


def read_sync_target(claim: Claim) -> SyncTarget | None:
    """The webhook and message of the claim's game in the claim's guild, or None (read only)."""
    try:
        set_guild_context(db.session, [claim.guild_id])
        url = _webhook_of(claim.guild_id)
        if url is None or not is_http_url(url):
            return None
        covers_up_to = outbox.newest_sync_id(claim)
        game = db.session.scalar(
            select(GameSession).where(
                GameSession.id == claim.game_id, GameSession.guild_id == claim.guild_id
            )
        )
        if game is None:
            return None
        return SyncTarget(url, game.message_id, message_of(game), covers_up_to)
    finally:
        db.session.rollback()


def store_message_id(claim: Claim, message_id: str, replacing: str | None) -> bool:
    """Record the posted message in place of ``replacing``, touching nothing else; False if not."""
    set_guild_context(db.session, [claim.guild_id])
    current = GAMES.c.message_id
    expected = current.is_(None) if replacing is None else current == replacing
    result = db.session.execute(
        update(GAMES)
        .where(GAMES.c.id == claim.game_id, GAMES.c.guild_id == claim.guild_id, expected)
        # Naming updated_at keeps its onupdate stamp away: this is not an edit of the game.
        .values(message_id=message_id, updated_at=GAMES.c.updated_at)
    )
    return result.rowcount == 1


def _webhook_of(guild_id) -> str | None:
    row = db.session.execute(
        select(Guild.webhook_url, Guild.webhook_disabled_at).where(Guild.id == guild_id)
    ).first()
    if row is None or row.webhook_disabled_at is not None:
        return None
    return row.webhook_url


def _disabled(claim: Claim, url: str) -> bool:
    """Whether the guild disabled this very webhook (a delete carries its own URL)."""
    try:
        row = db.session.execute(
            select(Guild.webhook_url, Guild.webhook_disabled_at).where(Guild.id == claim.guild_id)
        ).first()
        return row is not None and row.webhook_disabled_at is not None and row.webhook_url == url
    finally:
        db.session.rollback()


def _disable_and_bury(claim: Claim, url: str, error: str) -> None:
    outbox.disable_webhook(claim.guild_id, url)
    outbox.bury(claim, error)


def _commit(step, *args) -> None:
    try:
        step(*args)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
