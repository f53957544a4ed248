"""Schemathesis against /api/v1/openapi.json: no 5xx, every answer as the schema documents it."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_headers_conformance

from app.games.schemas import EXAMPLE_GUILD_ID
from tests.games.conftest import RED, Api
from tests.schema_checks import RESPONSE_CHECKS

CHECKS = [*RESPONSE_CHECKS, response_headers_conformance]
EXAMPLES_PER_RUN = 50


@pytest.fixture
def app_config(app_config):
    """Hundreds of calls and uploads by one user: the rate limits are tested elsewhere."""
    unmeasured = "1000000/minute"
    return {**app_config, "API_RATE_LIMITS": unmeasured, "UPLOAD_RATE_LIMITS": unmeasured}


@pytest.fixture
def games_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).include(tag="games")


def _fuzz(strategy, headers: dict) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_RUN,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_openapi_lists_every_games_route_under_the_games_tag(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    games_paths = {
        path: set(ops) - {"parameters"} for path, ops in spec["paths"].items() if "/games" in path
    }
    assert games_paths == {
        "/api/v1/games": {"get", "post"},
        "/api/v1/games/{game_id}": {"get", "put", "delete"},
        "/api/v1/games/{game_id}/clone": {"post"},
        "/api/v1/games/{game_id}/discord-message": {"get"},
    }
    for path, methods in games_paths.items():
        for operation in (spec["paths"][path][method] for method in methods):
            assert operation["tags"] == ["games"]
            assert operation["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create = spec["paths"]["/api/v1/games"]["post"]["requestBody"]["content"]
    assert set(create) == {
        "multipart/form-data",
        "application/json",
        "application/x-www-form-urlencoded",
    }


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    games_schema, client, database
):
    token = database.create_token("schema-user", EXAMPLE_GUILD_ID)
    headers = {"Authorization": f"Bearer {token}"}
    game = Api(client, token).create(guild_id=EXAMPLE_GUILD_ID, files={"thumbnail": RED})
    game_id = game.get_json()["id"]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        _fuzz(games_schema.as_strategy(mode, headers=headers), headers)
        # Again on a real game of the user (kept, not deleted), so the 2xx paths run too.
        _fuzz(
            games_schema.include(path_regex="game_id")
            .exclude(method="DELETE")
            .as_strategy(mode, headers=headers, path_parameters={"game_id": game_id}),
            headers,
        )
