"""Bearer-token authentication of the games API, and the guild context it sets."""

import uuid

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.extensions import db
from app.guild_context import set_guild_context
from app.services.accounts import authenticate_token, guild_ids_of

SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token"}
SECURITY = [{"bearerAuth": []}]


def authenticate_request() -> None:
    """Before every games request: identify the user, or answer 401 with WWW-Authenticate."""
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise _unauthorized("Missing API token: send Authorization: Bearer <token>", None)
    # The last_used_at stamp stays pending until the request's own work flushes it, so the
    # token's row is not locked while uploads are being sanitised.
    with db.session.no_autoflush:
        user = authenticate_token(credentials.token)
        if user is None:
            db.session.rollback()
            raise _unauthorized("Invalid or revoked API token", "invalid_token")
        g.user_id = user.id
        set_guild_context(db.session(), guild_ids_of(user))


def current_user_id() -> uuid.UUID:
    """The id of the user this request authenticated."""
    return g.user_id


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"error": error} if error else None)
    return Unauthorized(description=message, www_authenticate=challenge)
