"""A lookup made once per request: the rate limiter's key function and the authentication
that follows it (API token, page session) share one database query."""

from collections.abc import Callable
from typing import TypeVar

from flask import g

T = TypeVar("T")


def once_per_request(name: str, key: str, lookup: Callable[[str], T]) -> T:
    """``lookup(key)``, computed once per request and key, kept in ``g`` under ``name``."""
    cached = g.get(name)
    if cached is not None and cached[0] == key:
        return cached[1]
    value = lookup(key)
    setattr(g, name, (key, value))
    return value
