"""Every PostgreSQL connection of the app runs under DATABASE_STATEMENT_TIMEOUT (SPEC §11)."""

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db


def test_both_engines_default_to_a_15_second_statement_timeout(app):
    with app.app_context():
        for engine in (db.engine, db.engines["public"]):
            with engine.connect() as connection:
                assert connection.execute(text("SHOW statement_timeout")).scalar() == "15s"


@pytest.mark.parametrize("bind", [None, "public"])
def test_a_statement_running_longer_than_the_timeout_is_cancelled(app_config, bind):
    app = create_app({**app_config, "DATABASE_STATEMENT_TIMEOUT": 0.3})
    with app.app_context(), db.engines[bind].connect() as connection:
        assert connection.execute(text("SELECT pg_sleep(0.1)")).all()  # within it: fine
        with pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(2)"))


def test_a_cancelled_statement_answers_json_503_on_the_api(app_config, database):
    app = create_app({**app_config, "DATABASE_STATEMENT_TIMEOUT": 0.2})
    token = database.create_token("timeout-user", "timeout-guild")
    # A lock the owner holds makes the API's token lookup wait past the timeout.
    with psycopg.connect(database.pg.libpq_url(database.pg.owner)) as owner:
        owner.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
        response = app.test_client().get(
            "/api/v1/games", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 503
    assert "message" in response.get_json()
