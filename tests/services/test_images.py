"""The image service: one row per content, reference counts exact under any concurrency."""

import hashlib
import io
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import InvalidRequestError
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models.game_image import GameImage
from app.models.game_session import GameSession
from app.services.images import acquire_image, release_image, store_image
from app.services.uploads import sanitise_upload
from tests.data.upload_corpus import encode, picture
from tests.services.conftest import add_game, as_uuid, invariant_breaks, remove_game

THREADS = 16
RED = encode(picture(), "PNG")
BLUE = encode(picture().rotate(90, expand=True), "PNG")


@pytest.fixture
def app_config(app_config):
    """A pool large enough for every thread of the concurrency tests to hold a connection."""
    app_config |= {"DATABASE_POOL_SIZE": THREADS + 2, "DATABASE_MAX_OVERFLOW": 0}
    return app_config


def image_rows(database) -> list:
    return database.rows(
        "SELECT id, content_hash, reference_count, mime_type, byte_size FROM game_images"
    )


def in_own_transaction(app, work, start_line: threading.Barrier | None = None):
    """Run ``work`` in a new app context: its own session, connection and transaction."""
    with app.app_context():
        try:
            db.session.connection()  # connected and begun before the start line
            if start_line is not None:
                start_line.wait()
            result = work()
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise


# Seed behaviours -------------------------------------------------------------------------


@pytest.mark.sqlite_too
def test_new_image_gets_one_reference_and_the_sha256_of_its_bytes(app, database):
    image_id = store_image(RED, "image/png")
    db.session.commit()
    [row] = image_rows(database)
    assert as_uuid(row.id) == image_id
    assert row.content_hash == hashlib.sha256(RED).hexdigest()
    assert (row.reference_count, row.mime_type, row.byte_size) == (1, "image/png", len(RED))


@pytest.mark.sqlite_too
def test_storing_identical_bytes_again_returns_same_id_with_two_references(app, database):
    first = store_image(RED, "image/png")
    db.session.commit()
    second = store_image(RED, "image/png")
    db.session.commit()
    assert first == second
    assert [row.reference_count for row in image_rows(database)] == [2]


@pytest.mark.sqlite_too
def test_different_images_get_different_rows(app, database):
    assert store_image(RED, "image/png") != store_image(BLUE, "image/png")
    db.session.commit()
    assert sorted(row.content_hash for row in image_rows(database)) == sorted(
        hashlib.sha256(data).hexdigest() for data in (RED, BLUE)
    )


@pytest.mark.sqlite_too
def test_release_decrements_the_reference_count(app, database):
    image_id = store_image(RED, "image/png")
    store_image(RED, "image/png")
    db.session.commit()
    release_image(image_id)
    db.session.commit()
    assert [row.reference_count for row in image_rows(database)] == [1]


@pytest.mark.sqlite_too
def test_releasing_the_last_reference_deletes_the_row(app, database):
    image_id = store_image(RED, "image/png")
    db.session.commit()
    release_image(image_id)
    db.session.commit()
    assert image_rows(database) == []


@pytest.mark.sqlite_too
def test_release_of_none_or_of_a_missing_id_changes_nothing(app, database):
    store_image(RED, "image/png")
    db.session.commit()
    release_image(None)
    release_image(uuid.uuid4())
    db.session.commit()
    assert [row.reference_count for row in image_rows(database)] == [1]


@pytest.mark.sqlite_too
def test_acquire_counts_one_more_reference(app, database):
    image_id = store_image(RED, "image/png")
    acquire_image(image_id)
    db.session.commit()
    assert [row.reference_count for row in image_rows(database)] == [2]


@pytest.mark.sqlite_too
def test_rolled_back_store_leaves_no_row(app, database):
    store_image(RED, "image/png")
    db.session.rollback()
    assert image_rows(database) == []


@pytest.mark.sqlite_too
def test_identical_uploads_with_different_claimed_types_share_one_row_of_the_sniffed_type(
    app, database
):
    jpeg = encode(picture(), "JPEG")
    ids = set()
    for claimed in ("image/png", "image/gif", "text/html"):
        upload = FileStorage(io.BytesIO(jpeg), filename="photo.png", content_type=claimed)
        sanitised = sanitise_upload(upload.read())
        ids.add(store_image(sanitised.data, sanitised.mime_type))
    db.session.commit()
    [row] = image_rows(database)
    assert ids == {as_uuid(row.id)}
    assert (row.mime_type, row.reference_count) == ("image/jpeg", 3)


@pytest.mark.sqlite_too
def test_metadata_queries_never_load_the_image_bytes(app, database):
    store_image(RED, "image/png")
    db.session.commit()
    image = db.session.scalars(select(GameImage)).one()
    assert (image.byte_size, image.mime_type) == (len(RED), "image/png")
    with pytest.raises(InvalidRequestError, match="image_data"):
        _ = image.image_data


# Real concurrency (PostgreSQL) -----------------------------------------------------------


def test_simultaneous_first_stores_of_the_same_bytes_make_one_row_counting_each(app, database):
    start_line = threading.Barrier(THREADS, timeout=30)
    new_bytes = encode(picture((40, 40)), "PNG")

    def store():
        return store_image(new_bytes, "image/png")

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(in_own_transaction, app, store, start_line) for _ in range(THREADS)]
        ids = {future.result() for future in futures}  # re-raises any thread's exception
    [row] = image_rows(database)
    assert ids == {as_uuid(row.id)}
    assert row.reference_count == THREADS


def test_interleaved_stores_and_releases_keep_the_invariant_after_every_commit(app, database, host):
    contents = [RED, BLUE]
    checker = create_engine(database.pg.owner_url, pool_size=THREADS, max_overflow=0)
    start_line = threading.Barrier(THREADS, timeout=30)
    breaks: list = []

    def commit_and_check():
        db.session.commit()
        with checker.connect() as connection:
            breaks.extend(invariant_breaks(connection))

    def play(seed: int) -> None:
        rng, games = random.Random(seed), []
        for step in range(24):
            if games and (step >= 16 or rng.random() < 0.45):
                for image_id in remove_game(host, games.pop(rng.randrange(len(games)))):
                    release_image(image_id)
            else:
                # Several images in one transaction: always in the same order, as the games
                # service must, or two transactions could lock each other's rows (deadlock).
                picked = sorted(rng.sample(range(2), rng.choice([1, 2])))
                ids = [store_image(contents[index], "image/png") for index in picked]
                games.append(add_game(host, *ids))
            commit_and_check()
        for game in games:
            for image_id in remove_game(host, game):
                release_image(image_id)
            commit_and_check()

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [
                pool.submit(in_own_transaction, app, lambda s=seed: play(s), start_line)
                for seed in range(THREADS)
            ]
            for future in futures:
                future.result()
    finally:
        checker.dispose()
    assert breaks == []
    assert image_rows(database) == []  # every game gone, so every image with it


def _blocked(database, pid: int) -> bool:
    return bool(database.scalar("SELECT cardinality(pg_blocking_pids(:pid)) > 0", pid=pid))


@pytest.mark.parametrize("first", ["release", "store"])
def test_release_to_zero_racing_a_new_store_of_the_same_bytes_keeps_the_invariant(
    app, database, host, first
):
    """One transaction releases the last reference while another stores the same bytes."""
    with app.app_context():
        old_game = add_game(host, store_image(RED, "image/png"))
        db.session.commit()
    first_done, second_blocked = threading.Event(), threading.Event()
    second_pid: list[int] = []
    breaks: list = []

    def release_last():
        [image_id, _] = remove_game(host, old_game)
        release_image(image_id)

    def store_again():
        return add_game(host, store_image(RED, "image/png"))

    def run_first(work):
        def step():
            result = work()
            first_done.set()
            assert second_blocked.wait(10), "the second transaction never waited for the first"
            return result

        return in_own_transaction(app, step)

    def run_second(work):
        def step():
            second_pid.append(db.session.scalar(text("SELECT pg_backend_pid()")))
            first_done.wait(10)
            return work()

        return in_own_transaction(app, step)

    works = {"release": release_last, "store": store_again}
    second = "store" if first == "release" else "release"
    with ThreadPoolExecutor(2) as pool:
        first_future = pool.submit(run_first, works[first])
        second_future = pool.submit(run_second, works[second])
        while not second_blocked.is_set() and not second_future.done():
            if second_pid and _blocked(database, second_pid[0]):
                second_blocked.set()
            time.sleep(0.01)
        first_future.result()
        with database.engine.connect() as connection:
            breaks += invariant_breaks(connection)  # first committed, second still waiting
        second_future.result()
    with database.engine.connect() as connection:
        breaks += invariant_breaks(connection)
    assert breaks == []
    [row] = image_rows(database)
    assert row.reference_count == 1  # the new game's reference, on a live row
    assert (
        database.scalar("SELECT count(*) FROM game_sessions WHERE thumbnail_id = :id", id=row.id)
        == 1
    )


# Property: any sequence of game changes keeps the invariant ------------------------------

CONTENTS = [encode(picture((8 + index, 8)), "PNG") for index in range(3)]
content_indexes = st.sampled_from(range(len(CONTENTS)))


class ImageLifecycle(RuleBasedStateMachine):
    """Games scheduled, cloned, re-illustrated and cancelled as the games service does it."""

    games = Bundle("games")

    def __init__(self, database, host):
        super().__init__()
        self.database, self.host = database, host
        database.execute("DELETE FROM game_sessions")
        database.execute("DELETE FROM game_images")
        self.slots: dict[uuid.UUID, list[int | None]] = {}  # the model: contents per game

    @rule(target=games, thumbnail=st.none() | content_indexes, banner=st.none() | content_indexes)
    def schedule(self, thumbnail, banner):
        ids = [
            None if index is None else store_image(CONTENTS[index], "image/png")
            for index in (thumbnail, banner)
        ]
        game = add_game(self.host, *ids)
        db.session.commit()
        self.slots[game] = [thumbnail, banner]
        return game

    @rule(target=games, source=games)
    def clone(self, source):
        ids = db.session.execute(
            select(GameSession.thumbnail_id, GameSession.banner_image_id).where(
                GameSession.id == source
            )
        ).one()
        for image_id in ids:
            if image_id is not None:
                acquire_image(image_id)
        game = add_game(self.host, *ids)
        db.session.commit()
        self.slots[game] = list(self.slots[source])
        return game

    @rule(game=games, thumbnail=st.none() | content_indexes)
    def replace_thumbnail(self, game, thumbnail):
        # Store the new image before releasing the old: the same bytes keep their row.
        new_id = None if thumbnail is None else store_image(CONTENTS[thumbnail], "image/png")
        old_id = db.session.scalar(
            select(GameSession.thumbnail_id).where(GameSession.id == game).with_for_update()
        )
        db.session.execute(
            update(GameSession)
            .where(GameSession.id == game)
            .values(thumbnail_id=new_id)
            .execution_options(synchronize_session=False)
        )
        release_image(old_id)
        db.session.commit()
        self.slots[game][0] = thumbnail

    @rule(game=consumes(games))
    def cancel(self, game):
        for image_id in remove_game(self.host, game):
            release_image(image_id)
        db.session.commit()
        del self.slots[game]

    @invariant()
    def counts_equal_slots(self):
        with self.database.engine.connect() as connection:
            assert invariant_breaks(connection) == []
        expected = Counter(
            index for slots in self.slots.values() for index in slots if index is not None
        )
        assert {row.content_hash: row.reference_count for row in image_rows(self.database)} == {
            hashlib.sha256(CONTENTS[index]).hexdigest(): n for index, n in expected.items()
        }

    def teardown(self):
        db.session.rollback()


@pytest.mark.sqlite_too
def test_random_store_acquire_release_sequences_keep_the_invariant(app, database, host):
    run_state_machine_as_test(
        lambda: ImageLifecycle(database, host),
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
