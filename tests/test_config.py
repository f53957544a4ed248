"""Configuration: production refuses to start without its secrets."""

import os
import subprocess
import sys

from tests.cli import ROOT


def _start_production(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, "GAMENIGHT_CONFIG": "production", **env},
        timeout=60,
    )


def test_production_without_secret_key_fails_at_start_with_clear_message():
    result = _start_production(DATABASE_URL="postgresql+psycopg://x@127.0.0.1/x")
    assert result.returncode != 0
    assert "refuses to start in production without SECRET_KEY set" in result.stderr


def test_production_without_database_url_fails_at_start_with_clear_message():
    result = _start_production(SECRET_KEY="s3cret")
    assert result.returncode != 0
    assert "without DATABASE_URL set" in result.stderr


def test_production_with_both_starts():
    result = _start_production(
        SECRET_KEY="s3cret", DATABASE_URL="postgresql+psycopg://x@127.0.0.1/x"
    )
    assert result.returncode == 0, result.stderr
