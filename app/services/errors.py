"""Typed failures raised by the services; app/errors.py maps each to its HTTP status."""


class ServiceError(Exception):
    """An expected failure whose message is safe to show to the client."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class ImageTooLarge(ServiceError):
    """The upload is over the per-image size limit."""


class UnsupportedImage(ServiceError):
    """The upload is not a real PNG, JPEG, GIF or WebP image."""


class NotFound(ServiceError):
    """The thing does not exist, or is not visible to the caller."""


class Forbidden(ServiceError):
    """The caller may see the thing but not change it."""


class InvalidInput(ServiceError):
    """Field-level validation failed; ``errors`` maps field to messages."""
