"""Rate limits of the pages: ``LOGIN_RATE_LIMITS`` per client IP on ``POST /login``, and the
forms' uploads counted in the user's ``UPLOAD_RATE_LIMITS`` together with the games API's.

Blueprint limits (the login's exempts every other page), so Flask-Limiter checks them in the
app's before_request, before the form is handled or any token looked up; the upload key's
session lookup is kept for ``load_user``. A refused request is answered with a page (429,
``Retry-After``) and changes nothing.
"""

from flask import render_template, request
from werkzeug.exceptions import TooManyRequests

from app.extensions import client_address, limiter
from app.pages.auth import session_user_id
from app.pages.views import bp
from app.upload_limit import UPLOAD_SCOPE, carries_no_image, user_key

LOGIN_ENDPOINT = "pages.login"
MESSAGES = {
    LOGIN_ENDPOINT: "Too many attempts from your address. Wait a minute, then try again.",
    None: "Too many uploads for now. Wait a while before adding more images.",
}


@bp.record_once
def _bind_limits(state) -> None:
    config, app_limiter = state.app.config, limiter.for_app(state.app)
    app_limiter.shared_limit(
        config["LOGIN_RATE_LIMITS"],
        "pages-login",
        key_func=client_address,
        methods=["POST"],
        exempt_when=lambda: request.endpoint != LOGIN_ENDPOINT,
        override_defaults=False,
    )(bp)
    # The same count as the games API's uploads: one budget per user, whichever door.
    app_limiter.shared_limit(
        config["UPLOAD_RATE_LIMITS"],
        UPLOAD_SCOPE,
        key_func=lambda: user_key(session_user_id()),
        methods=["POST"],
        exempt_when=carries_no_image,
        override_defaults=False,
    )(bp)


@bp.errorhandler(TooManyRequests)
def too_many_requests(error: TooManyRequests):
    """Refused by a rate limit: a page saying so; its Retry-After header is kept."""
    response = error.get_response()
    message = MESSAGES.get(request.endpoint, MESSAGES[None])
    response.set_data(render_template("pages/error.html", message=message, status=429))
    response.content_type = "text/html; charset=utf-8"
    return response
