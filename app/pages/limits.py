"""The login's rate limit, per client IP: ``LOGIN_RATE_LIMITS`` on ``POST /login``.

A blueprint limit that exempts every other page, so Flask-Limiter checks it in the app's
before_request, before the form is read or any token looked up. A refused login is
answered with a page (429, ``Retry-After``) and opens no session.
"""

from flask import render_template, request
from werkzeug.exceptions import TooManyRequests

from app.extensions import client_address, limiter
from app.pages.views import bp

LOGIN_ENDPOINT = "pages.login"


@bp.record_once
def _bind_limits(state) -> None:
    limiter.for_app(state.app).shared_limit(
        state.app.config["LOGIN_RATE_LIMITS"],
        "pages-login",
        key_func=client_address,
        methods=["POST"],
        exempt_when=lambda: request.endpoint != LOGIN_ENDPOINT,
        override_defaults=False,
    )(bp)


@bp.errorhandler(TooManyRequests)
def too_many_requests(error: TooManyRequests):
    """Refused by a rate limit: a page saying so; its Retry-After header is kept."""
    response = error.get_response()
    message = "Too many attempts from your address. Wait a minute, then try again."
    response.set_data(render_template("pages/error.html", message=message, status=429))
    response.content_type = "text/html; charset=utf-8"
    return response
