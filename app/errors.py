"""JSON error handlers: one shape, ``{"message": ..., "errors": {field: [...]}}``, for /api/."""

import logging

from flask import Flask, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from app import metrics
from app.services import errors as service_errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[service_errors.ServiceError], int] = {
    service_errors.ImageTooLarge: 413,
    service_errors.UnsupportedImage: 415,
    service_errors.NotFound: 404,
    service_errors.Forbidden: 403,
    service_errors.InvalidInput: 422,
}

MESSAGES = {
    413: "Request too large: each image may be at most 5 MiB",
    429: "Too many requests: slow down",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _field_errors(e: HTTPException) -> dict | None:
    """Flatten webargs' {location: {field: messages}} into {field: messages}."""
    messages = (getattr(e, "data", None) or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    flat: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            flat.update({str(field): errors for field, errors in location_errors.items()})
    return flat or None


def handle_http_exception(e: HTTPException):
    """Keep the exception's own headers (Retry-After, Allow, ...) and give it a JSON body."""
    if e.code == 413:
        metrics.count_upload_refusal(e)
    if not _wants_json():
        return e
    response = e.get_response()
    body = {"message": MESSAGES.get(e.code) or e.description or e.name}
    if errors := _field_errors(e):
        body["errors"] = errors
        body["message"] = "Validation failed"
    json_response = jsonify(body)
    response.set_data(json_response.get_data())
    response.content_type = "application/json"
    return response


def handle_service_error(e: service_errors.ServiceError):
    """Map a typed service failure to its status code."""
    status = next(code for cls, code in STATUS_BY_ERROR.items() if isinstance(e, cls))
    if status in (413, 415):
        metrics.count_upload_refusal(e)
    body = {"message": e.message}
    if e.errors:
        body["errors"] = e.errors
    return jsonify(body), status


def handle_database_unavailable(e: OperationalError):
    """A lost or refused database connection is a 503, never a hang or a 500."""
    log.warning("database unavailable: %s", e.orig)
    return jsonify(message="Database unavailable, try again shortly"), 503


def handle_unexpected(e: Exception):
    """Anything else: log it with its traceback and answer a JSON 500 on /api/."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    if not _wants_json():
        return InternalServerError()
    return jsonify(message="Internal server error"), 500


def register(app: Flask) -> None:
    """Install the handlers (after flask-smorest's, which they replace)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(service_errors.ServiceError, handle_service_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
