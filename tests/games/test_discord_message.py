"""GET /api/v1/games/<id>/discord-message: the announcement payload of a game."""

import pytest

from tests.games.conftest import RED, image_bytes


@pytest.mark.sqlite_too
def test_discord_message_embeds_the_game_with_public_image_urls(api, member_api):
    game = api.create(
        files={"thumbnail": image_bytes(fmt="GIF"), "image": RED},
        description="Bring snacks",
        where="Ana's place",
        expected_duration_minutes="90",
        scheduled_at="2030-05-01T21:00:00+02:00",
    ).get_json()
    response = member_api.get(f"/{game['id']}/discord-message")
    assert response.status_code == 200
    message = response.get_json()
    assert set(message) == {"content", "embeds"}
    (embed,) = message["embeds"]
    assert embed["title"] == "Catan night" and embed["description"] == "Bring snacks"
    facts = {field["name"]: field["value"] for field in embed["fields"]}
    assert facts == {
        "Game Time": "<t:1903892400:F> (<t:1903892400:R>)",
        "Host": "<@host-user>",
        "Where": "Ana's place",
        "Run Time": "1 hour 30 minutes",
    }
    assert embed["thumbnail"]["url"] == game["thumbnail_url"]
    assert embed["thumbnail"]["url"].endswith(".gif")
    assert embed["image"]["url"] == game["banner_url"] and game["banner_url"].endswith(".png")
    assert embed["footer"]["text"] == "Status: Scheduled"


@pytest.mark.sqlite_too
def test_discord_message_follows_the_status(api):
    game = api.create().get_json()
    api.update(game["id"], status="CANCELLED")
    embed = api.get(f"/{game['id']}/discord-message").get_json()["embeds"][0]
    assert embed["footer"]["text"] == "Status: Cancelled" and embed["color"] == 0xED4245
    assert "thumbnail" not in embed and "image" not in embed
