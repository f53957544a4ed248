"""Operator CLI: ``users create-token``, ``db grant``, ``guilds set-webhook``, ``images ...``;
``discord ...`` lives in app/discord/cli.py."""

import re
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate.cli import db as db_group
from sqlalchemy import text

from app.discord.cli import discord_cli
from app.extensions import db
from app.services import accounts, image_audit, images, operations
from app.services.errors import ServiceError
from app.services.uploads import MAX_IMAGE_BYTES, sanitise_upload

T = TypeVar("T")

users_cli = AppGroup("users", help="Users and their API tokens.")
guilds_cli = AppGroup("guilds", help="Discord guilds.")
images_cli = AppGroup("images", help="Stored images and their reference counts.")

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


def _committed(work: Callable[[], T]) -> T:
    """Run the work and commit once; roll back on any failure, a service's as a clean error."""
    try:
        result = work()
        db.session.commit()
        return result
    except ServiceError as e:
        db.session.rollback()
        raise click.ClickException(e.message) from e
    except Exception:
        db.session.rollback()
        raise


def _when(moment) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


@users_cli.command("create-token")
@click.argument("discord_user_id")
@click.option("--guild", "guilds", multiple=True, required=True, help="Discord guild id.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--display-name", help="The user's name as the pages show it.")
def create_token_command(
    discord_user_id: str, guilds: tuple[str, ...], name: str, display_name: str | None
) -> None:
    """Create the user, guilds and memberships as needed; print a new token last."""
    token = _committed(
        lambda: accounts.create_token(discord_user_id, list(guilds), name, display_name)
    )
    click.echo(f"Token for Discord user {discord_user_id} (store it now, it is not kept):")
    click.echo(token)


@users_cli.command("list-tokens")
@click.argument("discord_user_id")
def list_tokens_command(discord_user_id: str) -> None:
    """The user's tokens: name, created, last used, revoked (never the token itself)."""
    tokens = _committed(lambda: accounts.tokens_of(discord_user_id))
    click.echo(f"{'NAME':<24} {'CREATED':<21} {'LAST USED':<21} REVOKED")
    for token in tokens:
        click.echo(
            f"{token.name:<24} {_when(token.created_at):<21} "
            f"{_when(token.last_used_at):<21} {_when(token.revoked_at)}"
        )
    click.echo(f"{len(tokens)} token(s), {sum(t.revoked_at is None for t in tokens)} active")


@users_cli.command("revoke-token")
@click.argument("discord_user_id")
@click.option("--name", help="Revoke only the active tokens with this name.")
def revoke_token_command(discord_user_id: str, name: str | None) -> None:
    """Revoke the user's active tokens (or those named NAME); their page sessions end."""
    revoked = _committed(lambda: accounts.revoke_tokens(discord_user_id, name))
    for token in revoked:
        click.echo(f"revoked token {token.name!r} (created {_when(token.created_at)})")
    which = f" named {name!r}" if name else ""
    click.echo(f"{len(revoked)} token(s){which} revoked for Discord user {discord_user_id}")


@guilds_cli.command("set-name")
@click.argument("discord_guild_id")
@click.argument("name")
def set_name_command(discord_guild_id: str, name: str) -> None:
    """Name the guild as its members know it (the pages show it)."""
    guild = _committed(lambda: accounts.set_guild_name(discord_guild_id, name))
    click.echo(f"Guild {discord_guild_id} is now named {guild.name!r}")


@guilds_cli.command("remove-member")
@click.argument("discord_guild_id")
@click.argument("discord_user_id")
def remove_member_command(discord_guild_id: str, discord_user_id: str) -> None:
    """Take the user out of the guild at once; the games they host there are kept."""
    removed = _committed(lambda: accounts.remove_member(discord_guild_id, discord_user_id))
    if removed:
        click.echo(f"Removed Discord user {discord_user_id} from guild {discord_guild_id}")
    else:
        click.echo(f"Discord user {discord_user_id} was not a member of guild {discord_guild_id}")


@guilds_cli.command("delete")
@click.argument("discord_guild_id")
def delete_guild_command(discord_guild_id: str) -> None:
    """Delete the guild with all its games (images released, Discord messages deleted)."""
    _enter_maintenance()
    removal = _committed(lambda: operations.delete_guild(discord_guild_id))
    _report_removal(removal)
    click.echo(
        f"Deleted guild {discord_guild_id}: {len(removal.games)} game(s), "
        f"{removal.images_released} image reference(s) released, "
        f"{removal.rows.memberships} membership(s)"
    )


@users_cli.command("delete")
@click.argument("discord_user_id")
def delete_user_command(discord_user_id: str) -> None:
    """Delete the user with the games they host, their tokens, page sessions and memberships."""
    _enter_maintenance()
    removal = _committed(lambda: operations.delete_user(discord_user_id))
    _report_removal(removal)
    rows = removal.rows
    click.echo(
        f"Deleted user {discord_user_id}: {len(removal.games)} hosted game(s), "
        f"{removal.images_released} image reference(s) released, {rows.tokens} token(s), "
        f"{rows.page_sessions} page session(s), {rows.memberships} membership(s)"
    )


def _report_removal(removal: operations.Removal) -> None:
    for game in removal.games:
        click.echo(
            f"deleted game {game.id} {game.title!r} "
            f"(guild {game.discord_guild_id}, host {game.discord_host_id})"
        )
    if removal.messages_queued:
        click.echo(
            f"{removal.messages_queued} Discord message deletion(s) queued "
            "(delivered by the web workers or `flask discord deliver`)"
        )


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


class NotTheOwner(click.ClickException):
    """The command cannot see every game; exit code 2, unlike the 1 of drift found."""

    exit_code = 2


def _enter_maintenance(snapshot: bool = False) -> None:
    try:
        image_audit.enter_maintenance(snapshot)
    except image_audit.AuditRefused as e:
        raise NotTheOwner(str(e)) from e


@images_cli.command("stats")
def images_stats_command() -> None:
    """Rows, bytes stored, references and bytes saved by deduplication."""
    stats = image_audit.image_stats()
    db.session.rollback()
    click.echo(f"images:       {stats.rows}")
    click.echo(f"bytes stored: {stats.bytes_stored} ({stats.bytes_stored / 2**20:.1f} MiB)")
    click.echo(f"references:   {stats.references}")
    click.echo(
        f"bytes saved:  {stats.bytes_saved} ({stats.bytes_saved / 2**20:.1f} MiB) by deduplication"
    )
    hint = " (not served until `flask images sanitise`)" if stats.unsanitised else ""
    click.echo(f"unsanitised:  {stats.unsanitised}{hint}")


@images_cli.command("sanitise")
def images_sanitise_command() -> None:
    """Sanitise every image not yet sanitised (moved by revision 0002), one commit each."""
    _enter_maintenance()
    image_ids = images.unsanitised_image_ids()
    db.session.rollback()
    if not image_ids:
        click.echo("Nothing to sanitise: every image is sanitised")
        return
    outcomes, refusals, games_changed = Counter(), Counter(), set()
    with click.progressbar(image_ids, label=f"Sanitising {len(image_ids)} image(s)") as bar:
        for image_id in bar:
            outcome, refusal, game_ids = _sanitise_stored_image(image_id)
            outcomes[outcome] += 1
            games_changed.update(game_ids)
            if refusal:
                refusals[refusal] += 1
    _echo_sanitise_summary(outcomes, refusals, len(games_changed))


def _sanitise_stored_image(image_id) -> tuple[str, str | None, list]:
    """Sanitise one stored row and replace it in its games; safe to repeat after a kill."""
    data = images.unsanitised_image_data(image_id)
    db.session.rollback()  # no transaction stays open while the image is decoded
    if data is None:
        return "skipped", None, []  # sanitised or released since the list was read
    refusal = None
    try:
        # Rows of revision 0002 predate the 5 MiB limit; the cost model bounds them still.
        clean = sanitise_upload(data, max_bytes=max(len(data), MAX_IMAGE_BYTES))
    except ServiceError as refused:
        clean, refusal = None, refused.message
    replacement = operations.replace_image(image_id, clean)
    return replacement.outcome, refusal, replacement.game_ids


def _echo_sanitise_summary(outcomes: Counter, refusals: Counter, games: int) -> None:
    click.echo(
        f"Sanitised {sum(outcomes.values())} image(s): {outcomes['cleaned']} cleaned, "
        f"{outcomes['already clean']} already clean, {outcomes['removed']} removed from "
        f"their games (not a real PNG, JPEG, GIF or WebP), {outcomes['unused']} unused, "
        f"{outcomes['skipped']} skipped; {games} game(s) changed"
    )
    for refusal, count in refusals.most_common():
        click.echo(f"  removed {count}: {refusal}")


@images_cli.command("verify")
def images_verify_command() -> None:
    """Check reference counts against game_sessions; exit 1 with a report on any problem."""
    _enter_maintenance(snapshot=True)
    report = image_audit.audit_images()
    db.session.rollback()
    summary = f"{report.images} images, {report.slots} image slots in game_sessions"
    if report.ok:
        click.echo(f"OK: {summary}; every reference count matches")
        return
    problems = len(report.count_problems) + len(report.dangling)
    click.echo(f"FAILED: {summary}; {problems} problem(s):")
    for problem in report.count_problems:
        click.echo(
            f"  {problem.kind:<12} image {problem.image_id}: reference_count "
            f"{problem.stored}, referenced by {problem.referenced} slot(s)"
        )
    for ref in report.dangling:
        click.echo(
            f"  {'dangling FK':<12} game {ref.game_id}: {ref.slot} -> "
            f"{ref.image_id}, which does not exist"
        )
    click.echo("Run `flask images repair` to fix them.")
    click.get_current_context().exit(1)


@images_cli.command("repair")
def images_repair_command() -> None:
    """Recount from game_sessions, delete orphans, clear dangling slots (idempotent)."""
    _enter_maintenance()
    try:
        result = image_audit.repair_images()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if not result.changed:
        click.echo("Nothing to repair: every reference count matches")
        return
    click.echo(
        f"Repaired: {result.counts_corrected} count(s) corrected, "
        f"{result.orphans_deleted} orphan(s) deleted, "
        f"{result.dangling_cleared} dangling slot(s) cleared"
    )


def register(app: Flask) -> None:
    """Attach the CLI groups to the app (``db grant`` joins Flask-Migrate's group)."""
    app.cli.add_command(users_cli)
    app.cli.add_command(guilds_cli)
    app.cli.add_command(images_cli)
    app.cli.add_command(discord_cli)
