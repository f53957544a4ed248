"""Unbound extension instances; bound to the app in create_app()."""

from flask import Flask, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.metrics import count_rate_limit_refusal
from app.models.base import Base
from app.rate_limit_storage import limiter_storage_uri


class AppLimiter:
    """Flask-Limiter with one ``Limiter`` per application.

    A ``Limiter`` keeps its storage, key prefix, fallback state and limits on itself, so one
    instance bound to several apps (the tests build many) would mix their settings: each app
    gets a fresh one, configured from its own config, and blueprints bind their limits to it.
    """

    def init_app(self, app: Flask) -> None:
        """Create and bind this app's Limiter; no default limits, blueprints declare theirs."""
        storage_uri = limiter_storage_uri(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        app.extensions["app_limiter"] = Limiter(
            key_func=client_address,
            storage_uri=storage_uri,
            on_breach=count_rate_limit_refusal,
            app=app,
        )

    def for_app(self, app: Flask) -> Limiter:
        """The Limiter bound to ``app``."""
        return app.extensions["app_limiter"]


def client_address() -> str:
    """The client's IP (ProxyFix has applied TRUSTED_PROXY_HOPS); never empty, never unlimited."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
limiter = AppLimiter()
cors = CORS()
csrf = CSRFProtect()
api = Api()
