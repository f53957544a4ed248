"""The per-worker image cache: bounded memory, bounded staleness, never the wrong bytes."""

import time

import psycopg

from app.services.image_cache import ByteCache
from tests.conftest import ADMIN_URL
from tests.public.conftest import image_bytes, image_url, store_in


def test_deleted_image_stops_being_served_within_the_metadata_ttl(make_app, database):
    app = make_app(PUBLIC_IMAGE_METADATA_TTL=1)
    client = app.test_client()
    image_id = store_in(app, image_bytes())
    assert client.get(image_url(image_id)).status_code == 200

    database.execute("DELETE FROM game_images WHERE id = :id", id=image_id)
    time.sleep(1.1)

    assert client.get(image_url(image_id)).status_code == 404
    assert client.head(image_url(image_id)).status_code == 404


def test_byte_cache_stays_within_its_budget_and_serves_the_right_bytes(make_app):
    images = [image_bytes(colour=(n, 0, 0), size=24) for n in range(10)]
    budget = 3 * max(len(data) for data in images)
    app = make_app(PUBLIC_IMAGE_CACHE_BYTES=budget)
    client = app.test_client()
    ids = [store_in(app, data) for data in images]

    for _ in range(2):
        for image_id, data in zip(ids, images, strict=True):
            assert client.get(image_url(image_id)).data == data

    assert 0 < app.extensions["public_image_cache"].bytes.size <= budget


def test_image_larger_than_the_budget_is_served_but_not_kept(make_app):
    data = image_bytes(size=64)
    app = make_app(PUBLIC_IMAGE_CACHE_BYTES=len(data) - 1)
    image_id = store_in(app, data)

    assert app.test_client().get(image_url(image_id)).data == data
    assert app.extensions["public_image_cache"].bytes.size == 0


def test_byte_cache_evicts_the_least_recently_used_first():
    cache = ByteCache(budget=20)
    cache.put("a", b"a" * 10)
    cache.put("b", b"b" * 10)
    cache.get("a")

    cache.put("c", b"c" * 10)

    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"a" * 10, None, b"c" * 10)
    assert cache.size == 20


def test_dropped_database_connection_is_replaced_without_an_error(make_app, database):
    app = make_app(PUBLIC_IMAGE_METADATA_TTL=0)
    client = app.test_client()
    image_id = store_in(app, image_bytes())
    assert client.get(image_url(image_id)).status_code == 200

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        terminated = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s",
            (database.pg.public_role,),
        ).fetchone()[0]

    assert terminated >= 1
    assert client.get(image_url(image_id)).status_code == 200
    assert client.head(image_url(image_id)).status_code == 200
