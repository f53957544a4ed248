"""The upload rate limit's shared pieces: one count per user for the games API and the pages.

``UPLOAD_RATE_LIMITS`` counts requests carrying at least one image file, whichever door they
come through: both blueprints bind a shared limit of the same scope, keyed ``user:<id>``.
"""

from flask import request
from werkzeug.exceptions import HTTPException

from app.extensions import client_address
from app.models.game_session import IMAGE_SLOTS

UPLOAD_SCOPE = "uploads"


def carries_no_image() -> bool:
    """True unless an image slot holds a chosen file (an empty file input is no file)."""
    if request.mimetype != "multipart/form-data":
        return True  # JSON and urlencoded bodies cannot carry files
    try:
        files = request.files
    except HTTPException:  # over the size limits: the view answers 413, nothing to count
        return True
    return not any(upload.filename for slot in IMAGE_SLOTS for upload in files.getlist(slot))


def user_key(user_id) -> str:
    """The limiter key of a known user, else of the client's IP."""
    return f"user:{user_id}" if user_id is not None else f"ip:{client_address()}"
