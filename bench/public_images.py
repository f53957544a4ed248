"""Throughput of the public image endpoint against two baselines, driven by wrk.

    .venv/bin/python -m bench.public_images [--duration 10] [--rounds 3]

See bench/README.md for what is measured and how to read it.
"""

import argparse
import hashlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests
from PIL import Image

from tests import pg
from tests.cli import ROOT
from tests.servers import free_port

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# The two windows of production, with amounts no benchmark reaches: same Redis work, no 429.
LIMITS = "100000000/minute;100000000/5 minutes"
CACHE_CAP = 64 * 1024 * 1024
COLD_IMAGES = 2000
SERVERS = {
    "app": "wsgi:app",
    "bare": 'bench.baselines:create_app("bare")',
    "limited": 'bench.baselines:create_app("limited")',
}
GUNICORN_CONF = "workers = 2\nworker_class = 'sync'\naccesslog = None\nloglevel = 'warning'\n"


def noise_png(side: int) -> bytes:
    """A PNG of random pixels (incompressible: about 3 bytes per pixel)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def require_wrk() -> str:
    """The wrk binary; installed from Debian when missing and we may, else a clear exit."""
    if not shutil.which("wrk") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install wrk (Debian/Ubuntu)")
    return shutil.which("wrk")


def bench_database():
    """A migrated throwaway PostgreSQL database with its owner, app and public roles."""
    return pg.migrated_database(ADMIN_URL, label="bench")


def seed_images(database, directory: Path, cold: int = COLD_IMAGES) -> dict:
    """Store the hot 57 KB PNG, a 5 MB PNG and the cold set; write each as <id>.png too."""
    images = {
        "hot": [noise_png(138)],
        "big": [noise_png(1290)],
        "cold": [noise_png(138) for _ in range(cold)],
    }
    paths: dict[str, list[str]] = {}
    with psycopg.connect(database.libpq_url(database.owner)) as connection:
        for kind, datas in images.items():
            paths[kind] = []
            for data in datas:
                image_id = uuid.uuid4()
                connection.execute(
                    "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type,"
                    " reference_count) VALUES (%s, %s, %s, %s, 'image/png', 1)",
                    (image_id, hashlib.sha256(data).hexdigest(), data, len(data)),
                )
                (directory / f"{image_id}.png").write_bytes(data)
                paths[kind].append(f"/api/v1/public/images/{image_id}.png")
    paths["hot_etag"] = f'"{hashlib.sha256(images["hot"][0]).hexdigest()}"'
    paths["sizes"] = {kind: len(datas[0]) for kind, datas in images.items() if datas}
    return paths


class Server:
    """One gunicorn master with 2 sync workers, the same settings for every server."""

    def __init__(self, name: str, env: dict, workdir: Path):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = workdir / "gunicorn.bench.py"
        conf.write_text(GUNICORN_CONF)
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                str(conf),
                "--bind",
                f"127.0.0.1:{self.port}",
                SERVERS[name],
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            start_new_session=True,
        )

    def wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + path, timeout=2).status_code == 200:
                    time.sleep(1.5)  # let the second worker finish booting
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start")

    def worker_rss_mib(self) -> list[float]:
        pids = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        return [_rss_kib(int(pid)) / 1024 for pid in pids]

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=20)


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def start_servers(database, images_dir: Path, workdir: Path, prefix: str, paths: dict) -> dict:
    """The app and both baselines, started together on the same database, Redis and bytes."""
    common = {
        "BENCH_IMAGES": str(images_dir),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "PUBLIC_IMAGE_RATE_LIMITS": LIMITS,
        "GAMENIGHT_CONFIG": "production",
        "SECRET_KEY": "bench",
        "BACKEND_URL": "https://gamenight.bench",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "PUBLIC_IMAGE_CACHE_BYTES": str(CACHE_CAP),
    }
    servers = {
        name: Server(name, {**common, "RATELIMIT_KEY_PREFIX": f"{prefix}-{name}"}, workdir)
        for name in SERVERS
    }
    for server in servers.values():
        server.wait_ready(paths["hot"][0])
        check_answers(server, paths)
    return servers


def check_answers(server: Server, paths: dict) -> None:
    """Each server answers each scenario as intended before anything is measured."""
    hot = requests.get(server.url + paths["hot"][0], timeout=5)
    revalidated = requests.get(
        server.url + paths["hot"][0], timeout=5, headers={"If-None-Match": paths["hot_etag"]}
    )
    head = requests.head(server.url + paths["big"][0], timeout=5)
    cold = requests.get(server.url + paths["cold"][-1], timeout=5)
    assert hot.status_code == 200 and len(hot.content) == paths["sizes"]["hot"], server.name
    assert revalidated.status_code == 304, server.name
    assert head.status_code == 200, server.name
    assert head.headers["Content-Length"] == str(paths["sizes"]["big"]), server.name
    assert cold.status_code == 200, server.name


def wrk_scripts(workdir: Path, paths: dict) -> dict[str, tuple[str, Path | None]]:
    """Scenario -> (path, wrk Lua script) for hot GET, 304, HEAD of 5 MB and cold GETs."""
    revalidate = workdir / "revalidate.lua"
    revalidate.write_text(f"wrk.headers['If-None-Match'] = '{paths['hot_etag']}'\n")
    head = workdir / "head.lua"
    head.write_text('wrk.method = "HEAD"\n')
    cold = workdir / "cold.lua"
    cold.write_text(
        "paths = {" + ",".join(f'"{p}"' for p in paths["cold"]) + "}\n"
        "local threads = 0\n"
        "function setup(thread) threads = threads + 1; thread:set('start', threads * 997) end\n"
        "function init(args) i = start end\n"
        "function request() i = i % #paths + 1; return wrk.format(nil, paths[i]) end\n"
    )
    return {
        "hot GET": (paths["hot"][0], None),
        "304 revalidation": (paths["hot"][0], revalidate),
        "HEAD 5 MB": (paths["big"][0], head),
        "cold GET": (paths["cold"][0], cold),
    }


def run_wrk(url: str, script: Path | None, seconds: int, head: bool = False) -> float:
    """Answers per second over ``seconds``; any error or 4xx/5xx answer aborts the bench.

    wrk's parser does not know that a HEAD answer has no body: it waits for Content-Length
    bytes, gunicorn's sync worker closes the connection, and wrk counts a read error. For
    HEAD, each such read error is one complete answer (checked against gunicorn's access
    log: 6,940 read errors for 6,972 logged HEADs, the rest in flight at the end).
    """
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script)] if script else []
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    counts = [int(n) for n in errors.groups()] if errors else [0, 0, 0, 0]
    if (
        "Non-2xx or 3xx" in output
        or counts[0]
        or counts[2]
        or counts[3]
        or (counts[1] and not head)
    ):
        raise RuntimeError(f"wrk saw errors on {url}:\n{output}")
    if head:
        duration = float(re.search(r"requests in ([\d.]+)s", output).group(1))
        completed = int(re.search(r"(\d+) requests in", output).group(1))
        return (completed + counts[1]) / duration
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def run_rounds(servers: dict, scenarios: dict, rounds: int, seconds: int) -> tuple[dict, list]:
    """Alternate the servers within each scenario, rotating their order every round."""
    figures = {scenario: {name: [] for name in servers} for scenario in scenarios}
    rss_after_cold: list[float] = []
    names = list(servers)
    for round_number in range(rounds):
        order = names[round_number % 3 :] + names[: round_number % 3]
        for scenario, (path, script) in scenarios.items():
            for name in order:
                url = servers[name].url + path
                head = scenario.startswith("HEAD")
                run_wrk(url, script, 2, head)  # warm-up, not counted
                figures[scenario][name].append(run_wrk(url, script, seconds, head))
                print(
                    f"  round {round_number + 1} {scenario:17} {name:8} "
                    f"{figures[scenario][name][-1]:8.0f} req/s",
                    flush=True,
                )
            if scenario == "cold GET":
                rss_after_cold += servers["app"].worker_rss_mib()
    return figures, rss_after_cold


def report(figures: dict, rss_after_cold: list[float], servers: dict) -> None:
    """Medians, ratios to both baselines, and worker memory."""
    print(f"\n{'scenario':18}{'app':>9}{'bare':>9}{'limited':>9}{'/bare':>8}{'/limited':>10}")
    for scenario, by_server in figures.items():
        app, bare, limited = (statistics.median(by_server[n]) for n in ("app", "bare", "limited"))
        print(
            f"{scenario:18}{app:9.0f}{bare:9.0f}{limited:9.0f}"
            f"{app / bare:8.2f}{app / limited:10.2f}"
        )
    cap_mib = CACHE_CAP / 2**20
    print(
        f"\napp worker RSS after the cold runs: max {max(rss_after_cold):.0f} MiB "
        f"(cache cap {cap_mib:.0f} MiB; goal <= {cap_mib + 100:.0f} MiB)"
    )
    for name in ("bare", "limited"):
        print(
            f"{name} worker RSS (all images in memory): "
            + ", ".join(f"{rss:.0f} MiB" for rss in servers[name].worker_rss_mib())
        )


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
        print(f"seeding {COLD_IMAGES + 2} images ...", flush=True)
        paths = seed_images(database, images_dir)
        servers = start_servers(database, images_dir, workdir, prefix, paths)
        started_rss = servers["app"].worker_rss_mib()
        try:
            figures, rss = run_rounds(
                servers, wrk_scripts(workdir, paths), args.rounds, args.duration
            )
            report(figures, rss, servers)
            print("app worker RSS after start: " + ", ".join(f"{r:.0f} MiB" for r in started_rss))
        finally:
            for server in servers.values():
                server.stop()
            _forget_redis_keys(prefix)


def _forget_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
