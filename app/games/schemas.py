"""Marshmallow schemas of the games API: request bodies (form or JSON), queries and responses."""

import datetime as dt
from collections.abc import Mapping

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema
from werkzeug.datastructures import FileStorage

from app.models.game_session import GameStatus

STATUSES = [status.value for status in GameStatus]
# Optional fields a form leaves blank ("") mean "none"; JSON may also say null.
BLANK_MEANS_NONE = (
    "description",
    "where",
    "signup_instructions",
    "max_players",
    "expected_duration_minutes",
)
EXAMPLE_GUILD_ID = "123456789012345678"


class Text(fields.String):
    """A string PostgreSQL can store: no NUL characters, no lone surrogates."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValidationError("Must be valid Unicode text.") from e
        return text


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 date-time that carries an offset or Z, converted to UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> dt.datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError as e:
            raise ValidationError("Out of range once converted to UTC.") from e


class ImageUpload(Upload):
    """An uploaded file (multipart only); its bytes decide its type, never its name."""

    def _deserialize(self, value, attr, data, **kwargs) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError("Must be a file uploaded as multipart/form-data.")
        return value


def _title(**kwargs):
    return Text(validate=[validate.Length(1, 200), _not_blank], **kwargs)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class _OptionalGameFields(Schema):
    """Fields every game body may carry; a form's blank ("") reads as none."""

    description = Text(validate=validate.Length(max=4000), allow_none=True)
    where = Text(validate=validate.Length(max=500), allow_none=True)
    signup_instructions = Text(validate=validate.Length(max=2000), allow_none=True)
    max_players = fields.Integer(validate=validate.Range(1, 10_000), allow_none=True)
    expected_duration_minutes = fields.Integer(
        validate=validate.Range(1, 60 * 24 * 30), allow_none=True
    )

    @pre_load
    def blank_to_none(self, data, **kwargs):
        """Read a form's empty optional fields as absent values."""
        if not isinstance(data, Mapping):
            return data
        copy = {key: data[key] for key in data}
        for name in BLANK_MEANS_NONE:
            if copy.get(name) == "":
                copy[name] = None
        return copy


class GameFieldsSchema(_OptionalGameFields):
    """A new game, as JSON or an urlencoded form (no images)."""

    guild_id = Text(
        required=True,
        validate=validate.Length(1, 32),
        metadata={"description": "Discord id of the guild", "example": EXAMPLE_GUILD_ID},
    )
    title = _title(required=True)
    scheduled_at = UtcDateTime(
        required=True, metadata={"description": "ISO 8601 with an offset or Z"}
    )


class GameCreateSchema(GameFieldsSchema):
    """A new game; the images only in a multipart form."""

    thumbnail = ImageUpload()
    image = ImageUpload(metadata={"description": "The banner image"})


class GameUpdateFieldsSchema(_OptionalGameFields):
    """A partial update as JSON or an urlencoded form (no images)."""

    guild_id = Text(validate=validate.Length(1, 32))
    title = _title()
    scheduled_at = UtcDateTime(metadata={"description": "ISO 8601 with an offset or Z"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    remove_thumbnail = fields.Boolean(load_default=False)
    remove_image = fields.Boolean(load_default=False)


class GameUpdateSchema(GameUpdateFieldsSchema):
    """A partial update; files replace an image, remove flags clear one."""

    thumbnail = ImageUpload()
    image = ImageUpload(metadata={"description": "The banner image"})

    @validates_schema
    def upload_or_remove(self, data, **kwargs):
        """Uploading and removing the same image at once is a contradiction."""
        for slot in ("thumbnail", "image"):
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
