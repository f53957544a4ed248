"""GET and HEAD of public images: bytes, headers, conditional requests, 404s, OpenAPI."""

import hashlib
import uuid

import pytest
from sqlalchemy import event
from werkzeug.http import http_date, parse_date

from app.extensions import db
from tests.public.conftest import image_bytes, image_url

IMAGE_HEADERS = [
    "Content-Type",
    "Content-Length",
    "Cache-Control",
    "ETag",
    "Last-Modified",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Access-Control-Allow-Origin",
]


@pytest.mark.sqlite_too
def test_image_bytes_returned_without_auth(client, stored_image):
    data = image_bytes()
    image_id = stored_image(data)

    response = client.get(image_url(image_id))

    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Length"] == str(len(data))


def test_no_auth_needed_even_with_a_bogus_token(client, stored_image):
    image_id = stored_image(image_bytes())

    response = client.get(image_url(image_id), headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 200


def test_cache_and_security_headers(client, stored_image):
    data = image_bytes()
    image_id = stored_image(data)

    headers = client.get(image_url(image_id)).headers

    assert headers["Cache-Control"] == "public, max-age=3600"
    assert headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert parse_date(headers["Last-Modified"]) is not None
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_cors_is_a_literal_wildcard_without_vary(client, stored_image):
    image_id = stored_image(image_bytes())

    for origin in (None, "https://discord.com", "https://example.org"):
        headers = {"Origin": origin} if origin else {}
        response = client.get(image_url(image_id), headers=headers)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Origin" not in response.headers.get("Vary", "")
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.sqlite_too
def test_missing_image_is_404_json_with_cors(client):
    response = client.get(image_url(uuid.uuid4()), headers={"Origin": "https://discord.com"})

    assert response.status_code == 404
    assert response.get_json() == {"message": "Image not found"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "ref",
    [
        "not-a-uuid",
        "1234",
        "..",
        "x/y/z",
        "%00",
        uuid.uuid4().hex,
        f"{{{uuid.uuid4()}}}",
        f"{uuid.uuid4()}.",
    ],
)
def test_malformed_id_is_404_json_with_cors(client, ref):
    response = client.get(image_url(ref), headers={"Origin": "https://discord.com"})

    assert response.status_code == 404
    assert response.get_json() == {"message": "Image not found"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-RateLimit-Limit" in response.headers


@pytest.mark.sqlite_too
def test_head_has_the_get_headers_and_no_body(client, stored_image):
    data = image_bytes()
    image_id = stored_image(data)
    get = client.get(image_url(image_id))

    head = client.head(image_url(image_id))

    assert head.status_code == 200
    assert head.data == b""
    for name in IMAGE_HEADERS:
        assert head.headers[name] == get.headers[name], name
    assert head.headers["Content-Length"] == str(len(data))


def test_head_never_reads_the_image_bytes(app, client, stored_image):
    image_id = stored_image(image_bytes())
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engines["public"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.head(image_url(image_id, ".png"))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert any("game_images" in statement for statement in statements)
    assert not any("image_data" in statement for statement in statements)


def test_jpeg_served_with_jpeg_type(client, stored_image):
    data = image_bytes("JPEG")
    image_id = stored_image(data, "image/jpeg")

    for extension in ("", ".jpg", ".jpeg"):
        response = client.get(image_url(image_id, extension))
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.data == data


@pytest.mark.sqlite_too
def test_gif_and_png_urls_serve_their_type(client, stored_image):
    gif = image_bytes("GIF")
    png = image_bytes("PNG", colour=(1, 2, 3))
    gif_id, png_id = stored_image(gif, "image/gif"), stored_image(png, "image/png")

    gif_response = client.get(image_url(gif_id, ".gif"))
    png_response = client.get(image_url(png_id, ".png"))

    assert (gif_response.status_code, gif_response.data) == (200, gif)
    assert gif_response.headers["Content-Type"] == "image/gif"
    assert (png_response.status_code, png_response.data) == (200, png)
    assert png_response.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize("extension", [".gif", ".jpg", ".webp", ".bmp", ".svg", ".PNG", ".png.gif"])
def test_wrong_or_unknown_extension_is_404(client, stored_image, extension):
    image_id = stored_image(image_bytes())

    response = client.get(image_url(image_id, extension))

    assert response.status_code == 404
    assert response.get_json() == {"message": "Image not found"}


@pytest.mark.sqlite_too
def test_matching_etag_answers_304_without_body(client, stored_image):
    image_id = stored_image(image_bytes())
    etag = client.get(image_url(image_id)).headers["ETag"]

    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(image_url(image_id), headers={"If-None-Match": if_none_match})
        assert response.status_code == 304, if_none_match
        assert response.data == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_other_etag_answers_200(client, stored_image):
    data = image_bytes()
    image_id = stored_image(data)

    response = client.get(image_url(image_id), headers={"If-None-Match": '"0123"'})

    assert (response.status_code, response.data) == (200, data)


def test_if_modified_since_answers_304_only_when_not_modified(client, stored_image):
    image_id = stored_image(image_bytes())
    last_modified = parse_date(client.get(image_url(image_id)).headers["Last-Modified"])

    same = client.get(image_url(image_id), headers={"If-Modified-Since": http_date(last_modified)})
    older = client.get(
        image_url(image_id), headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )

    assert same.status_code == 304
    assert older.status_code == 200


def test_head_revalidation_answers_304(client, stored_image):
    image_id = stored_image(image_bytes())
    etag = client.head(image_url(image_id)).headers["ETag"]

    assert client.head(image_url(image_id), headers={"If-None-Match": etag}).status_code == 304


def test_listed_under_public_tag_without_authentication(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    operations = spec["paths"]["/api/v1/public/images/{image_ref}"]
    for method in ("get", "head"):
        assert operations[method]["tags"] == ["public"]
        assert operations[method]["security"] == []
    assert "public" in [tag["name"] for tag in spec["tags"]]
