"""Pages show guilds and people by name, and the game list shows each game's thumbnail."""

import re

import pytest

from tests.pages.conftest import GUILD, create_game, game_id_of, png

pytestmark = pytest.mark.sqlite_too
LIST_IMG = re.compile(r'<img class="list-thumbnail" src="([^"]+)"')


def _name(database, guild: str | None = None, user: str | None = None, to: str = "") -> None:
    if guild:
        database.execute("UPDATE guilds SET name = :n WHERE discord_guild_id = :g", n=to, g=guild)
    if user:
        database.execute(
            "UPDATE users SET display_name = :n WHERE discord_user_id = :u", n=to, u=user
        )


def test_list_and_details_show_the_guild_name_and_the_hosts_display_name(client, database, host):
    _name(database, guild=GUILD, to="Friday Board Gamers")
    _name(database, user="host-1", to="Ann Host")
    game_id = game_id_of(create_game(client))
    listing = client.get("/games").get_data(as_text=True)
    assert '<span class="guild-name">Friday Board Gamers</span>' in listing
    assert "guild-a" not in listing
    details = client.get(f"/games/{game_id}").get_data(as_text=True)
    assert '<dd id="guild-name">Friday Board Gamers</dd>' in details
    assert '<dd id="host-name">Ann Host</dd>' in details


def test_without_a_name_the_discord_id_is_shown(client, database, host):
    _name(database, guild=GUILD, to="")
    _name(database, user="host-1", to="")
    game_id = game_id_of(create_game(client))
    details = client.get(f"/games/{game_id}").get_data(as_text=True)
    assert '<dd id="guild-name">guild-a</dd>' in details
    assert '<dd id="host-name">host-1</dd>' in details


def test_the_list_shows_a_thumbnail_only_for_games_that_have_one(client, database, host):
    with_thumbnail = game_id_of(create_game(client, title="Pictured", thumbnail=png()))
    game_id_of(create_game(client, title="Plain", image=png((1, 2, 3))))
    thumbnail_id = database.scalar(
        "SELECT thumbnail_id FROM game_sessions WHERE title = 'Pictured'"
    )
    listing = client.get("/games").get_data(as_text=True)
    sources = LIST_IMG.findall(listing)
    assert len(sources) == 1 and with_thumbnail not in sources[0]
    assert sources[0].replace("-", "") == f"/api/v1/public/images/{thumbnail_id}".replace("-", "")
    image = client.get(sources[0])
    assert image.status_code == 200 and image.mimetype == "image/png"
