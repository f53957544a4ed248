"""Server-rendered pages (``bp``): a signed session cookie and CSRF tokens on every form."""

from app.pages.views import bp

__all__ = ["bp"]
