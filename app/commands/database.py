"""``db grant``: exactly the privileges the app and public roles need (PostgreSQL)."""

import click
from flask_migrate.cli import db as db_group
from sqlalchemy import text

from app.extensions import db

APP_ROLE_GRANTS = {
    # The delivery worker marks a webhook Discord says is gone.
    "guilds": "SELECT, UPDATE (webhook_disabled_at, updated_at)",
    "users": "SELECT",
    "guild_members": "SELECT",
    "api_tokens": "SELECT, UPDATE (last_used_at)",
    "page_sessions": "SELECT, INSERT, DELETE",
    "game_sessions": "SELECT, INSERT, UPDATE, DELETE",
    "game_images": "SELECT, INSERT, UPDATE, DELETE",
    # The outbox: requests queue jobs, delivery workers claim, update and remove them.
    "discord_deliveries": "SELECT, INSERT, UPDATE, DELETE",
}
# Sequences behind the tables' identity columns that the app role inserts into.
APP_ROLE_SEQUENCES = ["discord_deliveries_id_seq"]
PUBLIC_ROLE_GRANTS = {"game_images": "SELECT"}


def _grant_statements(role: str, grants: dict[str, str], quote) -> list[str]:
    role_q = quote(role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role_q}",
        f"GRANT CONNECT ON DATABASE {quote(_current_database())} TO {role_q}",
        f"GRANT USAGE ON SCHEMA public TO {role_q}",
    ]
    statements += [f"GRANT {privs} ON {table} TO {role_q}" for table, privs in grants.items()]
    return statements


def _sequence_statements(role: str, sequences: list[str], quote) -> list[str]:
    role_q = quote(role)
    statements = [f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role_q}"]
    statements += [f"GRANT USAGE ON SEQUENCE {name} TO {role_q}" for name in sequences]
    return statements


def _current_database() -> str:
    return db.session.scalar(text("SELECT current_database()"))


def _refuse_privileged(role: str) -> None:
    row = db.session.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
    ).first()
    if row is None:
        raise click.ClickException(f"role {role!r} does not exist: create it first")
    if row.rolsuper or row.rolbypassrls:
        raise click.ClickException(
            f"role {role!r} is superuser or BYPASSRLS: it would bypass row-level security"
        )


@db_group.command("grant")
@click.option("--app-role", required=True, help="Role the games API connects as.")
@click.option("--public-role", required=True, help="Role the public image endpoint connects as.")
def grant_command(app_role: str, public_role: str) -> None:
    """Grant the app and public roles exactly the privileges they need (PostgreSQL, as owner)."""
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("db grant applies to PostgreSQL only")
    quote = db.engine.dialect.identifier_preparer.quote
    for role in (app_role, public_role):
        _refuse_privileged(role)
    statements = [
        *_grant_statements(app_role, APP_ROLE_GRANTS, quote),
        *_sequence_statements(app_role, APP_ROLE_SEQUENCES, quote),
        *_grant_statements(public_role, PUBLIC_ROLE_GRANTS, quote),
        *_sequence_statements(public_role, [], quote),
    ]
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()
    click.echo(f"Granted: {app_role} (games API), {public_role} (SELECT on game_images only)")
