"""Games announced through a guild's webhook, against a real local HTTP server playing Discord."""

import logging
import socket
import time
import uuid

import pytest

from app.discord import webhooks
from app.discord.delivery import webhook_url
from app.services.errors import InvalidInput
from tests.discord.fake_discord import WEBHOOK_PATH, FakeDiscord
from tests.games.conftest import GUILD, OTHER_GUILD, RED, Api

MESSAGES = f"{WEBHOOK_PATH}/messages"


@pytest.fixture
def app_config(app_config):
    """Quick retries, so failing attempts do not make the tests slow."""
    return {
        **app_config,
        "DISCORD_WEBHOOK_TIMEOUT": 5,
        "DISCORD_WEBHOOK_ATTEMPTS": 5,
        "DISCORD_WEBHOOK_BACKOFF": 0.05,
    }


@pytest.fixture(autouse=True)
def deliveries_finish(app):
    """Every delivery a test caused has run before its app and database go away."""
    yield
    assert webhooks.worker.wait_idle(timeout=60)


@pytest.fixture
def discord():
    server = FakeDiscord().start()
    yield server
    server.stop()


@pytest.fixture
def api(client, database) -> Api:
    return Api(client, database.create_token("host-user", GUILD, OTHER_GUILD))


def set_webhook(database, url: str | None, guild: str = GUILD) -> None:
    database.execute(
        "UPDATE guilds SET webhook_url = :url WHERE discord_guild_id = :guild", url=url, guild=guild
    )


def stored_message_id(database, game_id, timeout: float = 15) -> str:
    """The game's message_id, read through a fresh connection once the worker stored it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = database.scalar(
            "SELECT message_id FROM game_sessions WHERE id = :id", id=uuid.UUID(game_id)
        )
        if found is not None:
            return found
        time.sleep(0.01)
    raise AssertionError(f"no message_id stored for game {game_id}")


def created(response) -> str:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_create_posts_the_embed_once_and_stores_the_message_id(api, database, discord):
    set_webhook(database, discord.url)
    game_id = created(api.create(description="Bring snacks", files={"thumbnail": RED}))
    message_id = stored_message_id(database, game_id)
    assert webhooks.worker.wait_idle(timeout=15)
    [post] = discord.requests
    assert (post["method"], post["path"], post["query"]) == (
        "POST",
        WEBHOOK_PATH,
        {"wait": ["true"]},
    )
    assert post["body"] == api.get(f"/{game_id}/discord-message").get_json()
    assert post["body"]["embeds"][0]["thumbnail"]["url"].endswith(".png")
    assert message_id == "900000000000000001"


def test_storing_the_message_id_leaves_updated_at_alone(api, database, discord):
    set_webhook(database, discord.url)
    game = api.create().get_json()
    stored_message_id(database, game["id"])
    assert api.get(f"/{game['id']}").get_json()["updated_at"] == game["updated_at"]


def test_update_patches_the_stored_message(api, database, discord):
    set_webhook(database, discord.url)
    game_id = created(api.create())
    message_id = stored_message_id(database, game_id)
    assert api.update(game_id, title="Carcassonne", status="CANCELLED").status_code == 200
    patch = discord.wait_for(2)[1]
    assert (patch["method"], patch["path"]) == ("PATCH", f"{MESSAGES}/{message_id}")
    assert patch["body"]["embeds"][0]["title"] == "Carcassonne"
    assert patch["body"]["embeds"][0]["footer"]["text"] == "Status: Cancelled"


def test_delete_deletes_the_message(api, database, discord):
    set_webhook(database, discord.url)
    game_id = created(api.create())
    message_id = stored_message_id(database, game_id)
    assert api.delete(game_id).status_code == 204
    delete = discord.wait_for(2)[1]
    assert (delete["method"], delete["path"]) == ("DELETE", f"{MESSAGES}/{message_id}")


def test_clone_posts_a_new_message(api, database, discord):
    set_webhook(database, discord.url)
    game_id = created(api.create(title="Catan night"))
    first = stored_message_id(database, game_id)
    clone_id = created(api.clone(game_id, scheduled_at="2030-06-01T19:00:00Z"))
    second = stored_message_id(database, clone_id)
    assert second != first
    posts = discord.wait_for(2)
    assert [p["method"] for p in posts] == ["POST", "POST"]
    assert posts[1]["body"] == api.get(f"/{clone_id}/discord-message").get_json()


@pytest.mark.parametrize("status", [500, 503])
def test_failing_webhook_does_not_fail_the_api_and_is_retried(api, database, discord, status):
    set_webhook(database, discord.url)
    discord.fail_next(3, status)
    game_id = created(api.create())
    stored_message_id(database, game_id)
    requests = discord.wait_for(4)
    assert [r["method"] for r in requests] == ["POST"] * 4
    discord.fail_next(2, status)
    assert api.update(game_id, title="Later").status_code == 200
    assert [r["method"] for r in discord.wait_for(7)[4:]] == ["PATCH"] * 3
    discord.fail_next(1, status)
    assert api.delete(game_id).status_code == 204
    assert [r["method"] for r in discord.wait_for(9)[7:]] == ["DELETE"] * 2


def test_a_message_deleted_in_discord_is_posted_again_on_update(api, database, discord):
    set_webhook(database, discord.url)
    game_id = created(api.create())
    first = stored_message_id(database, game_id)
    discord.fail_next(1, 404, {"message": "Unknown Message", "code": 10008})
    assert api.update(game_id, title="Back again").status_code == 200
    patch, post = discord.wait_for(3)[1:]
    assert (patch["method"], post["method"], post["body"]["embeds"][0]["title"]) == (
        "PATCH",
        "POST",
        "Back again",
    )
    wait_until(lambda: stored_message_id(database, game_id) != first, "new message id")


def test_a_refusing_webhook_is_not_retried(api, database, discord):
    set_webhook(database, discord.url)
    discord.fail_next(1, 401, {"message": "Invalid Webhook Token", "code": 50027})
    game_id = created(api.create())
    assert webhooks.worker.wait_idle(timeout=15)
    assert [r["method"] for r in discord.requests] == ["POST"]
    assert (
        database.scalar(
            "SELECT message_id FROM game_sessions WHERE id = :id", id=uuid.UUID(game_id)
        )
        is None
    )


def test_rate_limited_webhook_is_retried_after_what_discord_asks(api, database, discord):
    set_webhook(database, discord.url)
    discord.fail_next(
        1, 429, {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
    )
    game_id = created(api.create())
    stored_message_id(database, game_id)
    assert [r["method"] for r in discord.requests] == ["POST", "POST"]


def test_refused_connection_is_retried_until_discord_answers(app, api, database, caplog):
    app.config["DISCORD_WEBHOOK_ATTEMPTS"] = 10  # ample attempts while the server starts
    # The port is bound but not listening: connections to it are refused until Discord starts.
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    port = reserved.getsockname()[1]
    set_webhook(database, f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
    logging.getLogger("app.discord.delivery").addHandler(caplog.handler)
    try:
        game_id = created(api.create())
        wait_until(lambda: "ConnectionError" in caplog.text, "a refused attempt")
    finally:
        logging.getLogger("app.discord.delivery").removeHandler(caplog.handler)
        reserved.close()
    server = FakeDiscord(port).start()
    try:
        stored_message_id(database, game_id)
        assert [r["method"] for r in server.requests] == ["POST"]
    finally:
        server.stop()


def test_a_rolled_back_request_sends_nothing(api, database, discord, monkeypatch):
    set_webhook(database, discord.url)
    assert api.create(files={"thumbnail": b"<svg/>"}).status_code == 415
    assert api.create(title="").status_code == 422

    def failing_presenter(game):
        raise InvalidInput("refused after the game was announced")

    with monkeypatch.context() as patched:
        patched.setattr("app.services.operations.present_game", failing_presenter)
        assert api.create(title="Rolled back").status_code == 422
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    game_id = created(api.create(title="Committed"))
    stored_message_id(database, game_id)
    assert webhooks.worker.wait_idle(timeout=15)
    assert [r["body"]["embeds"][0]["title"] for r in discord.requests] == ["Committed"]


def test_without_a_webhook_url_nothing_is_sent(api, database, discord):
    set_webhook(database, discord.url, guild=OTHER_GUILD)
    game_id = created(api.create())
    assert api.update(game_id, title="Later").status_code == 200
    assert created(api.clone(game_id))
    assert api.delete(game_id).status_code == 204
    assert webhooks.worker.wait_idle(timeout=15)
    assert discord.requests == []
    assert database.scalar("SELECT count(*) FROM game_sessions WHERE message_id IS NOT NULL") == 0


def test_switched_off_nothing_is_sent(app, api, database, discord):
    app.config["DISCORD_WEBHOOKS_ENABLED"] = False
    set_webhook(database, discord.url)
    created(api.create())
    assert webhooks.worker.wait_idle(timeout=15)
    assert discord.requests == []


def test_update_of_a_game_without_message_posts_it(api, database, discord):
    game_id = created(api.create())
    set_webhook(database, discord.url)
    assert api.update(game_id, title="Now announced").status_code == 200
    stored_message_id(database, game_id)
    [post] = discord.wait_for(1)
    assert (post["method"], post["body"]["embeds"][0]["title"]) == ("POST", "Now announced")


def test_game_deleted_while_its_post_was_in_flight_loses_its_message(api, database, discord):
    set_webhook(database, discord.url)
    discord.hold()
    game_id = created(api.create())
    assert api.delete(game_id).status_code == 204
    discord.release()
    post, delete = discord.wait_for(2)
    assert post["method"] == "POST"
    assert (delete["method"], delete["path"]) == ("DELETE", f"{MESSAGES}/900000000000000001")


def test_webhook_urls_keep_their_thread_id():
    url = "https://discord.com/api/webhooks/1/tok?thread_id=55"
    assert (
        webhook_url(url, wait="true")
        == "https://discord.com/api/webhooks/1/tok?thread_id=55&wait=true"
    )
    assert (
        webhook_url(url, "messages", "9")
        == "https://discord.com/api/webhooks/1/tok/messages/9?thread_id=55"
    )


def wait_until(check, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)
