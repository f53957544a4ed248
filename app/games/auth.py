"""Bearer-token authentication of the games API, and the guild context it sets."""

import uuid

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.extensions import db
from app.guild_context import set_guild_context
from app.services.accounts import authenticate_token, guild_ids_of
from app.transactions import run_in_transaction

SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token"}
SECURITY = [{"bearerAuth": []}]


def authenticate_request() -> None:
    """Before every games request: identify the user, or answer 401 with WWW-Authenticate.

    Authentication is its own short transaction, committed (with the ``last_used_at`` stamp)
    before the view reads the body: no connection sits idle in a transaction, holding the
    token's row, while a client sends its upload or Pillow decodes it (SPEC §11).
    """
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise _unauthorized("Missing API token: send Authorization: Bearer <token>", None)
    identity = run_in_transaction(lambda: _identify(credentials.token))
    if identity is None:
        raise _unauthorized("Invalid or revoked API token", "invalid_token")
    g.user_id, guild_ids = identity
    # Applied at the start of each later transaction of this request (app/guild_context.py).
    set_guild_context(db.session(), guild_ids)


def _identify(token: str) -> tuple[uuid.UUID, list] | None:
    user = authenticate_token(token)
    return None if user is None else (user.id, guild_ids_of(user))


def current_user_id() -> uuid.UUID:
    """The id of the user this request authenticated."""
    return g.user_id


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"error": error} if error else None)
    return Unauthorized(description=message, www_authenticate=challenge)
