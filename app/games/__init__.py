"""The authenticated games API (``bp``): Bearer tokens, so no CSRF tokens and no cookies."""

from app.extensions import csrf
from app.games import limits  # noqa: F401  (binds the rate limits when bp registers)
from app.games.auth import SECURITY_SCHEME
from app.games.views import bp

csrf.exempt(bp)

__all__ = ["SECURITY_SCHEME", "bp"]
