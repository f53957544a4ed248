"""Page sessions: a signed cookie holding a session secret whose row lives in the database."""

import datetime as dt
import functools
import re
import uuid
from urllib.parse import quote, urlsplit

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.guild_context import set_guild_context
from app.models.guild import Guild
from app.request_memo import once_per_request
from app.services.accounts import guild_ids_of, guilds_of
from app.services.sessions import end_page_session, start_page_session, user_of_page_session
from app.transactions import run_in_transaction

# Not the old "token_hash": cookies from before server-side sessions open nothing.
SESSION_KEY = "page_session"
SESSION_USER_KEY = "page_session_user"
MAX_NEXT_LENGTH = 2048
BROWSER_DROPPED = re.compile("[\t\n\r]")
C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
URL_SAFE = "/?#[]@!$&'()*+,;=%:~"


def log_in(token: str) -> bool:
    """Open a page session for a live API token; False for an unknown or revoked one."""
    lifetime = current_app.permanent_session_lifetime
    secret = run_in_transaction(lambda: start_page_session(token.strip(), lifetime))
    if secret is None:
        return False
    session.clear()
    session.permanent = True  # the cookie expires with the row: SESSION_LIFETIME_HOURS
    session[SESSION_KEY] = secret
    return True


def log_out() -> None:
    """End the session in the database (every copy of the cookie) and forget it here."""
    secret = session.get(SESSION_KEY)
    if secret is not None:
        run_in_transaction(lambda: end_page_session(secret))
    session.clear()


def load_user() -> None:
    """Before every page: the session's user (while the session lives) and guild context."""
    g.user_id = g.discord_user_id = None
    if session.get(SESSION_KEY) is None:
        return
    found = _session_identity()
    if found is None:  # logged out, expired or its token revoked: the cookie opens nothing
        session.clear()
        return
    g.user_id, g.discord_user_id, guild_ids = found
    # Without this, row-level security shows a PostgreSQL app-role session no games at all.
    set_guild_context(db.session, guild_ids)


def session_user_id() -> uuid.UUID | None:
    """The live session's user id, or None; never raises (the rate limiter asks first).

    The lookup is kept for ``load_user``, so a page request looks its session up once.
    """
    try:
        found = _session_identity()
    except SQLAlchemyError:  # load_user meets it again and answers 503
        return None
    return None if found is None else found[0]


def _session_identity() -> tuple[uuid.UUID, str, list] | None:
    """(user id, Discord id, guild ids) of the live session, looked up once per request.

    The lookup is its own transaction, committed before anything reads the form (the CSRF
    check, the upload limit, the view): no connection stays idle in a transaction while an
    upload arrives or is decoded (SPEC §11).
    """
    secret = session.get(SESSION_KEY)
    if secret is None:
        return None
    return once_per_request(
        SESSION_USER_KEY, secret, lambda key: run_in_transaction(lambda: _identify(key))
    )


def _identify(secret: str) -> tuple[uuid.UUID, str, list] | None:
    user = user_of_page_session(secret)
    return None if user is None else (user.id, user.discord_user_id, guild_ids_of(user))


def configure_sessions(state) -> None:
    """The session cookie lives as long as its row: SESSION_LIFETIME_HOURS."""
    hours = float(state.app.config["SESSION_LIFETIME_HOURS"])
    state.app.permanent_session_lifetime = dt.timedelta(hours=hours)


def login_required(view):
    """Send visitors without a live session to /login, coming back afterwards."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.user_id is None:
            return redirect(url_for("pages.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else means the game list.

    Decided on the URL as a browser reads it (WHATWG URL): tabs and newlines are dropped,
    leading and trailing controls and spaces trimmed, and ``\\`` is a ``/``. What remains
    must have no scheme and no host, and a path starting with exactly one ``/``.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return url_for("pages.games_page")
    as_read = BROWSER_DROPPED.sub("", target).strip(C0_AND_SPACE).replace("\\", "/")
    try:
        parts = urlsplit(as_read)
    except ValueError:  # e.g. an unbalanced "[" where a host would be
        return url_for("pages.games_page")
    # urlsplit drops an empty host ("///x" has path "/x"): the string itself must start so too.
    single_slash = re.match(r"/(?!/)", as_read) and re.match(r"/(?!/)", parts.path)
    if parts.scheme or parts.netloc or not single_slash:
        return url_for("pages.games_page")
    # Other controls, spaces and non-ASCII are percent-encoded, as the browser would send them.
    return quote(as_read, safe=URL_SAFE)


def member_guilds(user_id: uuid.UUID) -> list[tuple[str, str]]:
    """(Discord id, label) of the user's guilds, for the guild select."""
    return [(guild.discord_guild_id, _guild_label(guild)) for guild in guilds_of(user_id)]


def _guild_label(guild: Guild) -> str:
    if guild.name == guild.discord_guild_id:
        return guild.name
    return f"{guild.name} ({guild.discord_guild_id})"
