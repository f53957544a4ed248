"""Nothing is lost, nothing is done twice: real gunicorn and CLI processes, SIGKILL, fake Discord.

Run with ``pytest -s`` to see the figures each test prints.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.cli import ROOT
from tests.conftest import REDIS_URL
from tests.discord.conftest import created, jobs, message_id_of, set_webhook, wait_until
from tests.games.conftest import GUILD, WHEN, bearer
from tests.servers import Gunicorn

QUICK_ENV = {
    "DISCORD_WEBHOOK_TIMEOUT": "0.5",  # so that the lease of 2 s covers a job's calls
    "DISCORD_WEBHOOK_BACKOFF": "0.2",
    "DISCORD_DELIVERY_MAX_BACKOFF": "0.5",
    "DISCORD_DELIVERY_LEASE": "2",
    "DISCORD_DELIVERY_POLL_INTERVAL": "0.2",
    "BACKEND_URL": "https://gamenight.test",
}


def server_env(database, redis_prefix) -> dict[str, str]:
    return {
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "SECRET_KEY": "test-secret-key",
        **QUICK_ENV,
    }


def process_gone(pid: int) -> bool:
    """Whether the process no longer runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def kill_every_process(server: Gunicorn) -> list[int]:
    """SIGKILL the master and every worker at once; return their pids once all are gone."""
    pids = [server.process.pid, *server.worker_pids()]
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    wait_until(lambda: all(process_gone(pid) for pid in pids), "every process gone")
    return pids


def posted(discord) -> list[dict]:
    """The posts Discord answered with a new message."""
    return [r for r in discord.received("POST") if r["status"] == 200]


def test_every_gunicorn_process_killed_while_discord_is_down_loses_nothing(
    database, discord, redis_prefix, tmp_path
):
    headers = bearer(database.create_token("host-user", GUILD))
    set_webhook(database, discord.url)
    discord.go_down(503)
    env = server_env(database, redis_prefix)
    server = Gunicorn(env, workers=2, log_dir=tmp_path).start()
    try:
        game = {"guild_id": GUILD, "title": "First draft", "scheduled_at": WHEN}
        answer = requests.post(f"{server.url}/api/v1/games", json=game, headers=headers, timeout=10)
        game_id = created(answer)
        edit = {"title": "Latest state", "where": "The back room"}
        url = f"{server.url}/api/v1/games/{game_id}"
        assert requests.put(url, json=edit, headers=headers, timeout=10).status_code == 200
        wait_until(lambda: len(discord.received("POST")) >= 2, "tries while Discord is down")
        killed = kill_every_process(server)
    finally:
        server.stop()
    queued = len(jobs(database))
    refused = len(discord.received())
    assert queued == 2 and message_id_of(database, game_id) is None

    discord.come_back()
    back = time.monotonic()
    fresh = Gunicorn(env, workers=2, log_dir=tmp_path).start()
    serving = time.monotonic()
    try:
        wait_until(lambda: message_id_of(database, game_id) is not None, "the post", 30)
        delivered_after = time.monotonic() - back
        after_serving = time.monotonic() - serving
        wait_until(lambda: jobs(database) == [], "an empty outbox")
    finally:
        fresh.stop()
    [message] = posted(discord)
    embed = message["body"]["embeds"][0]
    assert (embed["title"], embed["fields"][2]["value"]) == ("Latest state", "The back room")
    assert list(discord.channel()) == [message_id_of(database, game_id)]
    print(
        f"\n[kill test, gunicorn] jobs queued: {queued}, processes killed: {len(killed)} "
        f"(master + {len(killed) - 1} workers), requests refused while down: {refused}, "
        f"messages posted: {len(posted(discord))}, duplicates: {len(posted(discord)) - 1}, "
        f"Discord back -> message posted and stored: {delivered_after:.2f} s "
        f"(gunicorn start included; {after_serving:.2f} s after it answered /healthz)"
    )


def flask_deliver(database) -> subprocess.Popen:
    env = {
        **os.environ,
        "GAMENIGHT_CONFIG": "development",
        "DATABASE_URL": database.app_url,
        **QUICK_ENV,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "discord", "deliver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_flask_discord_deliver_killed_mid_delivery_loses_nothing(api, database, discord):
    set_webhook(database, discord.url)
    discord.hold()
    first = flask_deliver(database)
    try:
        game_id = created(api.create(title="Held up"))
        wait_until(lambda: len(discord.received("POST")) == 1, "the post in flight", 30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    discord.release()
    wait_until(lambda: discord.received()[0]["status"] == "abandoned", "the dropped request")
    back = time.monotonic()
    second = flask_deliver(database)
    try:
        wait_until(lambda: message_id_of(database, game_id) is not None, "the post", 30)
        delivered_after = time.monotonic() - back
        wait_until(lambda: jobs(database) == [], "an empty outbox")
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=20)[0].decode()
    assert second.returncode == 0, output
    [message] = posted(discord)
    assert message["body"]["embeds"][0]["title"] == "Held up"
    assert list(discord.channel()) == [message_id_of(database, game_id)]
    print(
        f"\n[kill test, flask discord deliver] jobs queued: 1, processes killed: 1 (mid-request), "
        f"messages posted: {len(posted(discord))}, duplicates: {len(posted(discord)) - 1}, "
        f"restart -> message posted: {delivered_after:.2f} s (lease of 2 s included)"
    )


def queue_games(database, count: int) -> None:
    """``count`` games, each with its sync job queued, written straight into the database."""
    guild = database.scalar("SELECT id FROM guilds WHERE discord_guild_id = :g", g=GUILD)
    host = database.scalar("SELECT id FROM users")
    database.execute(
        "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status) "
        "SELECT gen_random_uuid(), :g, :h, 'Game ' || n, now(), 'SCHEDULED' "
        "FROM generate_series(1, :count) AS n",
        g=guild,
        h=host,
        count=count,
    )
    database.execute(
        "INSERT INTO discord_deliveries (game_id, guild_id, action, state, attempts, "
        "queued_at, due_at) SELECT id, guild_id, 'sync', 'pending', 0, now(), now() "
        "FROM game_sessions"
    )


def test_two_gunicorn_masters_share_the_queue_without_doing_a_job_twice(
    database, discord, redis_prefix, tmp_path
):
    database.create_token("host-user", GUILD)
    set_webhook(database, discord.url)
    queue_games(database, 200)
    discord.hold()  # every delivery thread waits on its first call until both masters run
    env = {**server_env(database, redis_prefix), "DISCORD_WEBHOOK_TIMEOUT": "60"}
    masters = []
    try:
        masters = [Gunicorn(env, workers=2, log_dir=tmp_path).start() for _ in range(2)]
        started = time.monotonic()
        discord.release()
        stored = "SELECT count(*) FROM game_sessions WHERE message_id IS NOT NULL"
        wait_until(lambda: database.scalar(stored) == 200, "200 stored message ids", 60)
        seconds = time.monotonic() - started
        wait_until(lambda: jobs(database) == [], "an empty outbox")
    finally:
        for master in masters:
            master.stop()
    titles = [r["body"]["embeds"][0]["title"] for r in posted(discord)]
    assert sorted(titles) == sorted(f"Game {n}" for n in range(1, 201))
    assert [r["status"] for r in discord.received()] == [200] * 200
    ids = {row.message_id for row in database.rows("SELECT message_id FROM game_sessions")}
    assert ids == set(discord.channel())
    logs = "".join(Path(master.log_path).read_text() for master in masters)
    assert "Traceback" not in logs
    connections = {r["client"] for r in discord.received()}
    print(
        f"\n[two masters] jobs queued: 200, delivery threads: 4 (2 masters x 2 workers), "
        f"keep-alive connections to Discord: {len(connections)}, "
        f"requests to Discord: {len(discord.received())}, messages posted: {len(titles)}, "
        f"duplicates: {len(titles) - len(set(titles))}, all delivered in {seconds:.2f} s"
    )


def test_a_stuck_discord_slows_no_request_and_a_stopping_worker_keeps_its_deadline(
    database, discord, redis_prefix, tmp_path
):
    headers = bearer(database.create_token("host-user", GUILD))
    set_webhook(database, discord.url)
    discord.hold()  # Discord accepts the connection and never answers
    env = {
        **server_env(database, redis_prefix),
        "DISCORD_WEBHOOK_TIMEOUT": "30",
        "DISCORD_DELIVERY_STOP_TIMEOUT": "1",
    }
    server = Gunicorn(env, workers=1, log_dir=tmp_path).start()
    try:
        game = {"guild_id": GUILD, "title": "Stuck", "scheduled_at": WHEN}
        games_url = f"{server.url}/api/v1/games"
        created(requests.post(games_url, json=game, headers=headers, timeout=10))
        wait_until(lambda: len(discord.received()) == 1, "the delivery in flight")
        # The one worker's delivery thread is stuck in its call: requests are answered anyway.
        answers = [requests.get(games_url, headers=headers, timeout=5) for _ in range(20)]
        assert [answer.status_code for answer in answers] == [200] * 20
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    finally:
        server.stop()
    assert "discord delivery still busy after 1.0 s" in server.log()
    assert "discord delivery backlog" in server.log()
    discord.release()


def sqlite_database(sqlite_template, tmp_path):
    import shutil

    from tests.conftest import Database, create_engine

    path = tmp_path / "gamenight.sqlite3"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    return Database(create_engine(url), url, url)


def test_gunicorn_on_the_embedded_sqlite_default_delivers(discord, sqlite_template, tmp_path):
    database = sqlite_database(sqlite_template, tmp_path)
    headers = bearer(database.create_token("host-user", GUILD))
    set_webhook(database, discord.url)
    env = {"DATABASE_URL": database.app_url, "BACKEND_URL": "https://gamenight.test"}
    server = Gunicorn(env, workers=2, log_dir=tmp_path).start()
    try:
        game = {"guild_id": GUILD, "title": "On SQLite", "scheduled_at": WHEN}
        answer = requests.post(f"{server.url}/api/v1/games", json=game, headers=headers, timeout=10)
        game_id = created(answer)
        wait_until(lambda: message_id_of(database, game_id) is not None, "the post", 30)
    finally:
        server.stop()
        database.engine.dispose()
    [message] = posted(discord)
    assert message["body"]["embeds"][0]["title"] == "On SQLite"


def test_in_web_delivery_off_leaves_the_jobs_to_flask_discord_deliver(
    discord, sqlite_template, tmp_path
):
    from tests.cli import flask_cli

    database = sqlite_database(sqlite_template, tmp_path)
    headers = bearer(database.create_token("host-user", GUILD))
    set_webhook(database, discord.url)
    env = {"DATABASE_URL": database.app_url, "DISCORD_DELIVERY_IN_WEB": "false"}
    server = Gunicorn(env, workers=1, log_dir=tmp_path).start()
    try:
        game = {"guild_id": GUILD, "title": "Left to the CLI", "scheduled_at": WHEN}
        answer = requests.post(f"{server.url}/api/v1/games", json=game, headers=headers, timeout=10)
        game_id = created(answer)
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        assert len(jobs(database)) == 1 and discord.received() == []
        assert "discord delivery backlog" not in server.log()
        delivered = flask_cli(database.app_url, "discord", "deliver", "--once").stdout
    finally:
        server.stop()
        database.engine.dispose()
    assert "Delivered 1 job(s)" in delivered
    assert message_id_of(database, game_id) is not None
