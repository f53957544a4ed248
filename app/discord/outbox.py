"""The discord_deliveries outbox: queue in the change's transaction, claim, record outcomes.

Claiming takes the oldest due job of each game only (the changes of one game run in order)
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers and hosts share the
queue without taking one job twice; SQLite runs the claim as one UPDATE, one writer at a time.
A claim is a lease: a job whose holder died is claimed again once ``lease_until`` passes.
Every function but ``enqueue_*`` commits: they run in the delivery worker, never in a request.
"""

import dataclasses
import datetime as dt
import secrets
import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models.base import utcnow
from app.models.discord_delivery import DeliveryAction, DeliveryState, DiscordDelivery
from app.models.guild import Guild

ERROR_LIMIT = 500
PENDING = DeliveryState.PENDING.value
DEAD = DeliveryState.DEAD.value
SYNC = DeliveryAction.SYNC.value


@dataclasses.dataclass(frozen=True)
class Claim:
    """A leased job, as the worker delivers it."""

    id: int
    game_id: uuid.UUID
    guild_id: uuid.UUID
    action: str
    message_id: str | None
    webhook_url: str | None
    attempts: int
    queued_at: dt.datetime
    lease_token: str


def enqueue_sync(game_id: uuid.UUID, guild_id: uuid.UUID) -> None:
    """Queue "show the game as its row is then" in the guild's channel (flushes only)."""
    db.session.add(DiscordDelivery(game_id=game_id, guild_id=guild_id, action=SYNC))
    db.session.flush()


def enqueue_delete(game_id, guild_id, message_id: str, webhook_url: str | None) -> None:
    """Queue the deletion of one message posted through ``webhook_url`` (flushes only)."""
    job = DiscordDelivery(
        game_id=game_id,
        guild_id=guild_id,
        action=DeliveryAction.DELETE.value,
        message_id=message_id,
        webhook_url=webhook_url,
    )
    db.session.add(job)
    db.session.flush()


def _claimable(now: dt.datetime):
    """Due pending jobs, unleased or with an expired lease, that are the oldest of their game."""
    jobs, earlier = DiscordDelivery.__table__, aliased(DiscordDelivery.__table__)
    older_pending = (
        select(earlier.c.id)
        .where(
            earlier.c.game_id == jobs.c.game_id,
            earlier.c.state == PENDING,
            earlier.c.id < jobs.c.id,
        )
        .exists()
    )
    unleased = jobs.c.lease_until.is_(None) | (jobs.c.lease_until < now)
    return select(jobs.c.id).where(
        jobs.c.state == PENDING, jobs.c.due_at <= now, unleased, ~older_pending
    )


def has_due_work() -> bool:
    """Whether anything is claimable now (a read: an idle poll takes no write lock)."""
    found = db.session.scalar(_claimable(utcnow()).limit(1)) is not None
    db.session.rollback()
    return found


def claim_next(lease_seconds: float) -> Claim | None:
    """Lease the oldest claimable job for ``lease_seconds``; None when nothing is due."""
    now, token = utcnow(), secrets.token_hex(16)
    jobs = DiscordDelivery.__table__
    chosen = (
        _claimable(now).order_by(jobs.c.id).limit(1).with_for_update(skip_locked=True, of=jobs)
    ).scalar_subquery()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    statement = (
        update(jobs)
        .where(jobs.c.id == chosen)
        .values(lease_until=lease_until, lease_token=token)
        .returning(*_claim_columns(jobs))
    )
    row = db.session.execute(statement).first()
    db.session.commit()
    return None if row is None else Claim(*row, lease_token=token)


def _claim_columns(jobs):
    return (
        jobs.c.id,
        jobs.c.game_id,
        jobs.c.guild_id,
        jobs.c.action,
        jobs.c.message_id,
        jobs.c.webhook_url,
        jobs.c.attempts,
        jobs.c.queued_at,
    )


def newest_sync_id(claim: Claim) -> int:
    """The newest pending sync of the claim's game and guild (read before the game's row)."""
    jobs = DiscordDelivery.__table__
    newest = db.session.scalar(
        select(func.max(jobs.c.id)).where(
            jobs.c.game_id == claim.game_id,
            jobs.c.guild_id == claim.guild_id,
            jobs.c.action == SYNC,
            jobs.c.state == PENDING,
        )
    )
    return max(newest or claim.id, claim.id)


def finish(claim: Claim, up_to: int | None = None) -> None:
    """Remove the delivered job; with ``up_to``, the later syncs of the game it covered too."""
    jobs = DiscordDelivery.__table__
    condition = jobs.c.id == claim.id
    if up_to is not None:
        # Those syncs committed before the game's row was read: the message shows them.
        condition |= (
            (jobs.c.game_id == claim.game_id)
            & (jobs.c.guild_id == claim.guild_id)
            & (jobs.c.action == SYNC)
            & (jobs.c.state == PENDING)
            & (jobs.c.id <= up_to)
        )
    db.session.execute(delete(jobs).where(condition))


def _held(claim: Claim):
    jobs = DiscordDelivery.__table__
    return update(jobs).where(jobs.c.id == claim.id, jobs.c.lease_token == claim.lease_token)


def release(claim: Claim, due_at: dt.datetime, error: str | None, attempted: bool) -> None:
    """Give the job back, due again at ``due_at``."""
    values: dict = {"due_at": due_at, "lease_until": None, "lease_token": None}
    if attempted:
        values |= {"attempts": claim.attempts + 1, "last_attempt_at": utcnow()}
    if error is not None:
        values["last_error"] = error[:ERROR_LIMIT]
    db.session.execute(_held(claim).values(**values))


def bury(claim: Claim, error: str) -> None:
    """Mark the job dead: kept and counted, never retried by itself."""
    db.session.execute(
        _held(claim).values(
            state=DEAD,
            lease_until=None,
            lease_token=None,
            attempts=claim.attempts + 1,
            last_attempt_at=utcnow(),
            last_error=error[:ERROR_LIMIT],
        )
    )


def disable_webhook(guild_id: uuid.UUID, url: str) -> None:
    """Mark the guild's webhook gone, unless the operator has set another one meanwhile."""
    db.session.execute(
        update(Guild)
        .where(Guild.id == guild_id, Guild.webhook_url == url)
        .values(webhook_disabled_at=utcnow(), updated_at=Guild.updated_at)
    )


def delivery_backlog() -> dict[str, int]:
    """Counts for `discord status` and metrics: due now, waiting to retry, dead, disabled."""
    jobs, now = DiscordDelivery.__table__, utcnow()
    pending = jobs.c.state == PENDING
    count = func.count(jobs.c.id)
    queries = {
        "pending": select(count).where(pending, jobs.c.due_at <= now),
        "waiting_to_retry": select(count).where(pending, jobs.c.due_at > now),
        "dead": select(count).where(jobs.c.state == DEAD),
        "disabled_webhooks": select(func.count(Guild.id)).where(
            Guild.webhook_disabled_at.is_not(None)
        ),
    }
    result = {name: db.session.scalar(query) or 0 for name, query in queries.items()}
    db.session.rollback()
    return result


def retry_dead() -> int:
    """Queue every dead job again, as if new; returns how many."""
    jobs, now = DiscordDelivery.__table__, utcnow()
    result = db.session.execute(
        update(jobs)
        .where(jobs.c.state == DEAD)
        .values(state=PENDING, attempts=0, queued_at=now, due_at=now, last_error=None)
    )
    db.session.commit()
    return result.rowcount
