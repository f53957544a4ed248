"""Security headers on every page answer (SPEC §6); the public image endpoint sets its own.

A small after_request on the pages blueprint rather than Flask-Talisman: Talisman applies to
the whole app (the API and the public images, whose headers SPEC §5 fixes) and redirects to
https itself, which must stay nginx's and ProxyFix's business (/healthz never redirects).
"""

from flask import current_app
from flask.wrappers import Response

# Scripts, styles and images from this site only, no inline script or style, no plugins;
# nobody may frame the pages, and forms post only here.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def add_security_headers(response: Response) -> Response:
    """Every page answer, errors and redirects included; HSTS where production asks for it."""
    response.headers.update(PAGE_HEADERS)
    hsts = current_app.config.get("STRICT_TRANSPORT_SECURITY")
    if hsts:
        response.headers["Strict-Transport-Security"] = hsts
    return response
