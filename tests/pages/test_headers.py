"""Security headers on every page answer (SPEC §6), and no inline script for the CSP to allow."""

import re
from pathlib import Path

import pytest

from config import ProductionConfig
from tests.pages.conftest import create_game, game_id_of, png, submit

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "pages" / "templates"
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def _assert_page_headers(response) -> None:
    directives = _directives(response)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_kind_of_page_answer_carries_the_headers(client, database, host):
    game_id = game_id_of(create_game(client, thumbnail=png()))
    answers = {
        "list": client.get("/games"),
        "details": client.get(f"/games/{game_id}"),
        "form": client.get(f"/games/{game_id}/edit"),
        "not found": client.get("/games/00000000-0000-0000-0000-000000000000"),
        "redirect": submit(client, "/logout", form_page="/games"),
        "login": client.get("/login?next=/%09/evil.example"),
        "stylesheet": client.get("/pages/static/pages.css"),
        "script": client.get("/pages/static/pages.js"),
    }
    assert answers["not found"].status_code == 404 and answers["redirect"].status_code == 303
    for name, response in answers.items():
        assert "Content-Security-Policy" in response.headers, name
        _assert_page_headers(response)
    assert "Strict-Transport-Security" not in answers["list"].headers


def test_the_public_image_endpoint_keeps_its_own_headers(client, database, host):
    game_id = game_id_of(create_game(client, thumbnail=png()))
    thumbnail_id = database.scalar(
        "SELECT thumbnail_id FROM game_sessions WHERE id = :id", id=game_id
    )
    response = client.get(f"/api/v1/public/images/{thumbnail_id}")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "X-Frame-Options" not in response.headers
    assert "Referrer-Policy" not in response.headers


@pytest.fixture
def app_config(app_config, request):
    """The test settings, plus the production HSTS value when the test asks for it."""
    if getattr(request, "param", None) != "hsts":
        return app_config
    return {**app_config, "STRICT_TRANSPORT_SECURITY": ProductionConfig.STRICT_TRANSPORT_SECURITY}


@pytest.mark.parametrize("app_config", ["hsts"], indirect=True)
def test_production_adds_strict_transport_security_to_pages_only(client, database):
    assert ProductionConfig.STRICT_TRANSPORT_SECURITY.startswith("max-age=")
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"] == (
        ProductionConfig.STRICT_TRANSPORT_SECURITY
    )
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_no_template_has_an_inline_script_or_event_handler():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template.name
        assert not INLINE_HANDLER.search(text), template.name


def test_rendered_pages_load_scripts_only_from_this_site(client, database, host):
    game_id = game_id_of(create_game(client))
    for path in ("/games", f"/games/{game_id}", f"/games/{game_id}/edit", "/games/new"):
        html = client.get(path).get_data(as_text=True)
        assert not INLINE_SCRIPT.search(html) and not INLINE_HANDLER.search(html), path
        assert '<script src="/pages/static/pages.js" defer></script>' in html
    assert 'data-confirm="Delete this game?"' in client.get(f"/games/{game_id}/edit").get_data(
        as_text=True
    )
