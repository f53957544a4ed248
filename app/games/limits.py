"""Rate limits of the games API, per user, shared by every worker through the limiter's storage.

``API_RATE_LIMITS`` counts every call, ``UPLOAD_RATE_LIMITS`` the calls that carry an image
file; each is one counter per user across all games endpoints (a shared limit). Flask-Limiter
checks in the app's before_request, ahead of the blueprint's authentication: the key function
looks the token up itself (kept for the authentication) and, for a request without a live
token, counts against the client's IP. A refused request is answered 429 before any upload
is sanitised or any row written.
"""

from flask import request
from werkzeug.exceptions import HTTPException

from app.extensions import client_address, limiter
from app.games.auth import token_user_id
from app.games.views import bp
from app.models.game_session import IMAGE_SLOTS


@bp.record_once
def _bind_limits(state) -> None:
    config, app_limiter = state.app.config, limiter.for_app(state.app)
    app_limiter.shared_limit(
        config["API_RATE_LIMITS"], "games-api", key_func=api_client_key, override_defaults=False
    )(bp)
    app_limiter.shared_limit(
        config["UPLOAD_RATE_LIMITS"],
        "games-uploads",
        key_func=api_client_key,
        exempt_when=carries_no_image,
        override_defaults=False,
    )(bp)


def api_client_key() -> str:
    """Whose budget the request spends: its token's user, else its client IP."""
    user_id = token_user_id()
    return f"user:{user_id}" if user_id is not None else f"ip:{client_address()}"


def carries_no_image() -> bool:
    """True unless an image slot holds a chosen file (an empty file input is no file)."""
    if request.mimetype != "multipart/form-data":
        return True  # JSON and urlencoded bodies cannot carry files
    try:
        files = request.files
    except HTTPException:  # over the size limits: the view answers 413, nothing to count
        return True
    return not any(upload.filename for slot in IMAGE_SLOTS for upload in files.getlist(slot))
