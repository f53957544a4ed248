"""Production refuses unsafe settings (SPEC §8): a real gunicorn start exits naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from config import DEVELOPMENT_SECRET_KEY
from tests.cli import ROOT
from tests.conftest import REDIS_URL
from tests.servers import Gunicorn, free_port

VARIABLES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "PUBLIC_DATABASE_URL",
    "RATELIMIT_STORAGE_URI",
    "BACKEND_URL",
    "GAMENIGHT_CONFIG",
    "PROMETHEUS_MULTIPROC_DIR",
)
SAFE = {
    "GAMENIGHT_CONFIG": "production",
    "SECRET_KEY": "a-long-random-production-secret",
    "DATABASE_URL": "postgresql+psycopg://gamenight_app@127.0.0.1:5432/gamenight",
    "PUBLIC_DATABASE_URL": "postgresql+psycopg://gamenight_public@127.0.0.1:5432/gamenight",
    "RATELIMIT_STORAGE_URI": REDIS_URL,
    "BACKEND_URL": "https://gamenight.example.org",
}
REFUSED = {
    "secret key missing": ({"SECRET_KEY": None}, "SECRET_KEY"),
    "secret key the development default": ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "SECRET_KEY"),
    "database url missing": ({"DATABASE_URL": None}, "DATABASE_URL"),
    "memory rate limits": ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
    "rate limits unset": ({"RATELIMIT_STORAGE_URI": None}, "RATELIMIT_STORAGE_URI"),
    "backend url localhost": ({"BACKEND_URL": "http://localhost:8000"}, "BACKEND_URL"),
    "backend url loopback": ({"BACKEND_URL": "https://127.0.0.2"}, "BACKEND_URL"),
    "backend url ipv6 loopback": ({"BACKEND_URL": "http://[::1]:8000"}, "BACKEND_URL"),
    "backend url unset": ({"BACKEND_URL": None}, "BACKEND_URL"),
    "postgresql without public url": ({"PUBLIC_DATABASE_URL": None}, "PUBLIC_DATABASE_URL"),
}


def _environment(changes: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update({k: v for k, v in {**SAFE, **changes}.items() if v is not None})
    return env


def _gunicorn(env: dict, bind: str, timeout: float = 60) -> subprocess.CompletedProcess:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return subprocess.run(
        [gunicorn, "--config", "gunicorn.conf.py", "--bind", bind, "--workers", "1", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_production_gunicorn_refuses_to_start_naming_the_variable(case):
    changes, variable = REFUSED[case]
    result = _gunicorn(_environment(changes), f"127.0.0.1:{free_port()}")
    assert result.returncode != 0
    refusal = result.stderr.split("refuses to start in production", 1)[1]
    assert f"  - {variable} " in refusal
    named = [name for name in VARIABLES if f"  - {name} " in refusal]
    assert named == [variable]  # the one unsafe setting, not the safe ones


def test_every_unsafe_setting_is_named_at_once():
    result = _gunicorn(
        _environment({"SECRET_KEY": None, "RATELIMIT_STORAGE_URI": None, "BACKEND_URL": None}),
        f"127.0.0.1:{free_port()}",
    )
    assert result.returncode != 0
    for variable in ("SECRET_KEY", "RATELIMIT_STORAGE_URI", "BACKEND_URL"):
        assert f"  - {variable} " in result.stderr


def test_flask_commands_refuse_the_same_settings():
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=ROOT,
        env=_environment({"RATELIMIT_STORAGE_URI": "memory://"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "  - RATELIMIT_STORAGE_URI is memory://" in result.stderr


def test_production_with_safe_settings_serves(pg_database, tmp_path):
    env = {
        **SAFE,
        "DATABASE_URL": pg_database.app_url,
        "PUBLIC_DATABASE_URL": pg_database.public_url,
    }
    server = Gunicorn(env, workers=1, log_dir=tmp_path).start()
    try:
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    assert "refuses" not in server.log()


def test_development_listening_beyond_loopback_warns_loudly(tmp_path):
    env = _environment({"GAMENIGHT_CONFIG": "development"})
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"0.0.0.0:{port}",
            "--workers",
            "1",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=20)
    warning = next(line for line in first_lines if "DEVELOPMENT MODE" in line)
    assert f"0.0.0.0:{port}" in warning and '"level": "WARNING"' in warning


def test_development_on_loopback_does_not_warn(tmp_path):
    server = Gunicorn({}, workers=1, log_dir=tmp_path).start()
    server.stop()
    assert "DEVELOPMENT MODE" not in server.log()
