"""Real servers for tests about workers, hosts and faults: gunicorn and a private redis-server."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.cli import ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


class Gunicorn:
    """``gunicorn wsgi:app`` with N workers on a free port, configured by environment."""

    def __init__(self, env: dict[str, str], workers: int = 2, log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GAMENIGHT_CONFIG": "development", **env}
        self.workers = workers
        self.log_path = (log_dir or Path("/tmp")) / f"gunicorn-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    gunicorn,
                    "--config",
                    "gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--access-logfile",
                    "-",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_until(self._healthy, 30, f"gunicorn on {self.url}")
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes (children of the master)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class RedisServer:
    """A private, disposable redis-server on a free port (so a test may kill it)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_until(self._ready, 10, f"redis-server on port {self.port}")
        return self

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX_VARIABLES = "${GAMENIGHT_LISTEN} ${GAMENIGHT_UPSTREAM} ${GAMENIGHT_CACHE_DIR}"


def filled_nginx_conf(listen: str, upstream: str, cache_dir: Path) -> str:
    """deploy/nginx.conf filled by envsubst with exactly the three variables, as documented."""
    return subprocess.run(
        ["envsubst", NGINX_VARIABLES],
        input=NGINX_CONF.read_text(),
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "GAMENIGHT_LISTEN": listen,
            "GAMENIGHT_UPSTREAM": upstream,
            "GAMENIGHT_CACHE_DIR": str(cache_dir),
        },
    ).stdout


class Nginx:
    """Debian's nginx running deploy/nginx.conf under a minimal main config, on a free port."""

    def __init__(self, upstream: str, workdir: Path, site=None, access_log: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = workdir / f"nginx-{self.port}"
        self.process: subprocess.Popen | None = None
        self.upstream = upstream
        # Another http-context file instead of deploy/nginx.conf: site(listen, cache_dir) -> text.
        self.site = site or (lambda listen, cache: filled_nginx_conf(listen, upstream, cache))
        self.access_log = access_log

    def write_config(self) -> Path:
        """The filled file, and a main config of `events {}` and `http { include ...; }`."""
        for folder in ("logs", "temp", "cache"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        site = self.prefix / "gamenight.conf"
        site.write_text(self.site(f"127.0.0.1:{self.port}", self.prefix / "cache"))
        temp = self.prefix / "temp"
        main = self.prefix / "nginx.conf"
        main.write_text(
            f"user root;\npid {self.prefix}/nginx.pid;\nerror_log {self.prefix}/logs/error.log;\n"
            "events {}\nhttp {\n"
            + "".join(f"    {kind}_temp_path {temp}/{kind};\n" for kind in NGINX_TEMP_PATHS)
            + f"    access_log {self._access_log_path()};\n    include {site};\n}}\n"
        )
        return main

    def _access_log_path(self) -> str:
        return f"{self.prefix}/logs/access.log" if self.access_log else "off"

    def start(self) -> "Nginx":
        main = self.write_config()
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(self.prefix), "-c", str(main), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _wait_until(self._listening, 10, f"nginx on {self.url}")
        return self

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


NGINX_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    """Debian's nginx (`make nginx` installs it)."""
    return shutil.which("nginx") or "/usr/sbin/nginx"
