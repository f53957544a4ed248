"""Deduplicated image content shared by game sessions, with an exact reference count."""

import uuid

from sqlalchemy import Boolean, CheckConstraint, Integer, LargeBinary, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class GameImage(TimestampMixin, Base):
    __tablename__ = "game_images"
    __table_args__ = (CheckConstraint("reference_count >= 0", name="reference_count_not_negative"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # The bytes never load by accident: HEAD, 304 and every count query work from metadata.
    image_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    byte_size: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(32))
    reference_count: Mapped[int] = mapped_column(Integer, default=1)
    # False only for rows moved by revision 0002 and not yet through ``flask images sanitise``:
    # they are never served (their EXIF and GPS may be intact).
    sanitised: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
