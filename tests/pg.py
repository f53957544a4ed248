"""Throwaway PostgreSQL databases with the three roles of SPEC §4, migrated for real."""

import dataclasses
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

TABLES = [
    "page_sessions",
    "discord_deliveries",
    "game_sessions",
    "game_images",
    "api_tokens",
    "guild_members",
    "users",
    "guilds",
]


@dataclasses.dataclass
class PgDatabase:
    """A database owned by a plain (non-superuser) owner role, plus app and public roles."""

    admin_url: str
    name: str
    owner: str
    app_role: str
    public_role: str

    def url(self, role: str, driver: str = "postgresql+psycopg") -> str:
        admin = make_url(self.admin_url)
        return str(admin.set(drivername=driver, username=role, password=None, database=self.name))

    @property
    def owner_url(self) -> str:
        return self.url(self.owner)

    @property
    def app_url(self) -> str:
        return self.url(self.app_role)

    @property
    def public_url(self) -> str:
        return self.url(self.public_role)

    def libpq_url(self, role: str) -> str:
        return self.url(role, driver="postgresql")


def _admin(admin_url: str) -> psycopg.Connection:
    return psycopg.connect(admin_url, autocommit=True)


def create_database(admin_url: str, label: str = "t") -> PgDatabase:
    """Create the roles (LOGIN, no superuser, no BYPASSRLS) and an empty database."""
    suffix = f"{label}_{secrets.token_hex(4)}"
    database = PgDatabase(
        admin_url,
        f"gamenight_{suffix}",
        f"gn_owner_{suffix}",
        f"gn_app_{suffix}",
        f"gn_public_{suffix}",
    )
    with _admin(admin_url) as conn:
        for role in (database.owner, database.app_role, database.public_role):
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                ).format(sql.Identifier(role))
            )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database.name), sql.Identifier(database.owner)
            )
        )
    with psycopg.connect(_db_admin_url(database), autocommit=True) as conn:
        # As on managed services: the owner owns the schema; nobody else may create in it.
        conn.execute(
            sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(database.owner))
        )
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    return database


def _db_admin_url(database: PgDatabase) -> str:
    return str(make_url(database.admin_url).set(database=database.name))


def drop_database(database: PgDatabase) -> None:
    """Drop the database (closing its connections) and its roles."""
    with _admin(database.admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name))
        )
        for role in (database.owner, database.app_role, database.public_role):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def truncate_all(database: PgDatabase) -> None:
    """Empty every table (as the owner) so each test starts from a clean state."""
    with psycopg.connect(database.libpq_url(database.owner), autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")


@contextmanager
def migrated_database(admin_url: str, label: str = "t") -> Iterator[PgDatabase]:
    """A throwaway database migrated by its owner, the runtime roles granted; dropped after."""
    from tests.cli import flask_cli

    database = create_database(admin_url, label=label)
    try:
        flask_cli(database.owner_url, "db", "upgrade")
        flask_cli(
            database.owner_url,
            "db",
            "grant",
            "--app-role",
            database.app_role,
            "--public-role",
            database.public_role,
        )
        yield database
    finally:
        drop_database(database)
