"""Fixtures of the Discord tests: a fake Discord, quick retries, and in-process delivery."""

import time
import uuid

import pytest

from app.discord import worker
from app.discord.client import RateLimits
from tests.discord.fake_discord import FakeDiscord
from tests.games.conftest import GUILD, OTHER_GUILD, Api

QUICK = {
    "DISCORD_WEBHOOK_TIMEOUT": 5,
    "DISCORD_WEBHOOK_BACKOFF": 0.05,
    "DISCORD_DELIVERY_MAX_BACKOFF": 0.2,
    "DISCORD_DELIVERY_LEASE": 5,
    "DISCORD_DELIVERY_POLL_INTERVAL": 0.05,
}


@pytest.fixture
def app_config(app_config):
    """Quick retries, so failing attempts do not make the tests slow."""
    return {**app_config, **QUICK}


@pytest.fixture
def discord():
    server = FakeDiscord().start()
    yield server
    server.stop()


@pytest.fixture
def api(client, database) -> Api:
    return Api(client, database.create_token("host-user", GUILD, OTHER_GUILD))


@pytest.fixture
def deliver(app, database):
    """Run the delivery worker's passes in this process until the outbox holds nothing due.

    Each call has its own rate-limit pauses, so no test inherits another's.
    """
    limits = RateLimits()

    def run(timeout: float = 15, until_empty: bool = True) -> int:
        deadline = time.monotonic() + timeout
        claimed = 0
        while True:
            with app.app_context():
                claimed += worker.deliver_due(app, worker.make_deliverer(app, limits))
            if not until_empty or pending_jobs(database) == 0:
                return claimed
            assert time.monotonic() < deadline, f"jobs left: {jobs(database)}"
            time.sleep(0.02)

    return run


def set_webhook(database, url: str | None, guild: str = GUILD) -> None:
    database.execute(
        "UPDATE guilds SET webhook_url = :url WHERE discord_guild_id = :guild", url=url, guild=guild
    )


def jobs(database) -> list:
    return database.rows("SELECT * FROM discord_deliveries ORDER BY id")


def pending_jobs(database) -> int:
    return database.scalar("SELECT count(*) FROM discord_deliveries WHERE state = 'pending'")


def message_id_of(database, game_id) -> str | None:
    return database.scalar(
        "SELECT message_id FROM game_sessions WHERE id = :id", id=_id(database, game_id)
    )


def _id(database, game_id):
    value = uuid.UUID(str(game_id))
    return value if database.is_postgresql else value.hex


def created(response) -> str:
    """The id of the created game (a Flask test response or a requests one)."""
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert response.status_code == 201, body
    return body["id"]


def wait_until(check, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)
