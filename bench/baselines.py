"""The two baselines of bench/public_images.py: bare Flask, and bare Flask + Flask-Limiter.

Both serve the benchmark's images from memory under the public endpoint's path with the
same headers, answer If-None-Match with 304 (``make_conditional``) and let Flask answer
HEAD by running the GET view. The limited one adds Flask-Limiter as its documentation
shows it: the two windows on the route, headers on, the same Redis, fixed window.

    gunicorn 'bench.baselines:create_app("bare")'
    gunicorn 'bench.baselines:create_app("limited")'

Environment: ``BENCH_IMAGES`` (the directory of ``<id>.<ext>`` files the benchmark wrote),
``RATELIMIT_STORAGE_URI``, ``RATELIMIT_KEY_PREFIX``, ``PUBLIC_IMAGE_RATE_LIMITS``.
"""

import datetime as dt
import hashlib
import os
from pathlib import Path

from flask import Flask, Response, abort, request

STORED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MIME_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def load_images(directory: Path) -> dict[str, tuple[bytes, str, str]]:
    """Every ``<id>.<ext>`` file of the directory: name -> (bytes, mime type, sha256)."""
    return {
        path.name: (data, MIME_TYPES[path.suffix[1:]], hashlib.sha256(data).hexdigest())
        for path in directory.iterdir()
        if path.suffix[1:] in MIME_TYPES
        for data in [path.read_bytes()]
    }


def create_app(kind: str = "bare") -> Flask:
    """The bare baseline, or with ``kind="limited"`` the same plus Flask-Limiter on Redis."""
    app = Flask(__name__)
    images = load_images(Path(os.environ["BENCH_IMAGES"]))

    def image(name: str) -> Response:
        if name not in images:
            abort(404)
        data, mime_type, content_hash = images[name]
        response = Response(data, content_type=mime_type)
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.set_etag(content_hash)
        response.last_modified = STORED_AT
        return response.make_conditional(request)

    if kind == "limited":
        image = _limited(app, image)
    app.add_url_rule("/api/v1/public/images/<name>", "image", image)
    return app


def _limited(app: Flask, view):
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=os.environ["RATELIMIT_STORAGE_URI"],
        key_prefix=os.environ.get("RATELIMIT_KEY_PREFIX", "bench-limited"),
        headers_enabled=True,
    )
    return limiter.limit(os.environ["PUBLIC_IMAGE_RATE_LIMITS"])(view)
