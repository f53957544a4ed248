"""The hot public GET through nginx (deploy/nginx.conf), with and without its image cache,
against nginx serving the same file statically; and the origin with metrics on against the
spec ceiling (bare Flask + Flask-Limiter), all in the same run, driven by wrk.

    .venv/bin/python -m bench.proxy [--duration 10] [--rounds 3]

See bench/README.md for what is measured and how to read it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.public_images import (
    REDIS_URL,
    Server,
    _forget_redis_keys,
    bench_database,
    require_wrk,
    run_wrk,
    seed_images,
)
from tests.servers import Nginx, filled_nginx_conf

TARGETS = {"nginx cache / static": 0.7, "app / limited": 0.9}


def static_site(images_dir: Path):
    """nginx serving the image files themselves under the public endpoint's path."""

    def site(listen: str, cache_dir: Path) -> str:
        return (
            f"server {{\n    listen {listen};\n    location /api/v1/public/images/ {{\n"
            f"        alias {images_dir}/;\n        default_type image/png;\n    }}\n}}\n"
        )

    return site


def uncached_site(upstream: str):
    """deploy/nginx.conf with the image cache turned off, all else as shipped."""

    def site(listen: str, cache_dir: Path) -> str:
        shipped = filled_nginx_conf(listen, upstream, cache_dir)
        assert "proxy_cache gamenight_images;" in shipped
        return shipped.replace("proxy_cache gamenight_images;", "proxy_cache off;")

    return site


def start_all(database, images_dir: Path, workdir: Path, prefix: str, paths: dict) -> dict:
    """The app (metrics on, behind one proxy hop), the limited baseline, and three nginx."""
    common = {
        "BENCH_IMAGES": str(images_dir),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "PUBLIC_IMAGE_RATE_LIMITS": "100000000/minute;100000000/5 minutes",
        "GAMENIGHT_CONFIG": "production",
        "SECRET_KEY": "bench",
        "BACKEND_URL": "https://gamenight.bench",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "TRUSTED_PROXY_HOPS": "1",
    }
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    app = Server(
        "app",
        {
            **common,
            "RATELIMIT_KEY_PREFIX": f"{prefix}-app",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
        workdir,
    )
    limited = Server("limited", {**common, "RATELIMIT_KEY_PREFIX": f"{prefix}-limited"}, workdir)
    for server in (app, limited):
        server.wait_ready(paths["hot"][0])
    upstream = f"127.0.0.1:{app.port}"
    proxies = {
        "nginx static": Nginx(upstream, workdir, site=static_site(images_dir), access_log=False),
        "nginx cache": Nginx(upstream, workdir, access_log=False),
        "nginx no cache": Nginx(upstream, workdir, site=uncached_site(upstream), access_log=False),
    }
    for proxy in proxies.values():
        proxy.start()
    return {**proxies, "app": app, "limited": limited}


def check_answers(servers: dict, path: str, size: int) -> None:
    """Every server gives the hot image's bytes; the cache answers HIT once warm."""
    for name, server in servers.items():
        response = requests.get(server.url + path, timeout=5)
        assert response.status_code == 200 and len(response.content) == size, name
    cached = requests.get(servers["nginx cache"].url + path, timeout=5)
    assert cached.headers["X-Cache-Status"] == "HIT"
    scrape = requests.get(servers["app"].url + "/metrics", timeout=5).text
    assert "gamenight_http_request_duration_seconds_count" in scrape


def run_rounds(servers: dict, path: str, rounds: int, seconds: int) -> dict[str, list[float]]:
    """Each server in turn, a 2 s warm-up then a measured run, order rotated every round."""
    figures: dict[str, list[float]] = {name: [] for name in servers}
    names = list(servers)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            url = servers[name].url + path
            run_wrk(url, None, 2)
            figures[name].append(run_wrk(url, None, seconds))
            print(
                f"  round {round_number + 1} {name:15} {figures[name][-1]:8.0f} req/s", flush=True
            )
    return figures


def report(figures: dict[str, list[float]]) -> None:
    """Medians and the two ratios against their targets."""
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\n{'server':16}{'req/s (median)':>16}")
    for name, median in medians.items():
        print(f"{name:16}{median:16.0f}")
    pairs = {
        "nginx cache / static": ("nginx cache", "nginx static"),
        "app / limited": ("app", "limited"),
    }
    print(f"nginx no cache / app direct: {medians['nginx no cache'] / medians['app']:.2f}")
    for name, (measured, baseline) in pairs.items():
        ratio = medians[measured] / medians[baseline]
        per_round = [a / b for a, b in zip(figures[measured], figures[baseline], strict=True)]
        verdict = "ok" if ratio >= TARGETS[name] else "BELOW TARGET"
        print(
            f"{name}: {ratio:.2f} (target >= {TARGETS[name]}) {verdict}; per round "
            + ", ".join(f"{r:.2f}" for r in per_round)
            + f" (median {statistics.median(per_round):.2f})"
        )


def metrics_cost_us(samples: int = 20000) -> float:
    """Microseconds of metrics work per public image request (one histogram observation, two
    cache counts) in multiprocess mode, measured in a fresh process with its own folder."""
    with tempfile.TemporaryDirectory() as directory:
        output = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import bench.proxy as p; print(p._cost_in_process({samples}))",
            ],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return float(output)


def _cost_in_process(samples: int) -> float:
    from app.metrics import REQUEST_SECONDS, count_cache_lookup

    started = time.perf_counter()
    for _ in range(samples):
        REQUEST_SECONDS.labels("/api/v1/public/images/<path:image_ref>", "GET", "200").observe(
            0.001
        )
        count_cache_lookup("metadata", hit=True)
        count_cache_lookup("bytes", hit=True)
    return (time.perf_counter() - started) / samples * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    require_wrk()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with bench_database() as database, tempfile.TemporaryDirectory() as tmp:
        workdir, images_dir = Path(tmp), Path(tmp) / "images"
        images_dir.mkdir()
        paths = seed_images(database, images_dir, cold=0)
        servers = start_all(database, images_dir, workdir, prefix, paths)
        try:
            check_answers(servers, paths["hot"][0], paths["sizes"]["hot"])
            figures = run_rounds(servers, paths["hot"][0], args.rounds, args.duration)
            report(figures)
            cost, per_request = metrics_cost_us(), 2e6 / statistics.median(figures["app"])
            print(
                f"metrics work per public request: {cost:.1f} us of the app's "
                f"{per_request:.0f} us per request per worker ({cost / per_request:.1%})"
            )
        finally:
            for server in servers.values():
                server.stop()
            _forget_redis_keys(prefix)


if __name__ == "__main__":
    main()
