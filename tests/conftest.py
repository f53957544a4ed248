"""Fixtures: a real, migrated PostgreSQL database with its three roles; SQLite in addition."""

import hashlib
import os
import secrets
import shutil
import uuid

import pytest
import redis as redis_lib
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app import create_app
from tests import pg
from tests.cli import flask_cli

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_generate_tests(metafunc):
    """Tests marked sqlite_too run on both backends; every other test on PostgreSQL."""
    if "backend" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("sqlite_too")
        metafunc.parametrize("backend", ["postgresql", "sqlite"] if marked else ["postgresql"])


@pytest.fixture(scope="session")
def pg_database():
    """One throwaway database for the run, migrated by its owner, with roles granted."""
    with pg.migrated_database(ADMIN_URL) as database:
        yield database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    flask_cli(f"sqlite:///{path}", "db", "upgrade")
    return path


class Database:
    """Direct SQL on the test database, outside the app: a fresh connection per call.

    On PostgreSQL it connects as the owner in maintenance mode, so it sees every row.
    """

    def __init__(self, engine: Engine, app_url: str, public_url: str, pg_database=None):
        self.engine = engine
        self.app_url = app_url
        self.public_url = public_url
        self.pg = pg_database

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _begin(self, connection):
        if self.is_postgresql:
            connection.execute(text("SELECT set_config('app.maintenance', 'on', true)"))

    def execute(self, statement: str, **params):
        """Run a statement in its own committed transaction."""
        with self.engine.begin() as connection:
            self._begin(connection)
            connection.execute(text(statement), params)

    def rows(self, statement: str, **params) -> list:
        with self.engine.begin() as connection:
            self._begin(connection)
            return list(connection.execute(text(statement), params))

    def scalar(self, statement: str, **params):
        with self.engine.begin() as connection:
            self._begin(connection)
            return connection.execute(text(statement), params).scalar()

    def create_token(self, discord_user_id: str, *discord_guild_ids: str) -> str:
        """Create the user, guilds and memberships as needed; return a new API token."""
        user_id = self._ensure("users", "discord_user_id", discord_user_id, "display_name")
        for discord_guild_id in discord_guild_ids:
            guild_id = self._ensure("guilds", "discord_guild_id", discord_guild_id, "name")
            self.execute(
                "INSERT INTO guild_members (id, guild_id, user_id) VALUES (:id, :g, :u) "
                "ON CONFLICT DO NOTHING",
                id=_uuid(self),
                g=guild_id,
                u=user_id,
            )
        token = "gn_" + secrets.token_urlsafe(32)
        self.execute(
            "INSERT INTO api_tokens (id, user_id, token_hash, name) VALUES (:id, :u, :h, 'test')",
            id=_uuid(self),
            u=user_id,
            h=hashlib.sha256(token.encode()).hexdigest(),
        )
        return token

    def _ensure(self, table: str, key: str, value: str, name_column: str):
        found = self.scalar(f"SELECT id FROM {table} WHERE {key} = :v", v=value)
        if found is not None:
            return found
        new_id = _uuid(self)
        self.execute(
            f"INSERT INTO {table} (id, {key}, {name_column}) VALUES (:id, :v, :v)",
            id=new_id,
            v=value,
        )
        return new_id


def _uuid(database: Database):
    """A new UUID in the column format of the backend (native, or 32 hex chars on SQLite)."""
    new = uuid.uuid4()
    return new if database.is_postgresql else new.hex


@pytest.fixture
def database(backend, request, tmp_path):
    """A clean database for this test, on the backend the test is parametrised with."""
    if backend == "postgresql":
        pg_database = request.getfixturevalue("pg_database")
        pg.truncate_all(pg_database)
        engine = create_engine(pg_database.owner_url, poolclass=_null_pool())
        yield Database(engine, pg_database.app_url, pg_database.public_url, pg_database)
    else:
        path = tmp_path / "gamenight.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        engine = create_engine(url, poolclass=_null_pool())
        yield Database(engine, url, url)
    engine.dispose()


def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


@pytest.fixture
def redis_prefix():
    """A key prefix private to this test; its keys are deleted afterwards."""
    prefix = f"gamenight-test-{secrets.token_hex(6)}"
    yield prefix
    client = redis_lib.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def app_config(database, redis_prefix) -> dict:
    """Settings of the app under test; a test may change them before asking for ``app``."""
    return {
        "SQLALCHEMY_DATABASE_URI": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "SECRET_KEY": "test-secret-key",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "BACKEND_URL": "https://gamenight.test",
    }


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production.

    pytest-flask pushes one request context for the whole test, and requests reuse its app
    context: ``g`` (the authenticated user, Flask-WTF's CSRF token) and the database session
    would carry over from one request to the next, and from one user to another.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    """A test client whose requests share nothing but cookies (every test's ``client``)."""
    app.test_client_class = FreshContextClient
    return app.test_client()


@pytest.fixture
def app(app_config):
    """The application under test, connected as the app role (PostgreSQL) like production."""
    application = create_app(app_config)
    yield application
    from app.extensions import db

    with application.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
