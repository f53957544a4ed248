"""Upload sanitising: every corpus file gets its exact outcome; what is stored is clean."""

import hashlib
import io
from collections import Counter

import pytest
from PIL import Image, ImageSequence

from app.errors import STATUS_BY_ERROR
from app.extensions import db
from app.services.errors import ImageTooLarge, ServiceError
from app.services.images import store_image
from app.services.uploads import sanitise_upload
from tests.data.upload_corpus import (
    CASES,
    SECRETS,
    TRAILERS,
    Accepted,
    encode,
    picture,
    write_corpus,
)

METADATA_MARKERS = (
    b"Exif\x00\x00",
    b"eXIf",
    b"tEXt",
    b"iTXt",
    b"zTXt",
    b"XMP DataXMP",
    b"http://ns.adobe.com/xap/1.0/",
    *SECRETS,
)
REJECTED = sorted(name for name, (_, outcome) in CASES.items() if not isinstance(outcome, Accepted))
ACCEPTED = sorted(name for name, (_, outcome) in CASES.items() if isinstance(outcome, Accepted))
# As in production (app.services.uploads sets it), where pytest's own filters do not apply.
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="session")
def corpus():
    """The corpus files, written under tests/data/uploads/ by its generator."""
    return write_corpus()


def frames_of(data: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(data))
    return [frame.convert("RGBA") for frame in ImageSequence.Iterator(image)]


def test_corpus_holds_at_least_25_bad_files():
    assert len(REJECTED) >= 25


@pytest.mark.parametrize("filename", REJECTED)
def test_bad_file_is_refused_with_its_status_and_message(corpus, filename):
    expected = CASES[filename][1]
    with pytest.raises(ServiceError) as refused:
        sanitise_upload((corpus / filename).read_bytes())
    assert (STATUS_BY_ERROR[type(refused.value)], refused.value.message) == (
        expected.status,
        expected.message,
    )


@pytest.mark.parametrize("filename", ACCEPTED)
def test_accepted_file_is_stored_sanitised_in_its_real_type(corpus, filename):
    expected = CASES[filename][1]
    original = (corpus / filename).read_bytes()
    stored = sanitise_upload(original)
    frames = frames_of(stored.data)
    assert (stored.mime_type, frames[0].size, len(frames)) == (
        expected.mime_type,
        expected.size,
        expected.frames,
    )
    assert [m for m in METADATA_MARKERS if m in stored.data] == []
    assert not Image.open(io.BytesIO(stored.data)).getexif()
    if expected.lossless:
        # A trailer is cut off: the pixels are those of the first image alone.
        if filename in TRAILERS:
            reference = [Image.open(io.BytesIO(TRAILERS[filename][0]())).convert("RGBA")]
        else:
            reference = frames_of(original)
        assert [f.tobytes() for f in frames] == [f.tobytes() for f in reference]
    assert sanitise_upload(stored.data) == stored  # stable bytes, so a stable hash


@pytest.mark.sqlite_too
def test_rejected_files_leave_game_images_unchanged_and_accepted_ones_are_stored_clean(
    app, database, corpus
):
    def snapshot():
        return database.rows(
            "SELECT id, content_hash, reference_count FROM game_images ORDER BY content_hash"
        )

    for filename in sorted(CASES):
        before = snapshot()
        try:
            sanitised = sanitise_upload((corpus / filename).read_bytes())
            store_image(sanitised.data, sanitised.mime_type)
            db.session.commit()
        except ServiceError:
            db.session.rollback()
            assert filename in REJECTED
            assert snapshot() == before, filename
    rows = database.rows(
        "SELECT content_hash, mime_type, byte_size, reference_count, image_data FROM game_images"
    )
    # Files that differ only in metadata (gps-exif.png, text-chunks.png) share one row.
    expected = Counter()
    for name in ACCEPTED:
        sanitised = sanitise_upload((corpus / name).read_bytes())
        expected[(hashlib.sha256(sanitised.data).hexdigest(), CASES[name][1].mime_type)] += 1
    assert {(row.content_hash, row.mime_type): row.reference_count for row in rows} == expected
    for row in rows:
        data = bytes(row.image_data)
        assert (row.content_hash, row.byte_size) == (hashlib.sha256(data).hexdigest(), len(data))
        assert [m for m in METADATA_MARKERS if m in data] == []


END_OF_IMAGE = {
    "image/png": lambda data: data.endswith(b"IEND\xaeB`\x82"),
    "image/jpeg": lambda data: data.endswith(b"\xff\xd9"),
    "image/gif": lambda data: data.endswith(b"\x3b"),
    "image/webp": lambda data: len(data) == 8 + int.from_bytes(data[4:8], "little"),
}


@pytest.mark.parametrize("filename", sorted(TRAILERS))
def test_trailer_is_cut_off_and_the_first_image_alone_is_stored(corpus, filename):
    first, trailer = TRAILERS[filename]
    original = (corpus / filename).read_bytes()
    assert original.endswith(trailer)
    stored = sanitise_upload(original)
    assert stored == sanitise_upload(first())  # exactly what the first image alone gives
    assert END_OF_IMAGE[stored.mime_type](stored.data)
    assert len(stored.data) < len(original) - len(trailer) + 1
    Image.open(io.BytesIO(stored.data)).load()


def test_gif_whose_frames_extend_past_the_canvas_is_stored_as_it_came(corpus):
    original = (corpus / "gif-frames-past-canvas.gif").read_bytes()
    stored = sanitise_upload(original)
    assert stored.data == original
    frames = frames_of(stored.data)
    assert [frame.size for frame in frames] == [(16, 16), (24, 24)]  # the canvas grows


def test_jpeg_with_junk_between_segments_is_stored_without_it(corpus):
    original = (corpus / "jpeg-junk-between-segments.jpg").read_bytes()
    stored = sanitise_upload(original).data
    assert b"junk between segments" not in stored
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_gps_exif_is_removed_from_a_jpeg_without_re_encoding_it(corpus):
    original = (corpus / "gps-exif.jpg").read_bytes()
    stored = sanitise_upload(original).data
    scan = original[original.index(b"\xff\xda") :]
    assert stored.endswith(scan)  # the compressed pixels, byte for byte
    assert Image.open(io.BytesIO(stored)).getexif().get_ifd(0x8825) == {}


def test_image_needing_no_change_is_stored_byte_for_byte():
    png = encode(picture((1200, 900)), "PNG")
    assert sanitise_upload(png).data == png


def test_exif_orientation_is_applied_before_the_exif_is_dropped(corpus):
    stored = sanitise_upload((corpus / "rotated-exif-orientation-6.jpg").read_bytes())
    upright = Image.open(io.BytesIO(stored.data))
    # picture() is brighter at its edges than at its centre; turned, it keeps that shape.
    assert upright.size == (48, 64)
    assert upright.getpixel((24, 32))[0] < upright.getpixel((1, 1))[0]


def test_size_limit_is_given_by_the_caller():
    png = encode(picture(), "PNG")
    with pytest.raises(ImageTooLarge, match=r"^Image too large: at most 100 bytes$"):
        sanitise_upload(png, max_bytes=100)
    assert sanitise_upload(png, max_bytes=len(png)).mime_type == "image/png"
