"""Rate limits of the games API, per user, shared by every worker through the limiter's storage.

``API_RATE_LIMITS`` counts every call, ``UPLOAD_RATE_LIMITS`` the calls that carry an image
file; each is one counter per user across all games endpoints (a shared limit), the upload
count shared with the pages' forms (app/upload_limit.py). Flask-Limiter
checks in the app's before_request, ahead of the blueprint's authentication: the key function
looks the token up itself (kept for the authentication) and, for a request without a live
token, counts against the client's IP. A refused request is answered 429 before any upload
is sanitised or any row written.
"""

from app.extensions import limiter
from app.games.auth import token_user_id
from app.games.views import bp
from app.upload_limit import UPLOAD_SCOPE, carries_no_image, user_key


@bp.record_once
def _bind_limits(state) -> None:
    config, app_limiter = state.app.config, limiter.for_app(state.app)
    app_limiter.shared_limit(
        config["API_RATE_LIMITS"], "games-api", key_func=api_client_key, override_defaults=False
    )(bp)
    app_limiter.shared_limit(
        config["UPLOAD_RATE_LIMITS"],
        UPLOAD_SCOPE,
        key_func=api_client_key,
        exempt_when=carries_no_image,
        override_defaults=False,
    )(bp)


def api_client_key() -> str:
    """Whose budget the request spends: its token's user, else its client IP."""
    return user_key(token_user_id())
