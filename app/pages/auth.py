"""Page sessions: a signed cookie holding the API token's SHA-256 hash, never the token."""

import functools
import uuid

from flask import g, redirect, request, session, url_for

from app.extensions import db
from app.guild_context import set_guild_context
from app.models.guild import Guild
from app.services.accounts import (
    authenticate_token,
    guild_ids_of,
    guilds_of,
    hash_token,
    user_of_token_hash,
)
from app.transactions import run_in_transaction

SESSION_KEY = "token_hash"


def log_in(token: str) -> bool:
    """Start a session for a live API token; False for an unknown or revoked one."""
    token = token.strip()
    if run_in_transaction(lambda: authenticate_token(token)) is None:
        return False
    session.clear()
    session[SESSION_KEY] = hash_token(token)
    return True


def log_out() -> None:
    """Forget the session's user."""
    session.clear()


def load_user() -> None:
    """Before every page: the session's user (if its token still lives) and guild context.

    The lookup is its own transaction, ended before the view reads the form: no connection
    stays idle in a transaction while an upload arrives or is decoded (SPEC §11).
    """
    g.user_id = g.discord_user_id = None
    token_hash = session.get(SESSION_KEY)
    if token_hash is None:
        return
    found = run_in_transaction(lambda: _session_user(token_hash))
    if found is None:  # revoked since login: the cookie no longer opens anything
        session.clear()
        return
    g.user_id, g.discord_user_id, guild_ids = found
    # Without this, row-level security shows a PostgreSQL app-role session no games at all.
    set_guild_context(db.session, guild_ids)


def _session_user(token_hash: str) -> tuple[uuid.UUID, str, list] | None:
    user = user_of_token_hash(token_hash)
    return None if user is None else (user.id, user.discord_user_id, guild_ids_of(user))


def login_required(view):
    """Send visitors without a live session to /login, coming back afterwards."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.user_id is None:
            return redirect(url_for("pages.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else means the game list."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("pages.games_page")


def member_guilds(user_id: uuid.UUID) -> list[tuple[str, str]]:
    """(Discord id, label) of the user's guilds, for the guild select."""
    return [(guild.discord_guild_id, _guild_label(guild)) for guild in guilds_of(user_id)]


def _guild_label(guild: Guild) -> str:
    if guild.name == guild.discord_guild_id:
        return guild.name
    return f"{guild.name} ({guild.discord_guild_id})"
