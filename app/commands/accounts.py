"""``users ...`` and ``guilds ...``: tokens, names, memberships, webhooks and deletions."""

import re

import click
from flask.cli import AppGroup

from app.commands.common import committed, enter_maintenance, when
from app.extensions import db
from app.services import accounts, operations

users_cli = AppGroup("users", help="Users and their API tokens.")
guilds_cli = AppGroup("guilds", help="Discord guilds.")


@users_cli.command("create-token")
@click.argument("discord_user_id")
@click.option("--guild", "guilds", multiple=True, required=True, help="Discord guild id.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--display-name", help="The user's name as the pages show it.")
def create_token_command(
    discord_user_id: str, guilds: tuple[str, ...], name: str, display_name: str | None
) -> None:
    """Create the user, guilds and memberships as needed; print a new token last."""
    token = committed(
        lambda: accounts.create_token(discord_user_id, list(guilds), name, display_name)
    )
    click.echo(f"Token for Discord user {discord_user_id} (store it now, it is not kept):")
    click.echo(token)


@users_cli.command("list-tokens")
@click.argument("discord_user_id")
def list_tokens_command(discord_user_id: str) -> None:
    """The user's tokens: name, created, last used, revoked (never the token itself)."""
    tokens = committed(lambda: accounts.tokens_of(discord_user_id))
    click.echo(f"{'NAME':<24} {'CREATED':<21} {'LAST USED':<21} REVOKED")
    for token in tokens:
        click.echo(
            f"{token.name:<24} {when(token.created_at):<21} "
            f"{when(token.last_used_at):<21} {when(token.revoked_at)}"
        )
    click.echo(f"{len(tokens)} token(s), {sum(t.revoked_at is None for t in tokens)} active")


@users_cli.command("revoke-token")
@click.argument("discord_user_id")
@click.option("--name", help="Revoke only the active tokens with this name.")
def revoke_token_command(discord_user_id: str, name: str | None) -> None:
    """Revoke the user's active tokens (or those named NAME); their page sessions end."""
    revoked = committed(lambda: accounts.revoke_tokens(discord_user_id, name))
    for token in revoked:
        click.echo(f"revoked token {token.name!r} (created {when(token.created_at)})")
    which = f" named {name!r}" if name else ""
    click.echo(f"{len(revoked)} token(s){which} revoked for Discord user {discord_user_id}")


@guilds_cli.command("set-name")
@click.argument("discord_guild_id")
@click.argument("name")
def set_name_command(discord_guild_id: str, name: str) -> None:
    """Name the guild as its members know it (the pages show it)."""
    guild = committed(lambda: accounts.set_guild_name(discord_guild_id, name))
    click.echo(f"Guild {discord_guild_id} is now named {guild.name!r}")


@guilds_cli.command("remove-member")
@click.argument("discord_guild_id")
@click.argument("discord_user_id")
def remove_member_command(discord_guild_id: str, discord_user_id: str) -> None:
    """Take the user out of the guild at once; the games they host there are kept."""
    removed = committed(lambda: accounts.remove_member(discord_guild_id, discord_user_id))
    if removed:
        click.echo(f"Removed Discord user {discord_user_id} from guild {discord_guild_id}")
    else:
        click.echo(f"Discord user {discord_user_id} was not a member of guild {discord_guild_id}")


@guilds_cli.command("delete")
@click.argument("discord_guild_id")
def delete_guild_command(discord_guild_id: str) -> None:
    """Delete the guild with all its games (images released, Discord messages deleted)."""
    enter_maintenance()
    removal = committed(lambda: operations.delete_guild(discord_guild_id))
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
    enter_maintenance()
    removal = committed(lambda: operations.delete_user(discord_user_id))
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
