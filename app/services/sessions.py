"""Page sessions: a row per logged-in browser, tied to the API token it was opened with.

The cookie carries a random secret; only its SHA-256 is stored. A session is live while its
row exists, has not expired and its token is not revoked: logging out deletes the row, so
every copy of the cookie stops working at once.
"""

import datetime as dt
import secrets

from sqlalchemy import delete, select

from app.extensions import db
from app.models.base import utcnow
from app.models.user import ApiToken, PageSession, User
from app.services.accounts import authenticate_token, hash_token


def start_page_session(token: str, lifetime: dt.timedelta) -> str | None:
    """Open a session for a live API token and return its secret; None for a dead token."""
    user = authenticate_token(token)
    if user is None:
        return None
    token_id = db.session.scalar(select(ApiToken.id).filter_by(token_hash=hash_token(token)))
    now = utcnow()
    # The token's expired sessions go now, so the table stays as small as the live ones.
    db.session.execute(
        delete(PageSession).where(PageSession.token_id == token_id, PageSession.expires_at <= now)
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(
        PageSession(
            token_id=token_id,
            secret_hash=hash_token(secret),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db.session.flush()
    return secret


def user_of_page_session(secret: str) -> User | None:
    """The user of a live session (not ended, not expired, its token not revoked), else None."""
    return db.session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .join(PageSession, PageSession.token_id == ApiToken.id)
        .where(
            PageSession.secret_hash == hash_token(secret),
            PageSession.expires_at > utcnow(),
            ApiToken.revoked_at.is_(None),
        )
    )


def end_page_session(secret: str) -> None:
    """Delete the session: the cookie, and every copy of it, opens nothing any more."""
    db.session.execute(delete(PageSession).where(PageSession.secret_hash == hash_token(secret)))
