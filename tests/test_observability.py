"""Every response carries a request id; a well-formed one from the proxy is kept."""

import re

import pytest


@pytest.mark.sqlite_too
def test_every_response_gets_a_fresh_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/nowhere").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


def test_well_formed_request_id_from_proxy_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-42.abc"})
    assert response.headers["X-Request-ID"] == "edge-42.abc"


def test_malformed_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_every_log_line_of_gunicorn_and_the_app_is_json_with_the_request_id(
    database, redis_prefix, tmp_path
):
    import json
    import uuid

    import requests

    from tests.reliability.conftest import stack_env
    from tests.servers import Gunicorn

    broken_public = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    env = stack_env(database, redis_prefix, PUBLIC_DATABASE_URL=broken_public)
    server = Gunicorn(env, workers=2, log_dir=tmp_path).start()
    try:
        image = requests.get(f"{server.url}/api/v1/public/images/{uuid.uuid4()}", timeout=10)
        ready = requests.get(server.url + "/readyz", timeout=10)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]

    assert image.status_code == 503 and ready.status_code == 503
    assert ready.json()["down"] == ["public_database"]
    request_id = image.headers["X-Request-ID"]
    by_request = [line for line in lines if line.get("request_id") == request_id]
    assert {line["logger"] for line in by_request} == {"app.errors", "gunicorn.access"}
    access = next(line for line in by_request if line["logger"] == "gunicorn.access")
    assert access["status"] == "503" and access["path"].startswith("/api/v1/public/images/")
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # boot and shutdown
