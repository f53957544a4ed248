"""Sixteen concurrent clients create, update, clone and delete games for a minute."""

import random
import threading
import time

from tests.cli import flask_cli
from tests.reliability.conftest import ApiClient, StatusLog, invariant_violations, png, stack_env

CLIENTS = 16
DURATION_S = 60
IMAGES = [png((i * 60 % 256, 80, 200 - i * 40)) for i in range(4)]
ALLOWED = {200, 201, 204, 403, 404}


def _image():
    return ("cover.png", random.choice(IMAGES), "image/png")


def _one_action(client: ApiClient, games: list, lock: threading.Lock) -> None:
    action = random.choice(["create", "create", "update", "update", "clone", "delete", "get"])
    with lock:
        game_id = random.choice(games) if games else None
    if action == "create" or game_id is None:
        files = {slot: _image() for slot in ("thumbnail", "image") if random.random() < 0.6}
        response = client.call(
            "POST",
            data={
                "guild_id": "storm-guild",
                "title": "Storm night",
                "scheduled_at": "2026-12-24T20:00:00Z",
            },
            files=files,
        )
        if response.status_code == 201:
            with lock:
                games.append(response.json()["id"])
    elif action == "update":
        choice = random.random()
        if choice < 0.4:
            client.call("PUT", f"/{game_id}", files={"thumbnail": _image()})
        elif choice < 0.7:
            client.call("PUT", f"/{game_id}", data={"remove_image": "true", "title": "Less"})
        else:
            client.call(
                "PUT", f"/{game_id}", files={"image": _image()}, data={"remove_thumbnail": "true"}
            )
    elif action == "clone":
        response = client.call("POST", f"/{game_id}/clone")
        if response.status_code == 201:
            with lock:
                games.append(response.json()["id"])
    elif action == "delete":
        if client.call("DELETE", f"/{game_id}").status_code == 204:
            with lock:
                if game_id in games:
                    games.remove(game_id)
    else:
        client.call("GET", f"/{game_id}")


def test_storm_of_concurrent_game_changes_has_no_5xx_and_keeps_reference_counts(
    database, redis_prefix, start_gunicorn, report
):
    tokens = [database.create_token(f"storm-user-{n}", "storm-guild") for n in range(4)]
    server = start_gunicorn(stack_env(database, redis_prefix))
    log, games, lock = StatusLog(), [], threading.Lock()
    deadline = time.monotonic() + DURATION_S
    errors: list[BaseException] = []

    def run(token: str) -> None:
        client = ApiClient(server.url, token, log)
        try:
            while time.monotonic() < deadline:
                _one_action(client, games, lock)
        except BaseException as exc:  # a hang or dropped connection is a failure too
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(tokens[n % 4],)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    verify = flask_cli(database.pg.owner_url, "images", "verify", check=False)
    report.update(
        requests=log.total,
        by_status=dict(sorted(log.by_status.items())),
        transport_errors=len(errors),
        games_left=len(games),
        images_left=database.scalar("SELECT count(*) FROM game_images"),
        images_verify_exit=verify.returncode,
    )
    assert errors == []
    assert log.server_errors() == 0, log.failures
    assert set(log.by_status) <= ALLOWED, log.by_status
    assert log.unexplained_errors == 0
    assert log.by_status[201] > 50
    assert invariant_violations(database) == []
    assert verify.returncode == 0, verify.stdout + verify.stderr
