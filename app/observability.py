"""Request ids and structured (JSON) logs, so one request can be followed through every line."""

import json
import logging
import re
import uuid
from collections.abc import Mapping

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# A client- or proxy-supplied id is kept only when it is short and plain.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# gunicorn's access log atoms (its record's args) kept as fields of the JSON line.
ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "a": "user_agent",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message, request id (in a request).

    gunicorn's access lines (logger ``gunicorn.access``) also carry the request's fields and
    the request id the app answered with in ``X-Request-ID``.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry |= access_fields(record.args)
        elif has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def access_fields(atoms: Mapping) -> dict:
    """The fields of one gunicorn access line, from its atoms."""
    fields = {name: atoms[atom] for atom, name in ACCESS_FIELDS.items() if atom in atoms}
    if "D" in atoms:
        fields["duration_ms"] = round(atoms["D"] / 1000, 3)
    request_id = atoms.get("{x-request-id}o")
    if request_id and request_id != "-":
        fields["request_id"] = request_id
    return fields


def configure_logging(app: Flask) -> None:
    """JSON lines on stderr for every logger; gunicorn's logconfig_dict may have done it already."""
    root = logging.getLogger()
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python warnings become JSON lines too (logger py.warnings)
    app_logger = logging.getLogger("app")
    app_logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app_logger.propagate = True


def register_request_id(app: Flask) -> None:
    """Give every request an id (kept from X-Request-ID when valid) and return it."""

    @app.before_request
    def assign_request_id() -> None:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex

    @app.after_request
    def return_request_id(response):
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response
