"""A schemathesis pass over the whole OpenAPI document, against a live gunicorn."""

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.reliability.conftest import StatusLog, png, stack_env
from tests.schema_checks import RESPONSE_CHECKS

CHECKS = RESPONSE_CHECKS


def test_every_documented_operation_answers_as_documented_and_never_5xx(
    database, redis_prefix, start_gunicorn, report
):
    token = database.create_token("schema-live", "schema-guild")
    server = start_gunicorn(stack_env(database, redis_prefix))
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(
        server.url + "/api/v1/games",
        headers=headers,
        timeout=10,
        data={
            "guild_id": "schema-guild",
            "title": "Schema",
            "scheduled_at": "2026-12-24T20:00:00Z",
        },
        files={"thumbnail": ("a.png", png((5, 5, 5)), "image/png")},
    )
    assert created.status_code == 201, created.text
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    operations = {op.ok().label for op in schema.get_all_operations()}
    log = StatusLog()

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=schema.as_strategy(mode, headers=headers))
        @settings(
            max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case) -> None:
            response = case.call(headers=headers, timeout=15)
            log.record(response.status_code, f"{case.method} {case.formatted_path}")
            case.validate_response(response, checks=CHECKS, headers=headers)

        run()

    report.update(
        operations=len(operations),
        requests=log.total,
        by_status=dict(sorted(log.by_status.items())),
    )
    assert any("public" in label for label in operations)
    assert log.server_errors() == 0, log.failures
