"""Games API rate limits: per user, shared by every worker through Redis; 429 changes nothing."""

import pytest

from app import create_app
from tests.conftest import FreshContextClient
from tests.games.conftest import GUILD, RED, Api, image_bytes


@pytest.fixture
def app_config(app_config):
    return {**app_config, "API_RATE_LIMITS": "4/minute", "UPLOAD_RATE_LIMITS": "2/hour"}


def _game_count(database) -> int:
    return database.scalar("SELECT count(*) FROM game_sessions")


def _assert_refused(response) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["message"] == "Too many requests: slow down"


def test_every_call_of_a_user_counts_and_the_next_is_429_json(api, database):
    assert api.create().status_code == 201
    assert api.get("").status_code == 200
    game_id = api.get("").get_json()["games"][0]["id"]
    assert api.get(f"/{game_id}").status_code == 200
    refused = api.create(title="one too many")
    _assert_refused(refused)
    assert refused.headers["X-RateLimit-Limit"] == "4"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert _game_count(database) == 1


def test_the_limit_is_per_user_whichever_token_they_use(client, database, api, member_api):
    second_token = Api(client, database.create_token("host-user", GUILD))
    for _ in range(2):
        assert api.get("").status_code == 200
        assert second_token.get("").status_code == 200
    _assert_refused(api.get(""))
    _assert_refused(second_token.get(""))
    assert member_api.get("").status_code == 200  # another user has a budget of their own


def test_requests_without_a_live_token_count_against_the_client_ip(client, database):
    guesses = [
        client.get("/api/v1/games", headers={"Authorization": f"Bearer gn_guess-{n}"})
        for n in range(5)
    ]
    assert [response.status_code for response in guesses] == [401] * 4 + [429]
    _assert_refused(guesses[-1])


def test_uploads_have_their_own_budget_and_a_refused_upload_leaves_nothing(api, database):
    assert api.create(files={"thumbnail": RED}).status_code == 201
    assert api.create(files={"image": image_bytes((1, 2, 3))}).status_code == 201
    refused = api.create(files={"thumbnail": image_bytes((9, 9, 9))}, title="refused")
    _assert_refused(refused)
    assert _game_count(database) == 2
    assert database.scalar("SELECT count(*) FROM game_images") == 2
    # Calls without an image file are not uploads: still within API_RATE_LIMITS.
    assert api.create(title="no file").status_code == 201


def test_an_empty_file_input_is_not_an_upload(app_config, api, database):
    for _ in range(3):
        response = api.client.post(
            "/api/v1/games",
            data={
                "guild_id": GUILD,
                "title": "T",
                "scheduled_at": "2030-05-01T19:00:00Z",
                "thumbnail": (b"", ""),
            },
            headers=api.headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 201
    assert _game_count(database) == 3


def test_every_worker_counts_in_the_same_storage(app_config, host_token, database):
    # Two apps stand for two gunicorn workers (or hosts) sharing the Redis of app_config.
    workers = []
    for _ in range(2):
        worker = create_app(app_config)
        worker.test_client_class = FreshContextClient
        workers.append(worker.test_client())
    headers = {"Authorization": f"Bearer {host_token}"}
    statuses = [workers[n % 2].get("/api/v1/games", headers=headers).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


def test_a_request_looks_its_token_up_once_for_the_limiter_and_the_authentication(
    app, api, database
):
    from sqlalchemy import event

    from app.extensions import db

    lookups = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM api_tokens" in statement:
            lookups.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert api.get("").status_code == 200
        assert api.create().status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(lookups) == 2
