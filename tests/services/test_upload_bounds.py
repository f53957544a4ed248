"""SPEC §11: every upload of at most 5 MiB is answered within 256 MiB above the idle worker.

Each corpus file is sanitised in a fresh process (tests/data/sanitise_once.py), whose peak
memory above its idle size is the kernel's high-water mark; the outcome is checked too.
Time is measured by bench/upload_worst_case.py, never asserted here.
"""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageSequence

from tests.cli import ROOT
from tests.data.costly_corpus import COSTLY, write_costly_corpus
from tests.data.upload_corpus import CASES, MIB, Accepted, write_corpus
from tests.servers import Gunicorn

MEMORY_BOUND = 256 * MIB
RUNNER = ROOT / "tests" / "data" / "sanitise_once.py"
ALL_CASES = {**CASES, **COSTLY}


@pytest.fixture(scope="module")
def corpus_files() -> dict[str, Path]:
    """Every file of both corpora, by name."""
    costly, plain = write_costly_corpus(), write_corpus()
    return {name: (costly if name in COSTLY else plain) / name for name in ALL_CASES}


def sanitise_in_fresh_process(path: Path, out: Path) -> dict:
    finished = subprocess.run(
        [sys.executable, str(RUNNER), str(path), str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(finished.stdout)


def decoded_frames(data: bytes) -> tuple[str, tuple[int, int], int]:
    image = Image.open(io.BytesIO(data))
    frames = 0
    for frame in ImageSequence.Iterator(image):
        frame.load()
        frames += 1
    return Image.MIME[image.format], Image.open(io.BytesIO(data)).size, frames


def test_costly_corpus_files_are_at_most_5_mib(corpus_files):
    sizes = {name: corpus_files[name].stat().st_size for name in COSTLY}
    assert {name: size for name, size in sizes.items() if size > 5 * MIB} == {}


@pytest.mark.parametrize("filename", sorted(ALL_CASES))
def test_upload_is_answered_within_the_memory_bound(corpus_files, tmp_path, filename):
    expected = ALL_CASES[filename][1]
    out = tmp_path / "stored"
    result = sanitise_in_fresh_process(corpus_files[filename], out)
    assert result["peak_bytes_above_idle"] <= MEMORY_BOUND, result
    if isinstance(expected, Accepted):
        assert result["outcome"] == "accepted", result
        assert decoded_frames(out.read_bytes()) == (
            expected.mime_type,
            expected.size,
            expected.frames,
        )
    else:
        assert (result["status"], result["message"]) == (expected.status, expected.message)


# Over HTTP: the GIF against a real gunicorn worker ---------------------------------


def worker_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) * 1024
        for key in ("VmRSS", "VmHWM")
    }


@pytest.fixture
def one_worker(database, redis_prefix, tmp_path):
    env = {
        "DATABASE_URL": database.app_url,
        "PUBLIC_DATABASE_URL": database.public_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": redis_prefix,
        "SECRET_KEY": "bounds",
        "BACKEND_URL": "https://gamenight.test",
        "DISCORD_WEBHOOKS_ENABLED": "false",
    }
    server = Gunicorn(env, workers=1, log_dir=tmp_path).start()
    yield server
    server.stop()


def test_14_frame_4100px_gif_is_answered_with_the_worker_within_the_memory_bound(
    one_worker, database, corpus_files
):
    token = database.create_token("500", "900")
    headers = {"Authorization": f"Bearer {token}"}
    form = {"guild_id": "900", "title": "Bomb night", "scheduled_at": "2026-12-24T19:00:00Z"}
    warm = requests.post(
        one_worker.url + "/api/v1/games", data=form, headers=headers, timeout=30
    )  # the worker's imports and connections, as an idle worker that has served has them
    assert warm.status_code == 201
    (pid,) = one_worker.worker_pids()
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS, the idle size
    idle = worker_memory(pid)["VmRSS"]
    gif = corpus_files["gif-14-frames-4100px.gif"].read_bytes()
    answer = requests.post(
        one_worker.url + "/api/v1/games",
        data=form,
        files={"thumbnail": ("bomb.gif", gif, "image/gif")},
        headers=headers,
        timeout=60,
    )
    assert answer.status_code == 415, answer.text  # refused from its header, before decoding
    assert answer.json()["message"] == "Unsupported image: animations must be at most 4096 px"
    assert worker_memory(pid)["VmHWM"] - idle <= MEMORY_BOUND
    assert one_worker.worker_pids() == [pid]  # answered by the worker, not by its replacement
    assert database.scalar("SELECT count(*) FROM game_images") == 0
