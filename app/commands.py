"""Operator CLI: ``users create-token``, ``db grant``, ``guilds set-webhook``, ``images ...``."""

import re

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate.cli import db as db_group
from sqlalchemy import text

from app.extensions import db
from app.services import accounts

users_cli = AppGroup("users", help="Users and their API tokens.")
guilds_cli = AppGroup("guilds", help="Discord guilds.")

APP_ROLE_GRANTS = {
    "guilds": "SELECT",
    "users": "SELECT",
    "guild_members": "SELECT",
    "api_tokens": "SELECT, UPDATE (last_used_at)",
    "game_sessions": "SELECT, INSERT, UPDATE, DELETE",
    "game_images": "SELECT, INSERT, UPDATE, DELETE",
}
PUBLIC_ROLE_GRANTS = {"game_images": "SELECT"}


@users_cli.command("create-token")
@click.argument("discord_user_id")
@click.option("--guild", "guilds", multiple=True, required=True, help="Discord guild id.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def create_token_command(discord_user_id: str, guilds: tuple[str, ...], name: str) -> None:
    """Create the user, guilds and memberships as needed; print a new token last."""
    try:
        token = accounts.create_token(discord_user_id, list(guilds), name)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(f"Token for Discord user {discord_user_id} (store it now, it is not kept):")
    click.echo(token)


@guilds_cli.command("set-webhook")
@click.argument("discord_guild_id")
@click.argument("url")
def set_webhook_command(discord_guild_id: str, url: str) -> None:
    """Set the guild's Discord webhook URL (an empty URL clears it)."""
    if url and not re.match(r"^https?://", url):
        raise click.BadParameter("the webhook URL must be http(s)", param_hint="URL")
    accounts.set_guild_webhook(discord_guild_id, url)
    db.session.commit()
    click.echo(f"Webhook {'set' if url else 'cleared'} for guild {discord_guild_id}")


def _grant_statements(role: str, grants: dict[str, str], quote) -> list[str]:
    role_q = quote(role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role_q}",
        f"GRANT CONNECT ON DATABASE {quote(_current_database())} TO {role_q}",
        f"GRANT USAGE ON SCHEMA public TO {role_q}",
    ]
    statements += [f"GRANT {privs} ON {table} TO {role_q}" for table, privs in grants.items()]
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
    for statement in _grant_statements(app_role, APP_ROLE_GRANTS, quote):
        db.session.execute(text(statement))
    for statement in _grant_statements(public_role, PUBLIC_ROLE_GRANTS, quote):
        db.session.execute(text(statement))
    db.session.commit()
    click.echo(f"Granted: {app_role} (games API), {public_role} (SELECT on game_images only)")


def register(app: Flask) -> None:
    """Attach the CLI groups to the app (``db grant`` joins Flask-Migrate's group)."""
    app.cli.add_command(users_cli)
    app.cli.add_command(guilds_cli)
