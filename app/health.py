"""Liveness (``/healthz``) and readiness (``/readyz``) for load balancers."""

from flask import Blueprint, current_app, jsonify
from limits.storage import MemoryStorage
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, limiter

bp = Blueprint("health", __name__)
# What /readyz names when it is down.
DOWN_MESSAGES = {
    "database": "the app's database does not answer",
    "public_database": "the public image endpoint's database does not answer",
}


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise."""
    if not answers(db.engine):
        return jsonify(status="unavailable", message="Database unreachable"), 503
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 when both databases answer (Redis down is served around: "degraded"), else 503."""
    checks = {
        "database": "ok" if answers(db.engine) else "down",
        "public_database": "ok" if answers(db.engines["public"]) else "down",
        "redis": rate_limit_storage_state(),
    }
    down = [name for name, state in checks.items() if state == "down"]
    if down:
        message = "Not ready: " + "; ".join(DOWN_MESSAGES[name] for name in down)
        return jsonify(status="unavailable", message=message, down=down, **checks), 503
    return jsonify(status="ready", **checks)


def answers(engine: Engine) -> bool:
    """True when a ``SELECT 1`` on a connection of this engine succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def rate_limit_storage_state() -> str:
    """ "ok" or "degraded" (limits counted per worker meanwhile); "unused" with memory://."""
    storage = limiter.for_app(current_app).storage
    if isinstance(storage, MemoryStorage):
        return "unused"
    return "ok" if storage.check() else "degraded"  # a ping within the 0.2 s socket timeouts
