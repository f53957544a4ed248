"""``guilds delete`` and ``users delete`` queue the deletion of every removed game's message."""

from tests.cli import flask_cli
from tests.discord.conftest import OTHER_GUILD, created, jobs, message_id_of, set_webhook

GUILD = "guild-a"


def _deleted_messages(discord) -> set[str]:
    return {r["path"].rsplit("/", 1)[-1] for r in discord.requests if r["method"] == "DELETE"}


def _posted(api, deliver, database, count: int, **fields) -> dict[str, str]:
    """Create games, deliver their posts; game id -> Discord message id."""
    games = [created(api.create(title=f"Game {n}", **fields)) for n in range(count)]
    deliver()
    return {game: message_id_of(database, game) for game in games}


def test_guilds_delete_queues_each_message_deletion_and_delivery_sends_them(
    api, database, discord, deliver
):
    set_webhook(database, discord.url)
    set_webhook(database, discord.url, guild=OTHER_GUILD)
    messages = _posted(api, deliver, database, 2)
    kept = _posted(api, deliver, database, 1, guild_id=OTHER_GUILD)
    assert None not in messages.values()

    result = flask_cli(database.pg.owner_url, "guilds", "delete", GUILD)
    assert "2 Discord message deletion(s) queued" in result.stdout
    queued = {(job.action, job.message_id) for job in jobs(database) if job.state == "pending"}
    assert queued == {("delete", message) for message in messages.values()}

    deliver()
    assert _deleted_messages(discord) == set(messages.values())
    assert message_id_of(database, next(iter(kept))) == next(iter(kept.values()))


def test_users_delete_queues_the_deletion_of_their_games_messages(api, database, discord, deliver):
    set_webhook(database, discord.url)
    messages = _posted(api, deliver, database, 1)
    result = flask_cli(database.pg.owner_url, "users", "delete", "host-user")
    assert "1 Discord message deletion(s) queued" in result.stdout
    deliver()
    assert _deleted_messages(discord) == set(messages.values())
