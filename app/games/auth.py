"""Bearer-token authentication of the games API, and the guild context it sets."""

import uuid

from flask import g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.extensions import db
from app.guild_context import set_guild_context
from app.request_memo import once_per_request
from app.services.accounts import authenticate_token, guild_ids_of
from app.transactions import run_in_transaction

SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token"}
SECURITY = [{"bearerAuth": []}]
AUTHENTICATED_KEY = "api_token_user"


def authenticate_request() -> None:
    """Before every games request: identify the user, or answer 401 with WWW-Authenticate."""
    token = _bearer_token()
    if token is None:
        raise _unauthorized("Missing API token: send Authorization: Bearer <token>", None)
    identity = _identity_of(token)
    if identity is None:
        raise _unauthorized("Invalid or revoked API token", "invalid_token")
    g.user_id, guild_ids = identity
    # Applied at the start of each later transaction of this request (app/guild_context.py).
    set_guild_context(db.session(), guild_ids)


def token_user_id() -> uuid.UUID | None:
    """The user of the request's live token, or None; never raises (the rate limiter asks).

    Flask-Limiter checks before the blueprint authenticates: the lookup made here is kept
    for ``authenticate_request``, so a request is authenticated once.
    """
    token = _bearer_token()
    if token is None:
        return None
    try:
        identity = _identity_of(token)
    except SQLAlchemyError:  # authenticate_request meets it again and answers 503
        return None
    return None if identity is None else identity[0]


def _bearer_token() -> str | None:
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        return None
    return credentials.token


def _identity_of(token: str) -> tuple[uuid.UUID, list] | None:
    """(user id, guild ids) of the live token, looked up once per request.

    The lookup is its own short transaction, committed (with the ``last_used_at`` stamp) before
    anything reads the body — the upload limit's file check, the view: no connection sits idle
    in a transaction, holding the token's row, while a client sends its upload or Pillow
    decodes it (SPEC §11).
    """
    return once_per_request(
        AUTHENTICATED_KEY, token, lambda key: run_in_transaction(lambda: _identify(key))
    )


def _identify(token: str) -> tuple[uuid.UUID, list] | None:
    user = authenticate_token(token)
    return None if user is None else (user.id, guild_ids_of(user))


def current_user_id() -> uuid.UUID:
    """The id of the user this request authenticated."""
    return g.user_id


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"error": error} if error else None)
    return Unauthorized(description=message, www_authenticate=challenge)
