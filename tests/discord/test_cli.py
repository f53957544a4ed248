"""`flask discord status | deliver --once | retry-dead` and `guilds set-webhook`, for real."""

import re

import pytest

from tests.cli import flask_cli
from tests.discord.conftest import created, jobs, message_id_of, set_webhook
from tests.games.conftest import GUILD, OTHER_GUILD


def owner_url(database) -> str:
    return database.pg.owner_url if database.is_postgresql else database.app_url


def status(database) -> dict[str, int]:
    output = flask_cli(database.app_url, "discord", "status").stdout
    return {
        name: int(count)
        for name, count in re.findall(
            r"^(pending|waiting to retry|dead|disabled webhooks):\s+(\d+)$", output, re.M
        )
    }


@pytest.mark.sqlite_too
def test_status_counts_pending_retrying_dead_and_disabled_webhooks(api, database, discord, deliver):
    set_webhook(database, discord.url)
    set_webhook(database, discord.webhook_url(2), guild=OTHER_GUILD)
    discord.fail_next(1, 400, {"message": "Invalid Form Body", "code": 50035})
    created(api.create(title="Dead"))
    deliver()
    discord.remove_webhook(discord.webhook_url(2))
    created(api.create(guild_id=OTHER_GUILD, title="Gone webhook"))
    deliver()
    created(api.create(title="Due"))
    database.execute("UPDATE discord_deliveries SET due_at = '2999-01-01' WHERE state = 'pending'")
    created(api.create(title="Due now"))
    assert status(database) == {
        "pending": 1,
        "waiting to retry": 1,
        "dead": 2,
        "disabled webhooks": 1,
    }
    output = flask_cli(database.app_url, "discord", "status").stdout
    assert "HTTP 400 code 50035" in output and f"webhook of guild {OTHER_GUILD} disabled" in output


@pytest.mark.sqlite_too
def test_set_webhook_enables_a_disabled_guild_again(api, database, discord):
    set_webhook(database, discord.url)
    discord.remove_webhook(discord.url)
    game_id = created(api.create(title="First try"))
    assert (
        "Delivered 1 job(s)" in flask_cli(database.app_url, "discord", "deliver", "--once").stdout
    )
    assert status(database)["disabled webhooks"] == 1
    new_url = discord.webhook_url(3)
    flask_cli(owner_url(database), "guilds", "set-webhook", GUILD, new_url)
    assert status(database)["disabled webhooks"] == 0
    assert api.update(game_id, title="Second try").status_code == 200
    flask_cli(database.app_url, "discord", "deliver", "--once")
    [(message_id, shown)] = discord.channel(new_url).items()
    assert shown["embeds"][0]["title"] == "Second try"
    assert message_id_of(database, game_id) == message_id
    assert [job.state for job in jobs(database)] == ["dead"]
