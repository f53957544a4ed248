"""Discord guilds and their members."""

import datetime as dt
import uuid

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class Guild(TimestampMixin, Base):
    __tablename__ = "guilds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    discord_guild_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    # Set when Discord said the webhook is gone (10015, 50027): nothing is sent to it until
    # `guilds set-webhook` gives a new one.
    webhook_disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class GuildMember(Base):
    __tablename__ = "guild_members"
    __table_args__ = (UniqueConstraint("guild_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    guild_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
