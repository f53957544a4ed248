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
