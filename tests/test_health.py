import pytest

from app import create_app
from tests.servers import RedisServer


@pytest.mark.sqlite_too
def test_healthz_answers_ok_when_database_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_answers_503_json_when_database_unreachable(app_config):
    app_config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    response = create_app(app_config).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["message"] == "Database unreachable"


BROKEN_URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def test_readyz_is_ready_when_both_databases_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "database": "ok",
        "public_database": "ok",
        "redis": "ok",
    }


def test_readyz_names_a_broken_public_database_with_503(app_config):
    app_config["PUBLIC_DATABASE_URL"] = BROKEN_URL
    response = create_app(app_config).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["public_database"] and body["database"] == "ok"
    assert "public image endpoint's database" in body["message"]


def test_readyz_names_a_broken_app_database_with_503(app_config):
    app_config["SQLALCHEMY_DATABASE_URI"] = BROKEN_URL
    response = create_app(app_config).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["database"]
    assert "the app's database" in response.get_json()["message"]


def test_readyz_stays_ready_but_degraded_when_redis_is_stopped(app_config):
    redis_server = RedisServer().start()
    app_config["RATELIMIT_STORAGE_URI"] = redis_server.url
    client = create_app(app_config).test_client()
    assert client.get("/readyz").get_json()["redis"] == "ok"
    redis_server.stop()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "degraded"


def test_readyz_says_redis_is_unused_with_in_memory_limits(app_config):
    app_config["RATELIMIT_STORAGE_URI"] = "memory://"
    response = create_app(app_config).test_client().get("/readyz")
    assert response.status_code == 200 and response.get_json()["redis"] == "unused"
