"""Behind one proxy (TRUSTED_PROXY_HOPS=1) the app sees the client's address and scheme."""

import pytest
from flask import jsonify, request

from app import create_app


@pytest.fixture
def proxied_client(app_config):
    app = create_app({**app_config, "TRUSTED_PROXY_HOPS": 1})
    app.add_url_rule(
        "/seen", "seen", lambda: jsonify(scheme=request.scheme, address=request.remote_addr)
    )
    return app.test_client()


def test_scheme_and_address_come_from_the_proxy_entries(proxied_client):
    seen = proxied_client.get(
        "/seen",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"},
    ).get_json()
    assert seen == {"scheme": "https", "address": "203.0.113.9"}


def test_a_scheme_forged_before_the_proxy_is_ignored(proxied_client):
    seen = proxied_client.get("/seen", headers={"X-Forwarded-Proto": "https, http"}).get_json()
    assert seen["scheme"] == "http"


def test_health_and_readiness_never_redirect_behind_tls(proxied_client):
    for path in ("/healthz", "/readyz"):
        response = proxied_client.get(path, headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and "Location" not in response.headers


def test_without_trusted_hops_the_headers_are_ignored(app_config):
    app = create_app(app_config)
    app.add_url_rule("/seen", "seen", lambda: jsonify(scheme=request.scheme))
    response = app.test_client().get("/seen", headers={"X-Forwarded-Proto": "https"})
    assert response.get_json()["scheme"] == "http"
