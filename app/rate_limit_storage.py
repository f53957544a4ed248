"""Redis storage for Flask-Limiter that answers the rate-limit headers from its own increment.

Stock Flask-Limiter on Redis costs four round trips per request with two windows and
headers: one increment per window, then GET and TTL of one window for the
``X-RateLimit-*`` headers. Here the increment script also returns the key's TTL, and the
headers read that result back instead of asking Redis again: two round trips, with the
same counters in the same Redis (shared by every worker and host), both windows enforced,
and headers that describe the count right after this request's own increment.

A remembered result is kept per thread for ``FRESH_FOR`` seconds (at most ``REMEMBERED``
keys) and only answers reads of the same key: a read with nothing fresh goes to Redis as
before. Selected by ``limiter_storage_uri`` for ``redis://`` and ``rediss://`` URIs.
"""

import threading
import time
from urllib.parse import urlsplit

from limits.storage import RedisStorage

SCHEME_PREFIX = "gamenight+"
FRESH_FOR = 1.0
REMEMBERED = 16  # a request increments one key per window; older entries are dropped
# Flask-Limiter's fixed-window increment (limits' incr_expire.lua), also returning the TTL.
INCR_EXPIRE_TTL = """
local current = redis.call('incrby', KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {current, redis.call('ttl', KEYS[1])}
"""


def limiter_storage_uri(uri: str) -> str:
    """The storage URI to give Flask-Limiter: this storage for Redis, anything else as is."""
    return SCHEME_PREFIX + uri if urlsplit(uri).scheme in ("redis", "rediss") else uri


class HeaderAwareRedisStorage(RedisStorage):
    """``limits`` Redis storage remembering each increment's count and expiry for a moment."""

    STORAGE_SCHEME = [SCHEME_PREFIX + "redis", SCHEME_PREFIX + "rediss"]

    def __init__(self, uri: str, **options):
        self._recent = threading.local()
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)

    def initialize_storage(self, uri: str) -> None:
        """Register limits' scripts and the increment that returns the TTL."""
        super().initialize_storage(uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(INCR_EXPIRE_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Increment in one round trip, remembering the count and when the window ends."""
        count, ttl = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        remembered = self._remembered()
        if len(remembered) >= REMEMBERED:
            remembered.clear()
        remembered[key] = (int(count), time.time() + max(int(ttl), 0), time.monotonic() + FRESH_FOR)
        return int(count)

    def get(self, key: str) -> int:
        """The count this thread's increment just saw, else Redis's."""
        recent = self._fresh(key)
        return recent[0] if recent else super().get(key)

    def get_expiry(self, key: str) -> float:
        """When the window of this thread's increment ends, else Redis's TTL from now."""
        recent = self._fresh(key)
        return recent[1] if recent else super().get_expiry(key)

    def _remembered(self) -> dict:
        if not hasattr(self._recent, "entries"):
            self._recent.entries = {}
        return self._recent.entries

    def _fresh(self, key: str) -> tuple[int, float, float] | None:
        recent = self._remembered().get(key)
        return recent if recent and recent[2] > time.monotonic() else None
