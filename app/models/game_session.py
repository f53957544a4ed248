"""Scheduled game sessions, private to their guild (row-level security on PostgreSQL)."""

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin
from app.models.guild import Guild
from app.models.user import User


class GameStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


# A game's two image slots: the name the API, pages and announcements use -> its column.
IMAGE_SLOTS = {"thumbnail": "thumbnail_id", "image": "banner_image_id"}
STATUS_CHECK = "status IN ('SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')"


class GameSession(TimestampMixin, Base):
    __tablename__ = "game_sessions"
    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="status_known"),
        Index("ix_game_sessions_guild_id_scheduled_at", "guild_id", "scheduled_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # RESTRICT: deleting a guild or user with games would skip the release of their images
    # (SPEC §2); the games go first, through the games service (revision 0004).
    guild_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("guilds.id", ondelete="RESTRICT"))
    host_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    where: Mapped[str | None] = mapped_column(String(500))
    signup_instructions: Mapped[str | None] = mapped_column(Text)
    scheduled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    max_players: Mapped[int | None] = mapped_column(Integer)
    expected_duration_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=GameStatus.SCHEDULED.value)
    message_id: Mapped[str | None] = mapped_column(String(32))
    thumbnail_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("game_images.id", ondelete="SET NULL"), index=True
    )
    banner_image_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("game_images.id", ondelete="SET NULL"), index=True
    )

    guild: Mapped[Guild] = relationship(lazy="joined", innerjoin=True)
    host: Mapped[User] = relationship(lazy="joined", innerjoin=True)
