"""Operator CLI groups: ``users``, ``guilds`` (accounts.py), ``images`` (images.py) and
``db grant`` (database.py); ``discord ...`` lives in app/discord/cli.py."""

from flask import Flask


def register(app: Flask) -> None:
    """Attach the CLI groups to the app (``db grant`` joins Flask-Migrate's group)."""
    from app.commands import database  # noqa: F401  (registers db grant)
    from app.commands.accounts import guilds_cli, users_cli
    from app.commands.images import images_cli
    from app.discord.cli import discord_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(guilds_cli)
    app.cli.add_command(images_cli)
    app.cli.add_command(discord_cli)
