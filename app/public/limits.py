"""Rate limits of the public endpoint, per client IP, shared by every worker through storage.

Both windows of ``PUBLIC_IMAGE_RATE_LIMITS`` are one blueprint limit (Flask-Limiter checks
each window; a route-level limit would replace them). A request that will be answered 304
costs nothing: Discord's proxy revalidates from a few shared IPs. It is still refused once
its IP has been refused in the window, so a flood of revalidations cannot go unlimited.
"""

import functools

from app.extensions import limiter
from app.networks import client_in, parse_networks
from app.public.views import bp, is_not_modified


@bp.record_once
def _bind_limits(state) -> None:
    config = state.app.config
    exempt = parse_networks(config["PUBLIC_IMAGE_RATE_LIMIT_EXEMPT"])
    limiter.for_app(state.app).limit(
        config["PUBLIC_IMAGE_RATE_LIMITS"],
        cost=request_cost,
        exempt_when=functools.partial(client_in, exempt) if exempt else None,
        override_defaults=False,
    )(bp)


def request_cost() -> int:
    """0 for a revalidation that will be answered 304, else 1."""
    return 0 if is_not_modified() else 1
