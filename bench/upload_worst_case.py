"""Worst-case uploads: outcome, CPU seconds and peak memory of one sanitise in a fresh process.

For every file of the costly corpus (tests/data/costly_corpus.py) and of the upload corpus,
a new Python process imports the app, notes its idle size, sanitises the file once and
reports (tests/data/sanitise_once.py). Printed as a table beside SPEC §11's bounds: 2 s of
CPU and 256 MiB above the idle worker.

    .venv/bin/python -m bench.upload_worst_case [--app-root DIR] [--only SUBSTRING]

``--app-root`` runs the sanitiser of another checkout (e.g. main before a change) on the
same files.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.data.costly_corpus import COSTLY, write_costly_corpus
from tests.data.upload_corpus import CASES, write_corpus

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "data" / "sanitise_once.py"
CPU_BOUND = 2.0
MEMORY_BOUND_MIB = 256


def run_one(path: Path, app_root: Path, timeout: float) -> dict:
    """The measured outcome of one sanitise of ``path`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(app_root)}
    try:
        finished = subprocess.run(
            [sys.executable, str(RUNNER), str(path)],
            cwd=app_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": f"timeout > {timeout:.0f} s", "cpu_seconds": None}
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or ["?"])[-1]
        return {"outcome": f"crashed: {last[:60]}", "cpu_seconds": None}
    return json.loads(finished.stdout)


def describe(result: dict) -> str:
    if result["outcome"] == "accepted":
        return f"201 {result['mime_type']}"
    if result["outcome"] == "refused":
        return f"{result['status']} {result['message'].removeprefix('Unsupported image: ')}"
    return result["outcome"]


def row(name: str, size: int, result: dict) -> str:
    cpu, peak = result.get("cpu_seconds"), result.get("peak_bytes_above_idle")
    cpu_text = "-" if cpu is None else f"{cpu:.2f}"
    peak_text = "-" if peak is None else f"{peak / 2**20:.0f}"
    over = (cpu is None or cpu > CPU_BOUND) or (peak is None or peak > MEMORY_BOUND_MIB * 2**20)
    flag = "  OVER" if over else ""
    outcome = describe(result)[:58]
    return f"{name:<42} {size / 1024:>8.0f} {outcome:<58} {cpu_text:>6} {peak_text:>6}{flag}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", type=Path, default=ROOT)
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--costly-only", action="store_true")
    args = parser.parse_args()
    files = [write_costly_corpus() / name for name in COSTLY]
    if not args.costly_only:
        files += [write_corpus() / name for name in sorted(CASES)]
    print(f"sanitiser of {args.app_root}; bounds: {CPU_BOUND} s CPU, {MEMORY_BOUND_MIB} MiB")
    print(f"{'file':<42} {'KiB':>8} {'outcome':<58} {'CPU s':>6} {'MiB':>6}")
    for path in files:
        if args.only in path.name:
            result = run_one(path, args.app_root.resolve(), args.timeout)
            print(row(path.name, path.stat().st_size, result), flush=True)


if __name__ == "__main__":
    main()
