"""The Discord outbox: one row per announcement to deliver (ids and times, no game content)."""

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class DeliveryAction(enum.StrEnum):
    # Make the guild's channel show the game as its row is now (post, or edit its message).
    SYNC = "sync"
    # Delete one message (the game is gone, or it moved to another guild).
    DELETE = "delete"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DEAD = "dead"  # kept for the operator (`flask discord retry-dead`), never retried by itself


class DiscordDelivery(Base):
    __tablename__ = "discord_deliveries"
    __table_args__ = (
        Index("ix_discord_deliveries_state_due_at", "state", "due_at"),
        Index("ix_discord_deliveries_game_id_id", "game_id", "id"),
    )

    # Ordered: the changes of one game are delivered oldest first.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # Neither is a foreign key: a delete outlives its game, and its guild too.
    game_id: Mapped[uuid.UUID]
    guild_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(16))
    # Only for a delete: the message to delete and the webhook that posted it.
    message_id: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A claim: the worker holding lease_token may deliver until lease_until; then anyone may.
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
