"""Server-rendered pages (``bp``): a signed session cookie and CSRF tokens on every form."""

from app.pages import limits  # noqa: F401  (binds the login's rate limit when bp registers)
from app.pages.auth import configure_sessions
from app.pages.headers import add_security_headers
from app.pages.views import bp

bp.record_once(configure_sessions)
bp.after_request(add_security_headers)

__all__ = ["bp"]
