"""Deduplicated image storage with exact reference counts, correct under any concurrency.

Every function flushes through ``db.session`` and never commits. The counting happens in
SQL, in single statements, so concurrent transactions never lose an update or race into a
unique violation: the peer's ``SELECT ... FOR UPDATE`` then ``INSERT`` did both.
"""

import hashlib
import uuid
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models.game_image import GameImage

INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def content_hash_of(image_data: bytes) -> str:
    """The SHA-256 hex digest that identifies stored content."""
    return hashlib.sha256(image_data).hexdigest()


def store_image(image_data: bytes, mime_type: str) -> uuid.UUID:
    """Store sanitised bytes once, or count one more reference to their row; return its id."""
    insert = INSERTS[db.session.get_bind().dialect.name]
    statement = (
        insert(GameImage)
        .values(
            id=uuid.uuid4(),
            content_hash=content_hash_of(image_data),
            image_data=image_data,
            byte_size=len(image_data),
            mime_type=mime_type,
            reference_count=1,
            sanitised=True,
        )
        .on_conflict_do_update(
            index_elements=[GameImage.content_hash],
            # A row of revision 0002 holding these very bytes holds sanitised output: the
            # sanitiser produced them. It is clean, whatever it was marked.
            set_={
                "reference_count": GameImage.reference_count + 1,
                "sanitised": True,
                "updated_at": func.now(),
            },
        )
        .returning(GameImage.id)
    )
    return db.session.execute(statement).scalar_one()


def acquire_image(image_id: uuid.UUID) -> None:
    """Count one more reference to an existing image (a cloned game sharing it)."""
    db.session.execute(
        update(GameImage)
        .where(GameImage.id == image_id)
        .values(reference_count=GameImage.reference_count + 1, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


def release_image(image_id: uuid.UUID | None) -> None:
    """Drop one reference; the row goes with its last one. None and unknown ids are no-ops."""
    if image_id is None:
        return
    remaining = db.session.execute(
        update(GameImage)
        .where(GameImage.id == image_id)
        .values(reference_count=GameImage.reference_count - 1, updated_at=func.now())
        .returning(GameImage.reference_count)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if remaining == 0:
        # The UPDATE holds the row lock until commit, so no store can revive it in between.
        db.session.execute(
            delete(GameImage)
            .where(GameImage.id == image_id, GameImage.reference_count == 0)
            .execution_options(synchronize_session=False)
        )


def is_stored_as(image_id: uuid.UUID, image_data: bytes) -> bool:
    """Whether the image's row holds exactly these bytes (by their hash)."""
    stored = db.session.scalar(select(GameImage.content_hash).where(GameImage.id == image_id))
    return stored == content_hash_of(image_data)


def mark_sanitised(image_id: uuid.UUID) -> None:
    """Record that the row's bytes are what the sanitiser makes of them (its output)."""
    db.session.execute(
        update(GameImage)
        .where(GameImage.id == image_id)
        .values(sanitised=True, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


def unsanitised_image_ids() -> list[uuid.UUID]:
    """The rows not yet through the sanitiser (moved by revision 0002), in a stable order."""
    query = select(GameImage.id).where(GameImage.sanitised.is_(False)).order_by(GameImage.id)
    return list(db.session.scalars(query))


def unsanitised_image_data(image_id: uuid.UUID) -> bytes | None:
    """The bytes of a row still to sanitise; None once it is sanitised or gone."""
    query = select(GameImage.image_data).where(
        GameImage.id == image_id, GameImage.sanitised.is_(False)
    )
    data = db.session.scalar(query)
    return None if data is None else bytes(data)


class ImageInfo(NamedTuple):
    """What the games service needs to know of an image, without its bytes."""

    content_hash: str
    mime_type: str


# The public URL ends in the type's extension: Discord animates a GIF only behind ".gif".
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def describe_images(image_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, ImageInfo]:
    """Hash and type of each existing image among the ids, from metadata only."""
    wanted = {image_id for image_id in image_ids if image_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(GameImage.id, GameImage.content_hash, GameImage.mime_type).where(
            GameImage.id.in_(wanted)
        )
    )
    return {row.id: ImageInfo(row.content_hash, row.mime_type) for row in rows}


def public_image_url(base_url: str, image_id: uuid.UUID, mime_type: str) -> str:
    """The absolute unauthenticated URL of an image, ending in its type's extension."""
    extension = EXTENSIONS.get(mime_type)
    suffix = f".{extension}" if extension else ""
    return f"{base_url.rstrip('/')}/api/v1/public/images/{image_id}{suffix}"
