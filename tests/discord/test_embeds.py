"""The Discord message of a game: fields, colours, image URLs and Discord's limits."""

import datetime as dt

import pytest

from app.discord.embeds import (
    COLOURS,
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    embed_length,
    game_message,
    run_time,
)
from app.models.game_session import GameSession, GameStatus
from app.models.user import User

WHEN = dt.datetime(2030, 5, 1, 19, 0, tzinfo=dt.UTC)
UNIX = int(WHEN.timestamp())


def game(**overrides) -> GameSession:
    values = {
        "title": "Catan night",
        "scheduled_at": WHEN,
        "status": "SCHEDULED",
        "host": User(discord_user_id="80351110224678912", display_name="Ana"),
        **overrides,
    }
    return GameSession(**values)


def fields_of(embed: dict) -> dict:
    return {field["name"]: field["value"] for field in embed["fields"]}


def test_the_message_is_content_and_one_embed_and_its_content_cannot_ping():
    message = game_message(game(title="@everyone party"))
    assert set(message) == {"content", "embeds"}
    assert message["content"] == f"Game scheduled for <t:{UNIX}:F>"
    assert len(message["embeds"]) == 1 and message["embeds"][0]["title"] == "@everyone party"


def test_the_embed_shows_time_host_where_run_time_and_status():
    embed = game_message(
        game(
            description="Bring snacks",
            where="Ana's place",
            expected_duration_minutes=150,
            max_players=4,
        )
    )["embeds"][0]
    assert embed["title"] == "Catan night" and embed["description"] == "Bring snacks"
    facts = fields_of(embed)
    assert facts["Game Time"] == f"<t:{UNIX}:F> (<t:{UNIX}:R>)"
    assert facts["Host"] == "<@80351110224678912>"
    assert facts["Where"] == "Ana's place"
    assert facts["Run Time"] == "2 hours 30 minutes"
    assert embed["footer"]["text"] == "Status: Scheduled"
    assert embed["timestamp"] == "2030-05-01T19:00:00+00:00"


def test_absent_facts_leave_no_empty_field_and_no_image():
    embed = game_message(game())["embeds"][0]
    assert set(fields_of(embed)) == {"Game Time", "Host"}
    assert "description" not in embed and "thumbnail" not in embed and "image" not in embed


def test_image_urls_go_in_thumbnail_and_image():
    embed = game_message(
        game(),
        "https://x.test/api/v1/public/images/a.gif",
        "https://x.test/api/v1/public/images/b.webp",
    )["embeds"][0]
    assert embed["thumbnail"] == {"url": "https://x.test/api/v1/public/images/a.gif"}
    assert embed["image"] == {"url": "https://x.test/api/v1/public/images/b.webp"}


@pytest.mark.parametrize("status", list(GameStatus))
def test_the_colour_and_footer_follow_the_status(status):
    embed = game_message(game(status=status.value))["embeds"][0]
    assert embed["color"] == COLOURS[status]
    assert embed["footer"]["text"] == f"Status: {status.value.replace('_', ' ').title()}"
    assert len(set(COLOURS.values())) == 4


def test_a_naive_time_from_sqlite_is_read_as_utc():
    embed = game_message(game(scheduled_at=WHEN.replace(tzinfo=None)))["embeds"][0]
    assert fields_of(embed)["Game Time"].startswith(f"<t:{UNIX}:F>")


def test_long_texts_are_cut_to_discord_limits_and_the_total_fits():
    embed = game_message(
        game(
            title="T" * 500,
            description="D" * 9000,
            where="W" * 3000,
            signup_instructions="S" * 3000,
        )
    )["embeds"][0]
    assert len(embed["title"]) == TITLE_LIMIT and embed["title"].endswith("…")
    assert len(embed["description"]) <= DESCRIPTION_LIMIT
    assert all(len(value) <= FIELD_VALUE_LIMIT for value in fields_of(embed).values())
    assert embed_length(embed) <= TOTAL_LIMIT


def test_the_total_is_cut_from_fields_when_the_description_is_not_enough():
    embed = game_message(game(title="T" * 256, where="W" * 1024, signup_instructions="S" * 1024))[
        "embeds"
    ][0]
    assert embed_length(embed) <= TOTAL_LIMIT


@pytest.mark.parametrize(
    "minutes, said",
    [
        (45, "45 minutes"),
        (60, "1 hour"),
        (61, "1 hour 1 minute"),
        (120, "2 hours"),
        (None, None),
    ],
)
def test_run_time_reads_as_people_say_it(minutes, said):
    assert run_time(minutes) == said
