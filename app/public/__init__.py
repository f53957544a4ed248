"""The public blueprint: game images without authentication, rate limited per client IP."""

from app.public import limits  # noqa: F401  (binds the rate limits when bp registers)
from app.public.views import bp

__all__ = ["bp"]
