"""Only sanitised images of the four types are ever served (SPEC §5): the rest is 404."""

import pytest

from tests.public.conftest import image_bytes, image_url

HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def mark_unsanitised(database, image_id) -> None:
    """As revision 0006 leaves a row that revision 0002 moved."""
    value = image_id if database.is_postgresql else image_id.hex
    database.execute("UPDATE game_images SET sanitised = false WHERE id = :id", id=value)


@pytest.mark.sqlite_too
@pytest.mark.parametrize(
    ("data", "mime_type"),
    [
        (HTML, "text/html"),
        (SVG, "image/svg+xml"),
        (b"\x00\x01binary", "application/octet-stream"),
        (image_bytes("BMP"), "image/bmp"),
    ],
)
def test_stored_row_of_another_type_is_never_served(client, stored_image, data, mime_type):
    image_id = stored_image(data, mime_type)
    for method in (client.get, client.head):
        answer = method(image_url(image_id))
        assert (answer.status_code, answer.content_type) == (404, "application/json")
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(image_url(image_id)).json == {"message": "Image not found"}
    assert data not in client.get(image_url(image_id)).data


@pytest.mark.sqlite_too
def test_unsanitised_image_is_not_served_until_it_is_sanitised(client, stored_image, database):
    image_id = stored_image(image_bytes("JPEG"), "image/jpeg")
    mark_unsanitised(database, image_id)
    assert client.get(image_url(image_id, ".jpg")).status_code == 404
    assert client.head(image_url(image_id)).status_code == 404
    database.execute("UPDATE game_images SET sanitised = true")
    assert client.get(image_url(image_id, ".jpg")).status_code == 200


@pytest.mark.sqlite_too
def test_uploading_the_bytes_of_an_unsanitised_row_marks_it_sanitised(
    client, stored_image, database
):
    data = image_bytes("PNG")  # what the sanitiser stores for it, byte for byte
    image_id = stored_image(data)
    mark_unsanitised(database, image_id)
    assert stored_image(data) == image_id
    rows = database.rows("SELECT reference_count, sanitised FROM game_images")
    assert [(row.reference_count, bool(row.sanitised)) for row in rows] == [(2, True)]
    assert client.get(image_url(image_id, ".png")).data == data
