"""Server-side cost of storing an upload, against the floor of storing its bytes at all.

For a ~4 MB JPEG (camera-like, with EXIF and GPS) and a ~4 MB PNG, on PostgreSQL:
  ours  = sanitise_upload (sniff, strip, full decode) + store_image (hash, upsert) + commit
  floor = SHA-256 + a raw INSERT of the same bytes + commit
Runs alternate between the two; medians of N runs and their ratio are printed (goal: <= 3).

    .venv/bin/python -m bench.uploads [--runs 15]

A throwaway database is created and migrated with the tests' helpers (tests/pg.py) unless
BENCH_DATABASE_URL names an already migrated one (its game_images rows are deleted).
"""

import argparse
import hashlib
import io
import os
import statistics
import time
import uuid
from contextlib import contextmanager

from PIL import Image, ImageFilter
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services.images import store_image
from app.services.uploads import sanitise_upload

RAW_INSERT = text(
    "INSERT INTO game_images (id, content_hash, image_data, byte_size, mime_type, "
    "reference_count) VALUES (:id, :hash, :data, :size, :mime, 1)"
)


def photo(size: tuple[int, int], grain: int) -> Image.Image:
    """Smooth shapes plus sensor-like grain: compresses about as a camera picture does."""
    light = Image.radial_gradient("L").resize(size)
    sky = Image.linear_gradient("L").resize(size)
    channels = [
        Image.blend(base, Image.effect_noise(size, grain), 0.35).filter(
            ImageFilter.GaussianBlur(0.6)
        )
        for base in (light, sky, light.transpose(0))
    ]
    return Image.merge("RGB", channels)


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "BenchCam", "Model 1", 1
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 0.0)}
    return exif.tobytes()


def sample_files() -> dict[str, tuple[str, bytes]]:
    jpeg, png = io.BytesIO(), io.BytesIO()
    photo((4000, 3000), 60).save(jpeg, "JPEG", quality=92, exif=camera_exif())
    photo((1900, 1400), 20).save(png, "PNG")
    return {"JPEG": ("image/jpeg", jpeg.getvalue()), "PNG": ("image/png", png.getvalue())}


def ours(data: bytes) -> None:
    sanitised = sanitise_upload(data)
    store_image(sanitised.data, sanitised.mime_type)
    db.session.commit()


def floor(data: bytes, mime_type: str) -> None:
    content_hash = hashlib.sha256(data).hexdigest()
    db.session.execute(
        RAW_INSERT,
        {
            "id": uuid.uuid4(),
            "hash": content_hash,
            "data": data,
            "size": len(data),
            "mime": mime_type,
        },
    )
    db.session.commit()


def timed(work) -> float:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    db.session.execute(text("DELETE FROM game_images"))  # untimed: the next run inserts anew
    db.session.commit()
    return elapsed * 1000


def measure(mime_type: str, data: bytes, runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"floor": [], "ours": [], "sanitise": []}
    timed(lambda: ours(data))  # warm-up: connection, caches
    for _ in range(runs):
        times["floor"].append(timed(lambda: floor(data, mime_type)))
        times["ours"].append(timed(lambda: ours(data)))
        start = time.perf_counter()
        sanitise_upload(data)
        times["sanitise"].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


@contextmanager
def bench_database():
    """The URL of a migrated PostgreSQL database for the run."""
    if url := os.environ.get("BENCH_DATABASE_URL"):
        yield url
        return
    from tests import pg
    from tests.conftest import ADMIN_URL

    with pg.migrated_database(ADMIN_URL, label="bench") as database:
        yield database.owner_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    files = sample_files()
    with bench_database() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PUBLIC_DATABASE_URL": url})
        with app.app_context():
            db.session.execute(text("DELETE FROM game_images"))
            db.session.commit()
            print(f"median of {runs} runs, PostgreSQL, commit included in both")
            print(
                f"{'file':<6}{'bytes':>10}{'floor ms':>10}{'ours ms':>10}"
                f"{'sanitise ms':>13}{'ratio':>8}"
            )
            for name, (mime_type, data) in files.items():
                m = measure(mime_type, data, runs)
                print(
                    f"{name:<6}{len(data):>10}{m['floor']:>10.1f}{m['ours']:>10.1f}"
                    f"{m['sanitise']:>13.1f}{m['ours'] / m['floor']:>8.2f}"
                )
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


if __name__ == "__main__":
    main()
