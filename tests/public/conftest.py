"""Fixtures of the public image endpoint: real images stored through the image service."""

import io
import uuid

import pytest
from flask import Flask
from PIL import Image

from app import create_app
from app.extensions import db
from app.services.images import store_image


def image_bytes(
    kind: str = "PNG", colour: tuple[int, int, int] = (200, 30, 30), size: int = 16
) -> bytes:
    """A small, valid image of one colour, encoded by Pillow."""
    buffer = io.BytesIO()
    picture = Image.new("RGB", (size, size), colour)
    picture.save(buffer, format=kind)
    return buffer.getvalue()


def image_url(image_id, extension: str = "") -> str:
    """The public path of an image, with an optional extension."""
    return f"/api/v1/public/images/{image_id}{extension}"


def store_in(app: Flask, data: bytes, mime_type: str = "image/png") -> uuid.UUID:
    """Store bytes as the app role does (one committed transaction); return the id."""
    with app.app_context():
        image_id = store_image(data, mime_type)
        db.session.commit()
        db.session.remove()
    return image_id


@pytest.fixture
def stored_image(app):
    """Store bytes in the test's app; return the new id."""
    return lambda data, mime_type="image/png": store_in(app, data, mime_type)


@pytest.fixture
def make_app(app_config):
    """Build apps from the test's settings plus overrides; their engines close afterwards."""
    apps: list[Flask] = []

    def build(**overrides) -> Flask:
        apps.append(create_app({**app_config, **overrides}))
        return apps[-1]

    yield build
    for built in apps:
        with built.app_context():
            for engine in db.engines.values():
                engine.dispose()
