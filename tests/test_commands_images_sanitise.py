"""``flask images sanitise`` (SPEC §9) on real PostgreSQL, from images that revision 0002 moved.

Each test seeds games with embedded images at revision 0001 (the old schema), upgrades to the
head as the owner, grants the runtime roles, then runs the real CLI as an operator would.
"""

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from app import create_app
from tests import pg
from tests.cli import ROOT, flask_cli
from tests.conftest import ADMIN_URL
from tests.data.upload_corpus import encode, leaky_exif, picture
from tests.discord.fake_discord import FakeDiscord

GPS_JPEG = encode(picture((640, 480)), "JPEG", exif=leaky_exif())
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def discord():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


@pytest.fixture
def old_database():
    """An empty database at revision 0001, with its owner's engine; dropped afterwards."""
    database = pg.create_database(ADMIN_URL, label="sanitise")
    flask_cli(database.owner_url, "db", "upgrade", "0001_initial_schema")
    engine = create_engine(database.owner_url)
    yield database, engine
    engine.dispose()
    pg.drop_database(database)


def run(engine, statement: str, **params) -> list:
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.maintenance', 'on', true)"))
        result = connection.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def seed_game(engine, title: str, guild_id: uuid.UUID, host_id: uuid.UUID, **images) -> str:
    """A game of revision 0001, its images embedded (``thumbnail``/``image``: (bytes, type));
    returns the id of its Discord message."""
    columns = {}
    for slot, (data, mime_type) in images.items():
        prefix = "thumbnail" if slot == "thumbnail" else "image"
        columns |= {f"{prefix}_data": data, f"{prefix}_mime_type": mime_type}
    names = ", ".join(["id", "guild_id", "host_id", "title", "scheduled_at", "status"] + [*columns])
    values = ", ".join([":id", ":guild", ":host", ":title", ":at", "'SCHEDULED'"])
    values += "".join(f", :{name}" for name in columns)
    message_id = str(uuid.uuid4().int % 10**18)
    run(
        engine,
        f"INSERT INTO game_sessions ({names}, message_id) VALUES ({values}, :message)",
        id=uuid.uuid4(),
        guild=guild_id,
        host=host_id,
        title=title,
        at="2026-12-24 19:00:00+00:00",
        message=message_id,
        **columns,
    )
    return message_id


def seed_guild(engine, webhook_url: str | None) -> tuple[uuid.UUID, uuid.UUID]:
    guild_id, host_id = uuid.uuid4(), uuid.uuid4()
    run(
        engine,
        "INSERT INTO guilds (id, discord_guild_id, name, webhook_url) "
        "VALUES (:id, '77', 'g', :url)",
        id=guild_id,
        url=webhook_url,
    )
    run(
        engine,
        "INSERT INTO users (id, discord_user_id, display_name) VALUES (:id, '88', 'u')",
        id=host_id,
    )
    return guild_id, host_id


def upgrade_and_grant(database) -> None:
    flask_cli(database.owner_url, "db", "upgrade")
    flask_cli(
        database.owner_url,
        "db",
        "grant",
        *("--app-role", database.app_role, "--public-role", database.public_role),
    )


def slots(engine) -> dict[str, tuple]:
    rows = run(engine, "SELECT title, thumbnail_id, banner_image_id FROM game_sessions")
    return {row.title: (row.thumbnail_id, row.banner_image_id) for row in rows}


def public_client(database):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.app_url,
            "PUBLIC_DATABASE_URL": database.public_url,
            "SECRET_KEY": "sanitise",
            "TESTING": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLIC_IMAGE_METADATA_TTL": 0,
        }
    )
    return app.test_client()


def deliver(database) -> None:
    """Run what the outbox holds, as a worker would, with the public origin of production."""
    env = {"BACKEND_URL": "https://gamenight.test"}
    flask_cli(database.owner_url, "discord", "deliver", "--once", env=env)


def sanitise(database, check: bool = True, **env) -> subprocess.CompletedProcess:
    return flask_cli(database.owner_url, "images", "sanitise", check=check, env=env)


def test_sanitise_cleans_migrated_images_removes_html_and_edits_the_messages(old_database, discord):
    database, engine = old_database
    guild_id, host_id = seed_guild(engine, discord.url)
    messages = {
        "photo": seed_game(engine, "photo", guild_id, host_id, thumbnail=(GPS_JPEG, "image/jpeg")),
        "html": seed_game(engine, "html", guild_id, host_id, image=(HTML, "text/html")),
        "both": seed_game(engine, "both", guild_id, host_id, thumbnail=(GPS_JPEG, "image/png")),
    }
    channel = discord.messages.setdefault(urlsplit(discord.url).path, {})
    channel.update({message_id: {"content": "posted before"} for message_id in messages.values()})
    upgrade_and_grant(database)
    before = slots(engine)
    jpeg_id, html_id = before["photo"][0], before["html"][1]
    client = public_client(database)
    assert client.get(f"/api/v1/public/images/{html_id}").status_code == 404
    assert client.get(f"/api/v1/public/images/{jpeg_id}").status_code == 404  # GPS inside
    assert "unsanitised:  2" in flask_cli(database.owner_url, "images", "stats").stdout

    result = sanitise(database)
    assert result.stdout.splitlines()[-2:] == [
        "Sanitised 2 image(s): 1 cleaned, 0 already clean, 1 removed from their games (not a "
        "real PNG, JPEG, GIF or WebP), 0 unused, 0 skipped; 3 game(s) changed",
        "  removed 1: Unsupported image: only PNG, JPEG, GIF and WebP are accepted",
    ]
    after = slots(engine)
    clean_id = after["photo"][0]
    assert after == {"photo": (clean_id, None), "html": (None, None), "both": (clean_id, None)}
    assert clean_id != jpeg_id
    answer = client.get(f"/api/v1/public/images/{clean_id}.jpg")
    assert (answer.status_code, answer.content_type) == (200, "image/jpeg")
    stored = Image.open(io.BytesIO(answer.data))
    stored.load()
    assert stored.size == (640, 480) and not stored.getexif()
    assert b"LeakyCam" not in answer.data and b"Exif\x00\x00" not in answer.data
    rows = run(engine, "SELECT id, reference_count, sanitised, content_hash FROM game_images")
    assert [(row.id, row.reference_count, row.sanitised) for row in rows] == [(clean_id, 2, True)]
    assert rows[0].content_hash == hashlib.sha256(answer.data).hexdigest()
    assert client.get(f"/api/v1/public/images/{jpeg_id}").status_code == 404
    assert discord.requests == []  # queued in the outbox with the changes, delivered later
    deliver(database)
    assert sorted(request["method"] for request in discord.wait_for(3)) == ["PATCH"] * 3
    shown = {
        title: discord.channel()[message_id]["embeds"][0] for title, message_id in messages.items()
    }
    clean_url = f"https://gamenight.test/api/v1/public/images/{clean_id}.jpg"
    assert shown["photo"]["thumbnail"]["url"] == shown["both"]["thumbnail"]["url"] == clean_url
    assert "image" not in shown["html"] and "thumbnail" not in shown["html"]

    assert flask_cli(database.owner_url, "images", "verify").returncode == 0
    again = sanitise(database)
    assert again.stdout.strip() == "Nothing to sanitise: every image is sanitised"
    assert slots(engine) == after
    deliver(database)
    assert len(discord.requests) == 3  # the second run queued no edit


def test_sanitise_killed_midway_finishes_when_run_again(old_database):
    database, engine = old_database
    guild_id, host_id = seed_guild(engine, None)
    photos = {}
    for index in range(40):
        # Turned by its EXIF: each one is re-encoded, so the run lasts long enough to be killed.
        photos[f"game {index}"] = encode(
            picture((1200 + index, 900)), "JPEG", exif=leaky_exif(orientation=6)
        )
        seed_game(
            engine,
            f"game {index}",
            guild_id,
            host_id,
            thumbnail=(photos[f"game {index}"], "image/jpeg"),
        )
    upgrade_and_grant(database)

    env = {**os.environ, "DATABASE_URL": database.owner_url, "GAMENIGHT_CONFIG": "development"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "images", "sanitise"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = run(engine, "SELECT count(*) FROM game_images WHERE sanitised")[0][0]
        if done >= 5:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = run(engine, "SELECT count(*) FROM game_images WHERE NOT sanitised")[0][0]
    assert 0 < left < 40  # killed midway, not before or after

    result = sanitise(database)
    assert f"Sanitised {left} image(s): {left} cleaned" in result.stdout
    assert run(engine, "SELECT count(*) FROM game_images WHERE NOT sanitised")[0][0] == 0
    assert flask_cli(database.owner_url, "images", "verify").returncode == 0
    for title, (thumbnail_id, _) in slots(engine).items():
        data = run(engine, "SELECT image_data FROM game_images WHERE id = :id", id=thumbnail_id)
        image = Image.open(io.BytesIO(bytes(data[0][0])))
        assert image.size == (900, 1200 + int(title.split()[1]))  # upright, from its own photo
        assert not image.getexif()
    assert sanitise(database).stdout.strip() == "Nothing to sanitise: every image is sanitised"
