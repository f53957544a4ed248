"""Bearer-token authentication of the games API, and the guild context it sets."""

import uuid

from flask import g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.extensions import db
from app.guild_context import set_guild_context
from app.models.user import User
from app.request_memo import once_per_request
from app.services.accounts import authenticate_token, guild_ids_of

SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token"}
SECURITY = [{"bearerAuth": []}]
AUTHENTICATED_KEY = "api_token_user"


def authenticate_request() -> None:
    """Before every games request: identify the user, or answer 401 with WWW-Authenticate."""
    token = _bearer_token()
    if token is None:
        raise _unauthorized("Missing API token: send Authorization: Bearer <token>", None)
    # The last_used_at stamp stays pending until the request's own work flushes it, so the
    # token's row is not locked while uploads are being sanitised.
    with db.session.no_autoflush:
        user = _user_of(token)
        if user is None:
            db.session.rollback()
            raise _unauthorized("Invalid or revoked API token", "invalid_token")
        g.user_id = user.id
        set_guild_context(db.session(), guild_ids_of(user))


def token_user_id() -> uuid.UUID | None:
    """The user of the request's live token, or None; never raises (the rate limiter asks).

    Flask-Limiter checks before the blueprint authenticates: the lookup made here is kept
    for ``authenticate_request``, so a request is authenticated once.
    """
    token = _bearer_token()
    if token is None:
        return None
    try:
        with db.session.no_autoflush:
            user = _user_of(token)
    except SQLAlchemyError:  # authenticate_request meets it again and answers 503
        db.session.rollback()
        return None
    return None if user is None else user.id


def _bearer_token() -> str | None:
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        return None
    return credentials.token


def _user_of(token: str) -> User | None:
    """The live token's user, looked up once per request (and per token)."""
    return once_per_request(AUTHENTICATED_KEY, token, authenticate_token)


def current_user_id() -> uuid.UUID:
    """The id of the user this request authenticated."""
    return g.user_id


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"error": error} if error else None)
    return Unauthorized(description=message, www_authenticate=challenge)
