"""The pages' rate limits: POST /login per client IP, form uploads in the user's upload budget."""

import pytest

from tests.games.conftest import RED, Api
from tests.pages.conftest import GUILD, create_game, csrf_token_of, game_id_of, png


@pytest.fixture
def app_config(app_config):
    return {**app_config, "LOGIN_RATE_LIMITS": "3/minute", "UPLOAD_RATE_LIMITS": "2/hour"}


def test_the_fourth_login_attempt_in_a_minute_is_a_429_page_and_opens_no_session(client, database):
    token = database.create_token("host-1", GUILD)
    csrf = csrf_token_of(client, "/login")
    attempts = [
        client.post("/login", data={"csrf_token": csrf, "token": f"gn_guess-{n}"}) for n in range(3)
    ]
    assert [response.status_code for response in attempts] == [422, 422, 422]

    refused = client.post("/login", data={"csrf_token": csrf, "token": token})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.mimetype == "text/html"
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert database.scalar("SELECT count(*) FROM page_sessions") == 0
    assert client.get("/games").status_code == 302
    assert client.get("/login").status_code == 200  # showing the form costs nothing


def test_the_login_limit_is_per_client_ip(client, database):
    token = database.create_token("host-1", GUILD)
    csrf = csrf_token_of(client, "/login")
    for n in range(3):
        client.post(
            "/login",
            data={"csrf_token": csrf, "token": f"gn_guess-{n}"},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )
    response = client.post(
        "/login",
        data={"csrf_token": csrf, "token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.8"},
    )
    assert response.status_code == 303
    assert database.scalar("SELECT count(*) FROM page_sessions") == 1


def test_other_pages_do_not_spend_the_login_budget(client, database, log_in):
    token = database.create_token("host-1", GUILD)
    assert log_in(token).status_code == 303
    for _ in range(5):
        assert client.get("/games").status_code == 200
    # log_in already used one attempt: two more fit in the budget of three.
    assert log_in(token).status_code == 303
    assert log_in(token).status_code == 303
    assert log_in(token).status_code == 429


def test_form_uploads_share_the_users_upload_budget_with_the_api(client, database, host):
    api = Api(client, host)
    assert api.create(files={"thumbnail": RED}).status_code == 201
    game_id_of(create_game(client, thumbnail=png()))
    refused = create_game(client, title="One image too many", image=png((5, 5, 5)))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many uploads" in refused.get_data(as_text=True)
    assert database.scalar("SELECT count(*) FROM game_sessions") == 2
    assert database.scalar("SELECT count(*) FROM game_images") == 2
    assert api.create(files={"thumbnail": png((7, 7, 7))}).status_code == 429
    game_id_of(create_game(client, title="No image"))  # a form without a file is no upload
