"""Gamenight: the Flask application factory."""

import logging
import os
from pathlib import Path

from flask import Flask

from config import CONFIGS

log = logging.getLogger(__name__)


def create_app(config_overrides: dict | None = None) -> Flask:
    """Build the application; ``GAMENIGHT_CONFIG`` picks development, testing or production."""
    app = Flask(__name__, instance_relative_config=True)
    config_class = CONFIGS[os.environ.get("GAMENIGHT_CONFIG", "development")]
    if hasattr(config_class, "validate"):
        config_class.validate()
    app.config.from_object(config_class)
    app.config.update(config_overrides or {})
    configure_databases(app)
    configure_observability(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_databases(app: Flask) -> None:
    """Create the SQLite folder when needed and bind the public engine to its own URL."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    public_uri = app.config.get("PUBLIC_DATABASE_URL")
    if not public_uri:
        log.warning("PUBLIC_DATABASE_URL is not set: the public image endpoint uses DATABASE_URL")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config, uri)
    from app.services.image_cache import public_engine_options

    public_options = public_engine_options(
        engine_options(app.config, public_uri or uri), public_uri or uri
    )
    app.config["SQLALCHEMY_BINDS"] = {"public": {"url": public_uri or uri, **public_options}}


def engine_options(config, uri: str) -> dict:
    """Pool settings: a dead connection is replaced, an unreachable database fails fast, and
    PostgreSQL cancels any statement running longer than DATABASE_STATEMENT_TIMEOUT."""
    options = {"pool_pre_ping": True}
    if uri.startswith("postgresql"):
        timeout_ms = round(config["DATABASE_STATEMENT_TIMEOUT"] * 1000)
        options |= {
            "pool_size": config["DATABASE_POOL_SIZE"],
            "max_overflow": config["DATABASE_MAX_OVERFLOW"],
            "pool_timeout": config["DATABASE_POOL_TIMEOUT"],
            "pool_recycle": 1800,
            "connect_args": {
                "connect_timeout": config["DATABASE_CONNECT_TIMEOUT"],
                "options": f"-c statement_timeout={timeout_ms}",
            },
        }
    return options


def configure_observability(app: Flask) -> None:
    """JSON logs, a request id on every request and response, and request metrics."""
    from app import metrics, observability

    observability.configure_logging(app)
    observability.register_request_id(app)
    metrics.init_app(app)


def register_extensions(app: Flask) -> None:
    """Bind the extension instances of app.extensions to this app."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import guild_context  # noqa: F401  (registers the RLS transaction hook)
    from app.extensions import api, csrf, db, limiter, migrate
    from app.models import discord_delivery, game_image, game_session, guild, user  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"))
    limiter.init_app(app)
    csrf.init_app(app)
    api.init_app(app)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        # The client's address and scheme as the nearest `hops` proxies saw them: behind TLS
        # at nginx the app knows the request was https (secure cookies, HSTS, CSRF referrer).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_blueprints(app: Flask) -> None:
    """Mount health, metrics and pages; the API blueprints register with flask-smorest."""
    from app import games, health, metrics, pages, public
    from app.extensions import api

    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(pages.bp)
    api.register_blueprint(public.bp)
    api.spec.components.security_scheme("bearerAuth", games.SECURITY_SCHEME)
    api.register_blueprint(games.bp)


def register_errorhandlers(app: Flask) -> None:
    """One JSON error shape for every /api/ error."""
    from app import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    """The flask CLI groups of app/commands/."""
    from app import commands

    commands.register(app)
