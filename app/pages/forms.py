"""Flask-WTF forms of the pages; fields are named as the API names them, checked by its rules."""

import functools
import zoneinfo

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from marshmallow import Schema, ValidationError
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Optional

from app.game_fields import STATUSES
from app.models.game_session import IMAGE_SLOTS
from app.services.errors import InvalidInput, ServiceError
from app.services.images import EXTENSIONS

IMAGE_TYPES = ",".join(EXTENSIONS)
TEXT_FIELDS = ("guild_id", "title", "description", "where", "signup_instructions")
NUMBER_FIELDS = ("max_players", "expected_duration_minutes")
INVALID = "Please correct the fields marked below"


@functools.cache
def time_zones() -> list[str]:
    """UTC first, then every IANA Area/Location name zoneinfo knows."""
    names = {name for name in zoneinfo.available_timezones() if "/" in name}
    return ["UTC", *sorted(names - {"UTC"})]


class LoginForm(FlaskForm):
    """An API token, pasted."""

    token = PasswordField("API token", validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A bare button (log out, delete): only its CSRF token."""


class GameForm(FlaskForm):
    """A new game; the view fills ``guild_id.choices`` with the user's guilds."""

    guild_id = SelectField("Guild", validators=[InputRequired()])
    title = StringField("Title", validators=[DataRequired()])
    scheduled_at = DateTimeLocalField(
        "Date and time", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[DataRequired()]
    )
    timezone = SelectField("Time zone", choices=time_zones(), default="UTC")
    description = TextAreaField("Description")
    where = StringField("Where")
    signup_instructions = TextAreaField("How to sign up")
    max_players = IntegerField("Max players", validators=[Optional()])
    expected_duration_minutes = IntegerField("Expected duration (minutes)", validators=[Optional()])
    thumbnail = FileField("Thumbnail", render_kw={"accept": IMAGE_TYPES})
    image = FileField("Banner image", render_kw={"accept": IMAGE_TYPES})


class GameEditForm(GameForm):
    """A change to a game: also its status, and removal of either image."""

    status = SelectField(
        "Status", choices=[SelectChoice(s, s.replace("_", " ").title()) for s in STATUSES]
    )
    remove_thumbnail = BooleanField("Remove the thumbnail")
    remove_image = BooleanField("Remove the banner image")


def offer_guilds(form: GameForm, guilds: list[tuple[str, str]]) -> None:
    """Let the guild select offer these (Discord id, label) pairs."""
    form.guild_id.choices = [SelectChoice(value, label) for value, label in guilds]


def game_fields(form: GameForm, schema: type[Schema]) -> dict:
    """The API's fields from the form, checked by the API's schema; InvalidInput otherwise."""
    payload = {name: form[name].data for name in (*TEXT_FIELDS, *NUMBER_FIELDS)}
    local = form.scheduled_at.data.replace(tzinfo=zoneinfo.ZoneInfo(form.timezone.data))
    payload["scheduled_at"] = local.isoformat()
    if "status" in form:
        payload["status"] = form.status.data
    try:
        loaded = schema().load(payload)
    except ValidationError as e:
        raise InvalidInput(INVALID, _flat(e.messages)) from e
    return {name: value for name, value in loaded.items() if name in payload}


def _flat(messages) -> dict[str, list[str]]:
    if not isinstance(messages, dict):
        return {"": [str(messages)]}
    return {str(name): [str(m) for m in errors] for name, errors in messages.items()}


def chosen_files(form: GameForm) -> dict[str, bytes]:
    """The bytes of each file input that carries a file, by slot name."""
    return {slot: form[slot].data.read() for slot in IMAGE_SLOTS if form[slot].data}


def show_error(form: FlaskForm, error: ServiceError) -> None:
    """Put a service failure on the form: under its fields, or above them."""
    errors = error.errors or {}
    for name, messages in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
    unplaced = [m for name, messages in errors.items() if name not in form for m in messages]
    summary = INVALID if len(unplaced) < sum(map(len, errors.values())) else error.message
    form.form_errors[:0] = [summary, *(m for m in unplaced if m != summary)]


def initial_data(game: dict) -> dict:
    """A presented game as the edit form's initial values (times in UTC)."""
    data = {name: game[name] for name in (*TEXT_FIELDS, *NUMBER_FIELDS, "status")}
    return data | {"scheduled_at": game["scheduled_at"].replace(tzinfo=None), "timezone": "UTC"}
