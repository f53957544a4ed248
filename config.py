"""Environment-driven configuration classes for Gamenight."""

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key"
DEFAULT_SQLITE_URL = f"sqlite:///{BASE_DIR / 'instance' / 'gamenight.sqlite3'}"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Defaults shared by every environment; each value may be overridden from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL)
    # The public image endpoint reads through this URL (the public role); None means DATABASE_URL.
    PUBLIC_DATABASE_URL = os.environ.get("PUBLIC_DATABASE_URL") or None
    # Pool per worker process (PostgreSQL); the public endpoint has its own pool of the same size.
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 5)
    DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", 5)
    DATABASE_POOL_TIMEOUT = _env_int("DATABASE_POOL_TIMEOUT", 5)
    DATABASE_CONNECT_TIMEOUT = _env_int("DATABASE_CONNECT_TIMEOUT", 3)
    # PostgreSQL cancels any statement of the app and public engines running longer (0: never).
    DATABASE_STATEMENT_TIMEOUT = float(os.environ.get("DATABASE_STATEMENT_TIMEOUT", 15))
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    BACKEND_URL = os.environ.get("BACKEND_URL", "http://localhost:8000").rstrip("/")

    # Uploads: two images of at most 5 MiB (fixed by SPEC §5 in app/services/uploads.py, whose
    # cost model is measured for it) plus form fields per request.
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

    # Clients allowed to read /metrics (CIDR list); everyone else gets 404.
    METRICS_ALLOW = os.environ.get("METRICS_ALLOW", "127.0.0.0/8, ::1/128")

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
    """Production: refuses to start on any setting that is unsafe or would break a feature."""

    SESSION_COOKIE_SECURE = True  # the session cookie travels over HTTPS only
    # Pages only (app/pages/headers.py): browsers come back over HTTPS for two years.
    STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

    @classmethod
    def validate(cls) -> None:
        """Raise ConfigurationError naming every variable whose value production refuses."""
        problems = production_problems(os.environ)
        if problems:
            raise ConfigurationError(
                "Gamenight refuses to start in production (GAMENIGHT_CONFIG=production):\n"
                + "\n".join(f"  - {problem}" for problem in problems)
            )


class ConfigurationError(RuntimeError):
    """A setting production refuses; the message names each variable to fix."""


def production_problems(env) -> list[str]:
    """One sentence per refused setting of SPEC §8, each starting with the variable's name."""
    problems = []
    if env.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY) in ("", DEVELOPMENT_SECRET_KEY):
        problems.append("SECRET_KEY is missing or the development default: set a long random one")
    database_url = env.get("DATABASE_URL", "")
    if not database_url:
        problems.append("DATABASE_URL is missing: set the app role's PostgreSQL URL")
    storage = env.get("RATELIMIT_STORAGE_URI", "memory://")
    if storage.startswith("memory://"):
        problems.append(
            "RATELIMIT_STORAGE_URI is memory:// (counted per process, so N workers allow N times"
            " the limit): set redis://host:6379/0"
        )
    if is_loopback_url(env.get("BACKEND_URL", Config.BACKEND_URL)):
        problems.append(
            "BACKEND_URL points at localhost or a loopback address: Discord could not fetch the"
            " images; set the public origin, e.g. https://gamenight.example.org"
        )
    if database_url.startswith("postgresql") and not env.get("PUBLIC_DATABASE_URL"):
        problems.append(
            "PUBLIC_DATABASE_URL is missing: the public image endpoint would run as the app role;"
            " set the public role's URL"
        )
    return problems


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is localhost, a name under .localhost, or a loopback address."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    """localhost, *.localhost, 127.0.0.0/8 or ::1 (an empty host counts as loopback too)."""
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
