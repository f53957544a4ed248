"""What the rate limiter costs per request, by Flask-Limiter configuration, on the same Redis.

    .venv/bin/python -m bench.limiter_cost [--requests 1000] [--rounds 7]

In process (Flask's test client, one thread), so the figures are the limiter's own cost
without HTTP or gunicorn: a bare view returning 57 KB, then the same view behind
Flask-Limiter with the two windows and headers in each configuration below, alternated
round by round; the median per-request time and the Redis round trips of each.
"""

import argparse
import statistics
import time
import uuid

import redis
import redis.connection
from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.rate_limit_storage import limiter_storage_uri

REDIS_URL = "redis://127.0.0.1:6379/14"
LIMITS = "100000000/minute;100000000/5 minutes"
BODY = b"\x00" * 57_000
# Both windows in one round trip: a floor for comparison, not something the app runs.
BOTH_WINDOWS = """
local out = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('incr', key)
    if count == 1 then redis.call('expire', key, ARGV[i]) end
    out[i] = {count, redis.call('ttl', key)}
end
return out
"""


def bare_app(limiter: Limiter | None = None) -> Flask:
    """A view returning 57 KB in a blueprint; with a limiter, the two windows on the blueprint."""
    app = Flask(__name__)
    bp = Blueprint("public", __name__)
    bp.add_url_rule("/image", "image", lambda: Response(BODY, content_type="image/png"))
    if limiter:
        limiter.init_app(app)
        limiter.limit(LIMITS)(bp)
    app.register_blueprint(bp)
    return app


def flask_limiter_app(storage_uri: str, **options) -> Flask:
    """Flask-Limiter as the app uses it: a blueprint limit, headers on, fixed prefix."""
    options.setdefault("headers_enabled", True)
    limiter = Limiter(
        get_remote_address,
        storage_uri=storage_uri,
        key_prefix=f"cost-{uuid.uuid4().hex[:8]}",
        **options,
    )
    return bare_app(limiter)


def one_round_trip_app() -> Flask:
    """Both windows and the header values from one EVALSHA, hand-written."""
    app = bare_app()
    client = redis.Redis.from_url(REDIS_URL)
    script = client.register_script(BOTH_WINDOWS)
    prefix = f"cost-{uuid.uuid4().hex[:8]}"

    @app.after_request
    def limit(response):
        keys = [f"{prefix}/{request.remote_addr}/60", f"{prefix}/{request.remote_addr}/300"]
        (count, ttl), _ = script(keys, [60, 300])
        response.headers["X-RateLimit-Limit"] = "100000000"
        response.headers["X-RateLimit-Remaining"] = str(100000000 - count)
        response.headers["X-RateLimit-Reset"] = str(int(time.time()) + ttl)
        return response

    return app


VARIANTS = {
    "no limiter": lambda: bare_app(),
    "memory:// fixed-window (no Redis)": lambda: flask_limiter_app("memory://"),
    "redis fixed-window (stock)": lambda: flask_limiter_app(REDIS_URL),
    "redis moving-window (stock)": lambda: flask_limiter_app(REDIS_URL, strategy="moving-window"),
    "redis sliding-window-counter": lambda: flask_limiter_app(
        REDIS_URL, strategy="sliding-window-counter"
    ),
    "redis fixed-window, headers off": lambda: flask_limiter_app(REDIS_URL, headers_enabled=False),
    "gamenight+redis fixed-window (app)": lambda: flask_limiter_app(limiter_storage_uri(REDIS_URL)),
    "one EVALSHA for both windows (floor)": one_round_trip_app,
}


class RoundTrips:
    """Counts what redis-py sends to the server: one packed send is one round trip."""

    def __init__(self):
        self.count = 0
        original = redis.connection.Connection.send_packed_command

        def counting(connection, command, check_health=True):
            self.count += 1
            return original(connection, command, check_health)

        redis.connection.Connection.send_packed_command = counting

    def per_request(self, client) -> float:
        before = self.count
        for _ in range(100):
            client.get("/image")
        return (self.count - before) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    redis_client = redis.Redis.from_url(REDIS_URL)
    counter = RoundTrips()
    clients = {name: make().test_client() for name, make in VARIANTS.items()}
    timings = {name: [] for name in clients}
    for _ in range(args.rounds):
        for name, client in clients.items():
            for _ in range(50):
                client.get("/image")
            started = time.perf_counter()
            for _ in range(args.requests):
                client.get("/image")
            timings[name].append((time.perf_counter() - started) / args.requests * 1e6)
    print(f"{'configuration':40}{'us/request':>12}{'round trips':>13}")
    for name, client in clients.items():
        trips = counter.per_request(client)
        print(f"{name:40}{statistics.median(timings[name]):12.0f}{trips:13.1f}")
    for key in redis_client.scan_iter("*cost-*"):
        redis_client.delete(key)


if __name__ == "__main__":
    main()
