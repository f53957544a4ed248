"""Environment-driven configuration classes for Gamenight."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_URL = f"sqlite:///{BASE_DIR / 'instance' / 'gamenight.sqlite3'}"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Defaults shared by every environment; each value may be overridden from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL)
    # The public image endpoint reads through this URL (the public role); None means DATABASE_URL.
    PUBLIC_DATABASE_URL = os.environ.get("PUBLIC_DATABASE_URL") or None
    # Pool per worker process (PostgreSQL); the public endpoint has its own pool of the same size.
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 5)
    DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", 5)
    DATABASE_POOL_TIMEOUT = _env_int("DATABASE_POOL_TIMEOUT", 5)
    DATABASE_CONNECT_TIMEOUT = _env_int("DATABASE_CONNECT_TIMEOUT", 3)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    BACKEND_URL = os.environ.get("BACKEND_URL", "http://localhost:8000").rstrip("/")

    # Uploads: 5 MiB per image, two images plus form fields per request.
    MAX_IMAGE_BYTES = 5 * 1024 * 1024
    MAX_CONTENT_LENGTH = 11 * 1024 * 1024
    # Werkzeug checks this against its multipart buffer even inside file parts, and reads in
    # 64 KiB chunks: at 64 KiB, any binary upload over 64 KiB whose chunk ended near a CR or
    # LF was refused with 413 (mwdb-core#1200). Text fields stay far below it.
    MAX_FORM_MEMORY_SIZE = 512 * 1024
    MAX_FORM_PARTS = 64

    # Rate limits of the public image endpoint (Flask-Limiter, one Limiter per app). memory://
    # counts per process; redis:// and rediss:// are shared by every worker and host and go
    # through app/rate_limit_storage.py (two Redis round trips per request instead of four).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Distinguishes deployments (or test runs) sharing one Redis.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "gamenight")
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_ENABLED = True
    PUBLIC_IMAGE_RATE_LIMITS = os.environ.get("PUBLIC_IMAGE_RATE_LIMITS", "60/minute;100/5 minutes")
    PUBLIC_IMAGE_RATE_LIMIT_EXEMPT = os.environ.get("PUBLIC_IMAGE_RATE_LIMIT_EXEMPT", "")
    TRUSTED_PROXY_HOPS = _env_int("TRUSTED_PROXY_HOPS", 0)
    # The authenticated side, through the same Limiter and storage: per user on the games API
    # (every call; calls carrying an image file), per client IP on POST /login.
    API_RATE_LIMITS = os.environ.get("API_RATE_LIMITS", "300/minute")
    UPLOAD_RATE_LIMITS = os.environ.get("UPLOAD_RATE_LIMITS", "30/hour")
    LOGIN_RATE_LIMITS = os.environ.get("LOGIN_RATE_LIMITS", "10/minute")
    # Public image cache, per worker process. Bytes are kept by content hash (the bytes behind
    # a hash never change) within PUBLIC_IMAGE_CACHE_BYTES, least recently used evicted first;
    # an image larger than the budget is never cached. Metadata (hash, type, size) is kept by
    # image id for PUBLIC_IMAGE_METADATA_TTL seconds (0 disables it), at most
    # PUBLIC_IMAGE_METADATA_ENTRIES ids: a deleted image stops being served within that TTL.
    PUBLIC_IMAGE_CACHE_BYTES = _env_int("PUBLIC_IMAGE_CACHE_BYTES", 64 * 1024 * 1024)
    PUBLIC_IMAGE_METADATA_TTL = float(os.environ.get("PUBLIC_IMAGE_METADATA_TTL", 5))
    PUBLIC_IMAGE_METADATA_ENTRIES = _env_int("PUBLIC_IMAGE_METADATA_ENTRIES", 10_000)

    # Discord announcements (app/discord/): written to the discord_deliveries outbox in the
    # transaction of the change, delivered after the commit by a thread in every gunicorn worker
    # (DISCORD_DELIVERY_IN_WEB) and by `flask discord deliver`. DISCORD_WEBHOOKS_ENABLED=false
    # queues nothing. One webhook call may take DISCORD_WEBHOOK_TIMEOUT seconds; a failed one is
    # tried again after DISCORD_WEBHOOK_BACKOFF seconds, doubled each time up to
    # DISCORD_DELIVERY_MAX_BACKOFF, with jitter, until DISCORD_DELIVERY_MAX_AGE seconds after it
    # was queued (then it is dead). A claimed job is leased for DISCORD_DELIVERY_LEASE seconds;
    # a worker looks for due work every DISCORD_DELIVERY_POLL_INTERVAL seconds (at once after a
    # commit in its own process) and logs the backlog every DISCORD_DELIVERY_BACKLOG_LOG_INTERVAL.
    DISCORD_WEBHOOKS_ENABLED = _env_bool("DISCORD_WEBHOOKS_ENABLED", True)
    DISCORD_WEBHOOK_TIMEOUT = float(os.environ.get("DISCORD_WEBHOOK_TIMEOUT", 5))
    DISCORD_WEBHOOK_BACKOFF = float(os.environ.get("DISCORD_WEBHOOK_BACKOFF", 1))
    DISCORD_DELIVERY_IN_WEB = _env_bool("DISCORD_DELIVERY_IN_WEB", True)
    DISCORD_DELIVERY_MAX_AGE = float(os.environ.get("DISCORD_DELIVERY_MAX_AGE", 86400))
    DISCORD_DELIVERY_MAX_BACKOFF = float(os.environ.get("DISCORD_DELIVERY_MAX_BACKOFF", 600))
    DISCORD_DELIVERY_LEASE = float(os.environ.get("DISCORD_DELIVERY_LEASE", 60))
    DISCORD_DELIVERY_POLL_INTERVAL = float(os.environ.get("DISCORD_DELIVERY_POLL_INTERVAL", 2))
    DISCORD_DELIVERY_BACKLOG_LOG_INTERVAL = float(
        os.environ.get("DISCORD_DELIVERY_BACKLOG_LOG_INTERVAL", 60)
    )
    # How long a stopping gunicorn worker waits for the delivery in flight (worker_exit).
    DISCORD_DELIVERY_STOP_TIMEOUT = float(os.environ.get("DISCORD_DELIVERY_STOP_TIMEOUT", 5))

    # The pages' signed session cookie: out of reach of scripts, not sent on cross-site posts.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # A page session (a row of page_sessions, and its cookie) ends after this many hours.
    # HSTS on page answers; ProductionConfig sets it.
    STRICT_TRANSPORT_SECURITY: str | None = None
    SESSION_LIFETIME_HOURS = float(os.environ.get("SESSION_LIFETIME_HOURS", 12))

    # flask-smorest / OpenAPI
    API_TITLE = "Gamenight"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    """Local development: the embedded SQLite default and the in-memory rate-limit storage."""

    DEBUG = True


class TestingConfig(Config):
    """Used by the test suite; fixtures override the database URLs."""

    TESTING = True
    WTF_CSRF_ENABLED = False


class ProductionConfig(Config):
    """Production: refuses to start without an explicit secret and database."""

    SESSION_COOKIE_SECURE = True  # the session cookie travels over HTTPS only
    # Pages only (app/pages/headers.py): browsers come back over HTTPS for two years.
    STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

    @classmethod
    def validate(cls) -> None:
        """Raise RuntimeError naming every required variable that is missing."""
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                "Gamenight refuses to start in production without "
                + " and ".join(missing)
                + " set in the environment."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
