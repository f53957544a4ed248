"""Run the real ``flask --app wsgi ...`` CLI in a subprocess, as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flask_cli(
    database_url: str, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``flask --app wsgi ARGS`` with DATABASE_URL set; return the finished process."""
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GAMENIGHT_CONFIG": "development",
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def modules_loaded_by(package: str) -> list[str]:
    """The ``app`` modules a fresh interpreter has loaded after ``import PACKAGE``."""
    code = f"import sys, {package}; print(' '.join(m for m in sys.modules if m.startswith('app')))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
