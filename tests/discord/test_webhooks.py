"""Games announced through a guild's webhook, against a real local HTTP server playing Discord.

The API queues; ``deliver`` runs the delivery worker's passes in this process.
"""

import socket

import pytest

from app.discord.client import webhook_url
from app.services.errors import InvalidInput
from tests.discord.conftest import created, jobs, message_id_of, set_webhook, wait_until
from tests.discord.fake_discord import WEBHOOK_PATH, FakeDiscord
from tests.games.conftest import OTHER_GUILD, RED

MESSAGES = f"{WEBHOOK_PATH}/messages"


@pytest.mark.sqlite_too
def test_create_posts_the_embed_once_and_stores_the_message_id(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game_id = created(api.create(description="Bring snacks", files={"thumbnail": RED}))
    assert [job.action for job in jobs(database)] == ["sync"]
    deliver()
    [post] = discord.received()
    assert (post["method"], post["path"], post["query"]) == (
        "POST",
        WEBHOOK_PATH,
        {"wait": ["true"]},
    )
    expected = api.get(f"/{game_id}/discord-message").get_json()
    assert post["body"] == {**expected, "allowed_mentions": {"parse": []}}
    assert post["body"]["embeds"][0]["thumbnail"]["url"].endswith(".png")
    assert post["headers"]["User-Agent"] == "DiscordBot (https://gamenight.test, 1.0)"
    assert message_id_of(database, game_id) == "900000000000000001"
    assert jobs(database) == []


def test_storing_the_message_id_leaves_updated_at_alone(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game = api.create().get_json()
    deliver()
    assert message_id_of(database, game["id"]) is not None
    assert api.get(f"/{game['id']}").get_json()["updated_at"] == game["updated_at"]


def test_update_edits_and_delete_deletes_the_stored_message(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game_id = created(api.create())
    deliver()
    message_id = message_id_of(database, game_id)
    assert api.update(game_id, title="Carcassonne", status="CANCELLED").status_code == 200
    deliver()
    patch = discord.received()[1]
    assert (patch["method"], patch["path"]) == ("PATCH", f"{MESSAGES}/{message_id}")
    assert patch["body"]["embeds"][0]["title"] == "Carcassonne"
    assert patch["body"]["embeds"][0]["footer"]["text"] == "Status: Cancelled"
    assert patch["body"]["allowed_mentions"] == {"parse": []}
    assert api.delete(game_id).status_code == 204
    deliver()
    delete = discord.received()[2]
    assert (delete["method"], delete["path"]) == ("DELETE", f"{MESSAGES}/{message_id}")
    assert discord.channel() == {}


def test_clone_posts_a_new_message(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game_id = created(api.create(title="Catan night"))
    deliver()
    clone_id = created(api.clone(game_id, scheduled_at="2030-06-01T19:00:00Z"))
    deliver()
    assert message_id_of(database, clone_id) not in (None, message_id_of(database, game_id))
    posts = discord.received()
    assert [p["method"] for p in posts] == ["POST", "POST"]
    assert (
        posts[1]["body"]["embeds"] == api.get(f"/{clone_id}/discord-message").get_json()["embeds"]
    )


@pytest.mark.sqlite_too
def test_five_quick_edits_end_as_one_message_with_the_latest_state(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game_id = created(api.create(title="Draft 0"))
    for number in range(1, 6):
        assert api.update(game_id, title=f"Draft {number}").status_code == 200
    assert len(jobs(database)) == 6
    deliver()
    [post] = discord.received()
    assert (post["method"], post["body"]["embeds"][0]["title"]) == ("POST", "Draft 5")
    for number in range(6, 11):
        assert api.update(game_id, title=f"Draft {number}").status_code == 200
    deliver()
    [patch] = discord.received()[1:]
    assert (patch["method"], patch["body"]["embeds"][0]["title"]) == ("PATCH", "Draft 10")
    [shown] = discord.channel().values()
    assert shown["embeds"][0]["title"] == "Draft 10"
    assert jobs(database) == []


@pytest.mark.parametrize("status", [500, 503])
def test_failing_webhook_does_not_fail_the_api_and_is_retried(
    api, database, discord, deliver, status
):
    set_webhook(database, discord.url)
    discord.fail_next(3, status)
    game_id = created(api.create())
    deliver()
    assert [r["method"] for r in discord.received()] == ["POST"] * 4
    assert message_id_of(database, game_id) is not None
    discord.fail_next(2, status)
    assert api.update(game_id, title="Later").status_code == 200
    deliver()
    assert [r["method"] for r in discord.received()[4:]] == ["PATCH"] * 3
    discord.fail_next(1, status)
    assert api.delete(game_id).status_code == 204
    deliver()
    assert [r["method"] for r in discord.received()[7:]] == ["DELETE"] * 2
    assert discord.channel() == {}


def test_a_message_deleted_in_discord_is_posted_again_on_update(api, database, discord, deliver):
    set_webhook(database, discord.url)
    game_id = created(api.create())
    deliver()
    first = message_id_of(database, game_id)
    discord.messages[WEBHOOK_PATH].clear()  # someone deleted it in Discord
    assert api.update(game_id, title="Back again").status_code == 200
    deliver()
    patch, post = discord.received()[1:]
    assert (patch["method"], patch["status"], post["method"]) == ("PATCH", 404, "POST")
    assert post["body"]["embeds"][0]["title"] == "Back again"
    assert message_id_of(database, game_id) not in (None, first)


def test_a_gone_webhook_is_disabled_and_nothing_more_is_sent_to_it(api, database, discord, deliver):
    set_webhook(database, discord.url)
    discord.remove_webhook(discord.url)
    game_id = created(api.create())
    deliver()
    assert [(r["method"], r["status"]) for r in discord.received()] == [("POST", 404)]
    assert database.scalar("SELECT count(*) FROM guilds WHERE webhook_disabled_at IS NOT NULL") == 1
    [job] = jobs(database)
    assert (job.state, job.last_error) == ("dead", "HTTP 404 code 10015: webhook disabled")
    assert api.update(game_id, title="Still there").status_code == 200
    created(api.create(title="Another"))
    assert api.delete(game_id).status_code == 204
    deliver()
    assert len(discord.received()) == 1
    assert len(jobs(database)) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": "Invalid Form Body", "code": 50035}),
        (403, {"message": "Missing Access", "code": 50001}),
        (301, {"message": "Moved"}),
    ],
)
def test_a_refused_job_is_dead_kept_and_retried_only_when_asked(
    api, database, discord, deliver, status, body
):
    set_webhook(database, discord.url)
    headers = {"Location": discord.webhook_url(9)} if status == 301 else None
    discord.fail_next(1, status, body, headers)
    game_id = created(api.create())
    deliver()
    deliver()
    assert [r["method"] for r in discord.received()] == ["POST"]
    [job] = jobs(database)
    assert job.state == "dead" and job.last_error.startswith(f"HTTP {status}")
    assert message_id_of(database, game_id) is None
    from tests.cli import flask_cli

    assert (
        "1 dead job(s) queued again" in flask_cli(database.app_url, "discord", "retry-dead").stdout
    )
    deliver()
    assert message_id_of(database, game_id) is not None
    assert jobs(database) == []


def test_rate_limited_webhook_waits_what_discord_asks_and_others_do_not(
    api, database, discord, deliver
):
    set_webhook(database, discord.url)
    set_webhook(database, discord.webhook_url(2), guild=OTHER_GUILD)
    limited = {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
    discord.fail_next(1, 429, limited)
    created(api.create())
    deliver(until_empty=False)
    [job] = jobs(database)
    [refused] = discord.received()
    assert (job.state, job.attempts, job.last_error) == ("pending", 1, "HTTP 429")
    created(api.create(guild_id=OTHER_GUILD))
    deliver()
    first, other, second = discord.received()
    # The other webhook went ahead while this one waited the 1.5 s it was asked to.
    assert other["webhook"] != first["webhook"] == second["webhook"]
    assert second["at"] - refused["at"] >= 1.5
    assert [r["status"] for r in (first, other, second)] == [429, 200, 200]


def test_a_429_without_retry_after_waits_its_reset_after_header(api, database, discord, deliver):
    set_webhook(database, discord.url)
    discord.fail_next(1, 429, {"message": "slow down"}, {"X-RateLimit-Reset-After": "0.7"})
    created(api.create())
    deliver()
    refused, accepted = discord.received()
    assert (refused["status"], accepted["status"]) == (429, 200)
    assert accepted["at"] - refused["at"] >= 0.7


def test_an_exhausted_bucket_pauses_the_webhook_until_it_resets(api, database, discord, deliver):
    set_webhook(database, discord.url)
    discord.success_headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.7"}
    created(api.create(title="First"))
    deliver()
    created(api.create(title="Second"))
    deliver()
    first, second = discord.received()
    assert [r["status"] for r in (first, second)] == [200, 200]
    assert second["at"] - first["at"] >= 0.7


def test_a_global_rate_limit_pauses_every_webhook(api, database, discord, deliver):
    set_webhook(database, discord.url)
    set_webhook(database, discord.webhook_url(2), guild=OTHER_GUILD)
    limited = {"message": "You are being rate limited.", "retry_after": 0.6, "global": True}
    discord.fail_next(1, 429, limited)
    created(api.create())
    deliver(until_empty=False)
    created(api.create(guild_id=OTHER_GUILD))
    deliver()
    refused, *later = discord.received()
    assert len(later) == 2
    assert all(request["at"] - refused["at"] >= 0.6 for request in later)


def test_a_job_past_max_age_is_dead(app, api, database, discord, deliver):
    app.config["DISCORD_DELIVERY_MAX_AGE"] = 0.3
    set_webhook(database, discord.url)
    discord.go_down(503)
    created(api.create())
    wait_until(
        lambda: deliver(until_empty=False) == 0 and jobs(database)[0].state == "dead", "death"
    )
    [job] = jobs(database)
    assert job.attempts == len(discord.received()) >= 2
    assert job.last_error == "HTTP 503; too old to retry"


def test_refused_connection_is_retried_until_discord_answers(api, database, deliver):
    # The port is bound but not listening: connections to it are refused until Discord starts.
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    port = reserved.getsockname()[1]
    set_webhook(database, f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
    try:
        game_id = created(api.create())
        wait_until(
            lambda: deliver(until_empty=False) >= 0 and jobs(database)[0].attempts >= 2, "2 tries"
        )
        assert jobs(database)[0].last_error == "ConnectionError"
    finally:
        reserved.close()
    server = FakeDiscord(port).start()
    try:
        deliver()
        assert message_id_of(database, game_id) is not None
        assert [r["method"] for r in server.received()] == ["POST"]
    finally:
        server.stop()


@pytest.mark.sqlite_too
def test_a_rolled_back_request_queues_nothing(api, database, discord, deliver, monkeypatch):
    set_webhook(database, discord.url)
    assert api.create(files={"thumbnail": b"<svg/>"}).status_code == 415
    assert api.create(title="").status_code == 422

    def failing_presenter(game):
        raise InvalidInput("refused after the game was announced")

    with monkeypatch.context() as patched:
        patched.setattr("app.services.operations.present_game", failing_presenter)
        assert api.create(title="Rolled back").status_code == 422
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert jobs(database) == []
    created(api.create(title="Committed"))
    deliver()
    assert [r["body"]["embeds"][0]["title"] for r in discord.received()] == ["Committed"]


def test_without_a_webhook_url_nothing_is_queued(api, database, discord, deliver):
    set_webhook(database, discord.url, guild=OTHER_GUILD)
    game_id = created(api.create())
    assert api.update(game_id, title="Later").status_code == 200
    assert created(api.clone(game_id))
    assert api.delete(game_id).status_code == 204
    assert jobs(database) == []
    deliver()
    assert discord.received() == []


def test_switched_off_nothing_is_queued(app, api, database, discord):
    app.config["DISCORD_WEBHOOKS_ENABLED"] = False
    set_webhook(database, discord.url)
    created(api.create())
    assert jobs(database) == []


def test_update_of_a_game_without_message_posts_it(api, database, discord, deliver):
    game_id = created(api.create())
    set_webhook(database, discord.url)
    assert api.update(game_id, title="Now announced").status_code == 200
    deliver()
    [post] = discord.received()
    assert (post["method"], post["body"]["embeds"][0]["title"]) == ("POST", "Now announced")
    assert message_id_of(database, game_id) is not None


@pytest.mark.sqlite_too
def test_a_game_moved_to_another_guild_leaves_the_first_channel(api, database, discord, deliver):
    first, second = discord.url, discord.webhook_url(2)
    set_webhook(database, first)
    set_webhook(database, second, guild=OTHER_GUILD)
    game_id = created(api.create(title="Wandering"))
    deliver()
    assert len(discord.channel(first)) == 1
    assert api.update(game_id, guild_id=OTHER_GUILD, title="Moved").status_code == 200
    deliver()
    assert discord.channel(first) == {}
    [(message_id, shown)] = discord.channel(second).items()
    assert shown["embeds"][0]["title"] == "Moved"
    assert message_id_of(database, game_id) == message_id
    assert jobs(database) == []


def test_game_deleted_while_its_post_was_in_flight_loses_its_message(app, api, database, discord):
    from app.discord.worker import DeliveryWorker

    set_webhook(database, discord.url)
    discord.hold()
    running = DeliveryWorker(app).start()
    try:
        game_id = created(api.create())
        wait_until(lambda: len(discord.received()) == 1, "post in flight")
        assert api.delete(game_id).status_code == 204
        discord.release()
        wait_until(lambda: len(discord.received()) == 2 and not jobs(database), "cleanup")
    finally:
        assert running.stop(10)
    post, delete = discord.received()
    assert post["method"] == "POST"
    assert (delete["method"], delete["path"]) == ("DELETE", f"{MESSAGES}/900000000000000001")
    assert discord.channel() == {}


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
