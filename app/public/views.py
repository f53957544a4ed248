"""The unauthenticated image endpoint: ``GET``/``HEAD /api/v1/public/images/<id>[.<ext>]``."""

import functools
import uuid

from flask import current_app, request
from flask_smorest import Blueprint
from werkzeug.exceptions import NotFound
from werkzeug.http import http_date, is_resource_modified
from werkzeug.wrappers import Response

from app.extensions import cors
from app.services import images
from app.services.image_cache import ImageCache, ImageMetadata

bp = Blueprint(
    "public",
    __name__,
    url_prefix="/api/v1/public",
    description="Game images, fetchable without authentication (Discord embeds, web pages).",
)
# Literal "*" on every answer, errors included: no Vary: Origin to split shared caches.
cors.init_app(
    bp,
    send_wildcard=True,
    vary_header=False,
    methods=["GET", "HEAD"],
    expose_headers=[
        "ETag",
        "Last-Modified",
        "Content-Length",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ],
)

# A URL may end in the stored type's extension: Discord animates a GIF only behind ".gif".
EXTENSIONS = {extension: mime for mime, extension in images.EXTENSIONS.items()}
EXTENSIONS["jpeg"] = "image/jpeg"
REQUESTED_IMAGE = "gamenight.public_image"
NOT_MODIFIED = "gamenight.public_image_not_modified"
CACHE_CONTROL = "public, max-age=3600"
CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"
IMAGE_REF = {
    "in": "path",
    "name": "image_ref",
    "required": True,
    "schema": {"type": "string"},
    "description": "The image id, optionally followed by its type's extension "
    "(`.png`, `.jpg`, `.jpeg`, `.gif`, `.webp`).",
}
IMAGE_RESPONSES = {
    "200": {
        "description": "The image bytes, cacheable for an hour.",
        "content": {
            mime: {"schema": {"type": "string", "format": "binary"}}
            for mime in sorted(set(EXTENSIONS.values()))
        },
    },
    "304": {"description": "Not modified: `If-None-Match` or `If-Modified-Since` matches."},
    "404": {"description": "Unknown id, malformed id or wrong extension."},
    "429": {"description": "Rate limit of the client's IP exceeded; see `Retry-After`."},
}


@bp.record_once
def _create_cache(state) -> None:
    config = state.app.config
    state.app.extensions["public_image_cache"] = ImageCache(
        byte_budget=config["PUBLIC_IMAGE_CACHE_BYTES"],
        metadata_ttl=config["PUBLIC_IMAGE_METADATA_TTL"],
        metadata_entries=config["PUBLIC_IMAGE_METADATA_ENTRIES"],
    )


def image_cache() -> ImageCache:
    """This app's (and worker's) image cache."""
    return current_app.extensions["public_image_cache"]


def parse_image_ref(image_ref: str) -> uuid.UUID | None:
    """The id a URL names if it is a canonical UUID with an accepted extension, else None."""
    stem, dot, extension = image_ref.partition(".")
    if dot and extension not in EXTENSIONS:
        return None
    try:
        image_id = uuid.UUID(stem)
    except ValueError:
        return None
    return image_id if str(image_id) == stem.lower() else None


def requested_image() -> tuple[uuid.UUID, ImageMetadata] | None:
    """The id and metadata of the image the URL names, if it exists with that extension."""
    # Memoised in the WSGI environ, which is per request (``g`` is shared by test requests):
    # the rate limiter's cost and the view both ask.
    environ = request.environ
    if REQUESTED_IMAGE not in environ:
        environ[REQUESTED_IMAGE] = _find_requested_image(request.view_args["image_ref"])
    return environ[REQUESTED_IMAGE]


def _find_requested_image(image_ref: str) -> tuple[uuid.UUID, ImageMetadata] | None:
    image_id = parse_image_ref(image_ref)
    metadata = image_cache().find_image(image_id) if image_id else None
    _, dot, extension = image_ref.partition(".")
    if metadata is None or (dot and EXTENSIONS[extension] != metadata.mime_type):
        return None
    return image_id, metadata


def is_not_modified() -> bool:
    """True when the client's If-None-Match or If-Modified-Since matches: the answer is 304."""
    environ = request.environ
    if NOT_MODIFIED not in environ:
        conditional = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
        found = requested_image() if conditional else None
        environ[NOT_MODIFIED] = found is not None and not is_resource_modified(
            environ, etag=found[1].content_hash, last_modified=found[1].created_at
        )
    return environ[NOT_MODIFIED]


# The id is parsed here, not by a URL converter: a malformed one still reaches the blueprint,
# so its 404 carries the CORS and rate-limit headers like any other answer.
@bp.route("/images/<path:image_ref>", methods=["GET", "HEAD"], parameters=[IMAGE_REF])
@bp.doc(security=[], responses=IMAGE_RESPONSES)
def image(image_ref: str) -> Response:
    """An image's bytes, without authentication.

    `ETag` is the SHA-256 of the bytes, which never change behind an id. `HEAD` answers
    from metadata only. Rate limited per client IP; `304` answers do not count.
    """
    found = requested_image()
    if found is None:
        raise NotFound("Image not found")
    image_id, metadata = found
    if is_not_modified():
        return Response(status=304, headers=image_headers(metadata))
    if request.method == "HEAD":
        length = ("Content-Length", str(metadata.byte_size))
        return Response(headers=[*image_headers(metadata), length])
    read = image_cache().read_image(image_id)
    if read is None:
        raise NotFound("Image not found")
    metadata, data = read
    return Response(data, headers=[*image_headers(metadata), ("Content-Length", str(len(data)))])


@functools.lru_cache(maxsize=1024)
def image_headers(metadata: ImageMetadata) -> tuple[tuple[str, str], ...]:
    """The headers of an image's answers but Content-Length (formatted once per image)."""
    return (
        ("Content-Type", metadata.mime_type),
        ("Cache-Control", CACHE_CONTROL),
        ("ETag", f'"{metadata.content_hash}"'),
        ("Last-Modified", http_date(metadata.created_at)),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    )


@bp.after_request
def _protect_errors(response: Response) -> Response:
    """Errors are never stored by caches, and never sniffed into something active."""
    if response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
