"""Marshmallow schemas of the games API: request bodies (form or JSON), queries and responses."""

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage

from app.game_fields import (
    EXAMPLE_GUILD_ID,
    STATUSES,
    GameFieldsSchema,
    GameUpdateFieldsSchema,
    Text,
    UtcDateTime,
)
from app.models.game_session import IMAGE_SLOTS

__all__ = ["EXAMPLE_GUILD_ID", "GameFieldsSchema", "GameUpdateFieldsSchema"]


class ImageUpload(Upload):
    """An uploaded file (multipart only); its bytes decide its type, never its name."""

    def _deserialize(self, value, attr, data, **kwargs) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError("Must be a file uploaded as multipart/form-data.")
        return value


class GameCreateSchema(GameFieldsSchema):
    """A new game; the images only in a multipart form."""

    thumbnail = ImageUpload()
    image = ImageUpload(metadata={"description": "The banner image"})


class GameUpdateSchema(GameUpdateFieldsSchema):
    """A partial update; files replace an image, remove flags clear one."""

    thumbnail = ImageUpload()
    image = ImageUpload(metadata={"description": "The banner image"})

    @validates_schema
    def upload_or_remove(self, data, **kwargs):
        """Uploading and removing the same image at once is a contradiction."""
        for slot in IMAGE_SLOTS:
            if data.get(slot) is not None and data.get(f"remove_{slot}"):
                raise ValidationError(f"Upload a new {slot} or remove it, not both.", slot)


class GameCloneSchema(Schema):
    """Optional new date for the copy."""

    scheduled_at = UtcDateTime(metadata={"description": "ISO 8601 with an offset or Z"})


class GameListQuerySchema(Schema):
    """Filters and pagination of the game list."""

    guild_id = Text(validate=validate.Length(1, 32))
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 100))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1))


class GameSchema(Schema):
    """A game as the API shows it; images are public URLs with the type's extension."""

    id = fields.UUID()
    guild_id = fields.String(metadata={"description": "Discord id of the guild"})
    host_id = fields.String(metadata={"description": "Discord id of the host"})
    title = fields.String()
    description = fields.String(allow_none=True)
    where = fields.String(allow_none=True)
    signup_instructions = fields.String(allow_none=True)
    scheduled_at = fields.DateTime(metadata={"description": "UTC"})
    max_players = fields.Integer(allow_none=True)
    expected_duration_minutes = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    thumbnail_id = fields.UUID(allow_none=True)
    banner_image_id = fields.UUID(allow_none=True)
    has_thumbnail = fields.Boolean()
    has_image = fields.Boolean()
    thumbnail_url = fields.Url(allow_none=True)
    banner_url = fields.Url(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class GameListSchema(Schema):
    """One page of games and the number of games matching the filters."""

    games = fields.List(fields.Nested(GameSchema))
    total = fields.Integer()


class DiscordMessageSchema(Schema):
    """A Discord message payload (webhook execute/edit body)."""

    content = fields.String()
    embeds = fields.List(fields.Dict())
