"""The fields of a game as clients send them, checked by the API and the pages alike."""

import datetime as dt
from collections.abc import Mapping

from marshmallow import Schema, ValidationError, fields, pre_load, validate

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


class GameUpdateFieldsSchema(_OptionalGameFields):
    """A partial update as JSON or an urlencoded form (no images)."""

    guild_id = Text(validate=validate.Length(1, 32))
    title = _title()
    scheduled_at = UtcDateTime(metadata={"description": "ISO 8601 with an offset or Z"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    remove_thumbnail = fields.Boolean(load_default=False)
    remove_image = fields.Boolean(load_default=False)
