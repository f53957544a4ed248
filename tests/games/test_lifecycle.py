"""The image lifecycle of games through the HTTP API, checked in the database itself."""

import hashlib
import io

import pytest

from tests.games.conftest import (
    BLUE,
    GREEN,
    RED,
    WHEN,
    count_of,
    game_row,
    image_bytes,
    image_counts,
    upload,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_with_a_thumbnail_stores_it_once_and_links_it(api, database):
    response = api.create(files={"thumbnail": RED})
    assert response.status_code == 201
    game = response.get_json()
    assert response.headers["Location"] == f"/api/v1/games/{game['id']}"
    assert image_counts(database) == {sha(RED): 1}
    row = game_row(database, game["id"])[0]
    assert str(row.thumbnail_id) == game["thumbnail_id"] and row.banner_image_id is None
    assert game["has_thumbnail"] and not game["has_image"] and game["banner_url"] is None


def test_create_with_both_images_stores_two_rows(api, database):
    game = api.create(files={"thumbnail": RED, "image": GREEN}).get_json()
    assert image_counts(database) == {sha(RED): 1, sha(GREEN): 1}
    assert count_of(database, game["thumbnail_id"]) == 1
    assert count_of(database, game["banner_image_id"]) == 1


def test_two_games_with_the_same_image_share_one_row(api, database):
    first = api.create(files={"thumbnail": RED}).get_json()
    second = api.create(files={"image": RED}).get_json()
    assert first["thumbnail_id"] == second["banner_image_id"]
    assert image_counts(database) == {sha(RED): 2}


def test_update_replaces_an_image_and_the_unreferenced_old_row_goes(api, database):
    game = api.create(files={"thumbnail": RED}).get_json()
    response = api.update(game["id"], files={"thumbnail": GREEN})
    assert response.status_code == 200
    assert image_counts(database) == {sha(GREEN): 1}
    assert (
        str(game_row(database, game["id"])[0].thumbnail_id) == response.get_json()["thumbnail_id"]
    )


def test_delete_releases_both_images(api, database):
    game = api.create(files={"thumbnail": RED, "image": GREEN}).get_json()
    response = api.delete(game["id"])
    assert response.status_code == 204 and response.data == b""
    assert game_row(database, game["id"]) == []
    assert image_counts(database) == {}


def test_a_shared_image_survives_until_its_last_reference_goes(api, database):
    first = api.create(files={"thumbnail": RED}).get_json()
    second = api.create(files={"thumbnail": RED, "image": RED}).get_json()
    assert image_counts(database) == {sha(RED): 3}
    api.delete(second["id"])
    assert image_counts(database) == {sha(RED): 1}
    api.update(first["id"], remove_thumbnail="true")
    assert image_counts(database) == {}


def test_clone_raises_counts_and_deleting_the_source_keeps_the_clone_images(api, database):
    source = api.create(files={"thumbnail": RED, "image": GREEN}, where="Ana's").get_json()
    response = api.clone(source["id"])
    assert response.status_code == 201
    clone = response.get_json()
    assert response.headers["Location"] == f"/api/v1/games/{clone['id']}"
    assert clone["id"] != source["id"] and clone["where"] == "Ana's"
    assert (clone["thumbnail_id"], clone["banner_image_id"]) == (
        source["thumbnail_id"],
        source["banner_image_id"],
    )
    assert image_counts(database) == {sha(RED): 2, sha(GREEN): 2}
    api.delete(source["id"])
    assert image_counts(database) == {sha(RED): 1, sha(GREEN): 1}
    assert api.get(f"/{clone['id']}").get_json()["thumbnail_url"] == clone["thumbnail_url"]


def test_clone_takes_a_new_date_and_starts_scheduled(api, database):
    source = api.create().get_json()
    api.update(source["id"], status="COMPLETED")
    clone = api.clone(source["id"], scheduled_at="2031-01-02T03:04:05-05:00").get_json()
    assert clone["scheduled_at"] == "2031-01-02T08:04:05+00:00"
    assert clone["status"] == "SCHEDULED"


def test_remove_flags_clear_both_slots_and_release_the_images(api, database):
    game = api.create(files={"thumbnail": RED, "image": GREEN}).get_json()
    response = api.update(game["id"], remove_thumbnail="true", remove_image="true")
    body = response.get_json()
    assert (body["thumbnail_id"], body["banner_image_id"], body["has_image"]) == (None, None, False)
    row = game_row(database, game["id"])[0]
    assert (row.thumbnail_id, row.banner_image_id) == (None, None)
    assert image_counts(database) == {}


def test_reuploading_the_same_bytes_keeps_the_image_id_and_row(api, database):
    game = api.create(files={"thumbnail": RED}).get_json()
    created = database.scalar("SELECT created_at FROM game_images")
    body = api.update(game["id"], files={"thumbnail": RED}).get_json()
    assert body["thumbnail_id"] == game["thumbnail_id"]
    assert database.scalar("SELECT created_at FROM game_images") == created
    assert image_counts(database) == {sha(RED): 1}


def test_upload_and_remove_of_the_same_slot_is_422_and_changes_nothing(api, database):
    game = api.create(files={"thumbnail": RED}).get_json()
    response = api.update(game["id"], files={"thumbnail": GREEN}, remove_thumbnail="true")
    assert response.status_code == 422
    assert "thumbnail" in response.get_json()["errors"]
    assert image_counts(database) == {sha(RED): 1}


def test_an_invalid_second_image_leaves_no_trace(api, database):
    response = api.create(files={"thumbnail": RED, "image": b"<svg onload=alert(1)>"})
    assert response.status_code == 415
    assert response.get_json()["errors"].keys() == {"image"}
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert image_counts(database) == {}
    game = api.create(files={"thumbnail": RED}).get_json()
    response = api.update(
        game["id"], files={"thumbnail": GREEN, "image": b"GIF89a broken"}, title="Changed"
    )
    assert response.status_code == 415
    assert game_row(database, game["id"])[0].title == "Catan night"
    assert image_counts(database) == {sha(RED): 1}


def test_an_image_over_5_mib_is_413_json(api, database):
    response = api.create(files={"thumbnail": b"\x89PNG\r\n\x1a\n" + bytes(5 * 2**20)})
    assert response.status_code == 413
    assert response.get_json()["errors"] == {"thumbnail": [response.get_json()["message"]]}
    assert image_counts(database) == {}


def test_a_four_megabyte_photo_sized_upload_is_accepted_byte_for_byte(api, database):
    from PIL import Image

    buffer = io.BytesIO()
    noise = Image.frombytes("RGB", (1150, 1150), hashlib.shake_256(b"seed").digest(1150 * 1150 * 3))
    noise.save(buffer, format="PNG", compress_level=1)
    big = buffer.getvalue()
    assert 3.5 * 2**20 < len(big) < 5 * 2**20
    response = api.create(files={"thumbnail": big})
    assert response.status_code == 201, response.get_json()
    assert image_counts(database) == {sha(big): 1}


def test_a_request_over_the_size_limit_is_413_json(api, app, database):
    response = api.client.post(
        "/api/v1/games",
        headers=api.headers,
        content_type="multipart/form-data",
        data={"guild_id": "guild-a", "thumbnail": upload(bytes(app.config["MAX_CONTENT_LENGTH"]))},
    )
    assert response.status_code == 413
    assert response.is_json and response.get_json()["message"]
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0


@pytest.mark.parametrize(
    "fmt, extension", [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("WEBP", "webp")]
)
def test_image_urls_are_absolute_public_urls_with_the_type_extension(api, fmt, extension):
    game = api.create(files={"thumbnail": image_bytes(fmt=fmt), "image": BLUE}).get_json()
    base = "https://gamenight.test/api/v1/public/images/"
    assert game["thumbnail_url"] == f"{base}{game['thumbnail_id']}.{extension}"
    assert game["banner_url"] == f"{base}{game['banner_image_id']}.png"


def test_the_old_authenticated_image_routes_do_not_exist(api):
    game = api.create(files={"thumbnail": RED, "image": GREEN}).get_json()
    for suffix in ("thumbnail", "image"):
        response = api.get(f"/{game['id']}/{suffix}")
        assert response.status_code == 404 and response.get_json()["message"]


@pytest.mark.sqlite_too
def test_json_create_without_images(api, database):
    response = api.client.post(
        "/api/v1/games",
        headers=api.headers,
        json={
            "guild_id": "guild-a",
            "title": "Chess",
            "scheduled_at": "2030-05-01T21:00:00+02:00",
            "description": "Bring a clock",
            "where": "Library",
            "signup_instructions": "React",
            "max_players": 2,
            "expected_duration_minutes": 90,
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["scheduled_at"] == "2030-05-01T19:00:00+00:00"
    assert (body["guild_id"], body["host_id"], body["status"]) == (
        "guild-a",
        "host-user",
        "SCHEDULED",
    )
    row = game_row(database, body["id"])[0]
    assert (row.title, row.where, row.max_players, row.expected_duration_minutes) == (
        "Chess",
        "Library",
        2,
        90,
    )
    assert (row.thumbnail_id, row.banner_image_id) == (None, None)


@pytest.mark.sqlite_too
def test_urlencoded_create_and_blank_optional_fields(api, database):
    response = api.client.post(
        "/api/v1/games",
        headers=api.headers,
        data={
            "guild_id": "guild-a",
            "title": "Go",
            "scheduled_at": WHEN,
            "max_players": "",
            "description": "",
        },
    )
    assert response.status_code == 201
    row = game_row(database, response.get_json()["id"])[0]
    assert (row.max_players, row.description) == (None, None)


def test_scheduled_at_is_stored_in_utc(api, database):
    game = api.create(scheduled_at="2030-05-01T08:30:00+05:30").get_json()
    assert game["scheduled_at"] == "2030-05-01T03:00:00+00:00"
    stored = database.scalar("SELECT scheduled_at AT TIME ZONE 'UTC' FROM game_sessions")
    assert stored.isoformat() == "2030-05-01T03:00:00"


@pytest.mark.sqlite_too
@pytest.mark.parametrize("value", ["2030-05-01T19:00:00", "2030-05-01", "tomorrow", ""])
def test_scheduled_at_without_an_offset_is_422_naming_the_field(api, database, value):
    response = api.create(scheduled_at=value)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"scheduled_at"}
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0


@pytest.mark.sqlite_too
@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"title": "x" * 201}, "title"),
        ({"title": "   "}, "title"),
        ({"max_players": "0"}, "max_players"),
        ({"expected_duration_minutes": "soon"}, "expected_duration_minutes"),
        ({"status": "SCHEDULED"}, "status"),
        ({"description": "nul\x00byte"}, "description"),
    ],
)
def test_validation_errors_are_json_and_name_the_field(api, fields, bad):
    response = api.create(**fields)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] and bad in body["errors"]


@pytest.mark.sqlite_too
def test_partial_update_changes_only_the_given_fields(api, database):
    game = api.create(description="Old", max_players="4").get_json()
    response = api.client.put(
        f"/api/v1/games/{game['id']}",
        headers=api.headers,
        json={"status": "CANCELLED", "max_players": None},
    )
    assert response.status_code == 200
    row = game_row(database, game["id"])[0]
    assert (row.status, row.max_players, row.description, row.title) == (
        "CANCELLED",
        None,
        "Old",
        "Catan night",
    )


@pytest.mark.sqlite_too
def test_list_filters_by_guild_and_status_and_paginates_with_total(api, database, client):
    token = database.create_token("host-user", "guild-a", "guild-c")
    headers = {"Authorization": f"Bearer {token}"}
    for day in range(1, 6):
        api.create(title=f"A{day}", scheduled_at=f"2030-05-0{day}T19:00:00Z")
    cancelled = api.create(title="A0", scheduled_at="2030-04-30T19:00:00Z").get_json()
    api.update(cancelled["id"], status="CANCELLED")
    api.create(guild_id="guild-c", title="C1")

    page = client.get(
        "/api/v1/games?guild_id=guild-a&status=SCHEDULED&limit=2&offset=1", headers=headers
    ).get_json()
    assert page["total"] == 5
    assert [game["title"] for game in page["games"]] == ["A2", "A3"]
    everything = client.get("/api/v1/games", headers=headers).get_json()
    assert everything["total"] == 7 and len(everything["games"]) == 7
    assert everything["games"][0]["title"] == "A0"
    for query in ("limit=0", "limit=101", "offset=-1", "status=bogus"):
        response = client.get(f"/api/v1/games?{query}", headers=headers)
        assert response.status_code == 422, query
        assert query.split("=")[0] in response.get_json()["errors"]


def test_the_api_needs_no_csrf_token_even_when_csrf_is_on(app_config, host_token):
    from app import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    client = create_app(app_config).test_client()
    response = client.post(
        "/api/v1/games",
        headers={"Authorization": f"Bearer {host_token}"},
        json={"guild_id": "guild-a", "title": "T", "scheduled_at": WHEN},
    )
    assert response.status_code == 201


def test_each_use_of_a_token_is_stamped_at_minute_resolution(api, database):
    assert database.scalar("SELECT last_used_at FROM api_tokens") is None
    api.get("")
    first = database.scalar("SELECT last_used_at FROM api_tokens")
    assert first is not None
    api.get("")  # within the minute: not rewritten, so concurrent requests never queue on it
    assert database.scalar("SELECT last_used_at FROM api_tokens") == first
    database.execute("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'")
    api.get("")
    assert database.scalar("SELECT last_used_at FROM api_tokens") > first


def test_same_image_in_both_slots_counts_two_references(api, database):
    game = api.create(files={"thumbnail": RED, "image": RED}).get_json()
    assert game["thumbnail_id"] == game["banner_image_id"]
    assert image_counts(database) == {sha(RED): 2}
    api.update(game["id"], remove_image="true")
    assert image_counts(database) == {sha(RED): 1}


def test_an_empty_file_field_means_no_file(api, database):
    response = api.client.post(
        "/api/v1/games",
        headers=api.headers,
        content_type="multipart/form-data",
        data={
            "guild_id": "guild-a",
            "title": "T",
            "scheduled_at": WHEN,
            "thumbnail": (io.BytesIO(b""), ""),
        },
    )
    assert response.status_code == 201
    assert response.get_json()["thumbnail_id"] is None


@pytest.mark.sqlite_too
def test_a_form_part_without_a_name_is_a_422_naming_it(api, database):
    response = api.create(**{"": "null"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"": ["Unknown field."]}
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
