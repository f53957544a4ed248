"""The request boundary: one commit when the work succeeded, a rollback on any failure."""

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")
# PostgreSQL deadlock_detected and serialization_failure: the transaction may simply run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3


def run_in_transaction(work: Callable[[], T]) -> T:
    """Run ``work`` and commit once; roll back on error, retrying deadlock victims."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as e:
            db.session.rollback()
            if attempt == ATTEMPTS or not _retryable(e):
                raise
            log.warning("retrying a transaction after %s (attempt %d)", _sqlstate(e), attempt)
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def _sqlstate(e: DBAPIError) -> str | None:
    return getattr(e.orig, "sqlstate", None)


def _retryable(e: DBAPIError) -> bool:
    return _sqlstate(e) in RETRYABLE_SQLSTATES


def rollback_unfinished(exception: BaseException | None = None) -> None:
    """At the end of every request: nothing uncommitted survives (no commit on teardown)."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        # A connection cut mid-request: the answer (a 503) is already made; the pool heals.
        log.warning("rollback after the request failed", exc_info=True)
