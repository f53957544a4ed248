"""Least privilege: the public endpoint reads as the public role, which sees game_images only."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.extensions import db
from tests.cli import modules_loaded_by


def test_public_engine_connects_as_the_public_role(app, database):
    with app.app_context(), db.engines["public"].connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar() == database.pg.public_role
        assert connection.execute(text("SELECT count(*) FROM game_images")).scalar() == 0


@pytest.mark.parametrize("table", ["game_sessions", "guilds", "users", "api_tokens"])
def test_public_engine_role_cannot_select_other_tables(app, table):
    with (
        app.app_context(),
        db.engines["public"].connect() as connection,
        pytest.raises(ProgrammingError, match="permission denied"),
    ):
        connection.execute(text(f"SELECT * FROM {table}"))


def test_public_package_imports_no_other_model_nor_the_games_service():
    loaded = modules_loaded_by("app.public")

    assert "app.public.views" in loaded
    for forbidden in (
        "app.models.game_session",
        "app.models.guild",
        "app.models.user",
        "app.services.games",
        "app.services.accounts",
        "app.games",
    ):
        assert forbidden not in loaded
