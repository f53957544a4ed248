"""Hypothesis-generated and mutated uploads and form fields against a live server."""

import io

import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.reliability.conftest import StatusLog, stack_env


def _encoded(fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode, (24, 16), 3 if mode == "P" else (200, 40, 90)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


VALID = [_encoded("PNG"), _encoded("JPEG", quality=80), _encoded("GIF"), _encoded("WEBP")]
HOSTILE = [
    b"",
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"<!doctype html><script>alert(1)</script>",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
]


@st.composite
def mutated_images(draw) -> bytes:
    """A valid image truncated, bit-flipped, wrapped or extended; or raw bytes."""
    data = bytearray(draw(st.sampled_from(VALID)))
    mutation = draw(st.sampled_from(["truncate", "flip", "append", "prepend", "none"]))
    if mutation == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif mutation == "flip":
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= draw(st.integers(1, 255))
    elif mutation == "append":
        data += draw(st.sampled_from([b"<html><script>x</script>", b"PK\x03\x04" * 8])) + draw(
            st.binary(max_size=64)
        )
    elif mutation == "prepend":
        data[:0] = draw(st.binary(min_size=1, max_size=32))
    return bytes(data)


uploads = st.one_of(mutated_images(), st.sampled_from(HOSTILE), st.binary(max_size=512))
claimed_types = st.sampled_from(
    ["image/png", "image/jpeg", "text/html", "image/svg+xml", "application/octet-stream"]
)
short_text = st.text(max_size=40)


VALID_FIELDS = {
    "guild_id": "fuzz-guild",
    "title": "Fuzz night",
    "scheduled_at": "2026-12-24T20:00:00Z",
}


def mostly(valid: str, fuzzed: st.SearchStrategy) -> st.SearchStrategy:
    """The valid value three times in four, else a fuzzed one."""
    return st.sampled_from([valid] * 3 + [None]).flatmap(
        lambda value: st.just(value) if value is not None else fuzzed
    )


form_fields = st.fixed_dictionaries(
    {
        "guild_id": mostly("fuzz-guild", st.sampled_from(["not-my-guild", ""]) | short_text),
        "title": mostly("Fuzz night", st.sampled_from(["x" * 201, ""]) | st.text(max_size=220)),
        "scheduled_at": mostly(
            "2026-12-24T20:00:00Z",
            st.sampled_from(
                [
                    "2026-12-24T20:00:00",
                    "2026-12-24T20:00:00+05:30",
                    "yesterday",
                    "9999-99-99T99:99:99Z",
                ]
            )
            | short_text,
        ),
    },
    optional={
        "max_players": mostly("4", st.integers(-3, 10**12).map(str) | short_text),
        "expected_duration_minutes": mostly("90", st.integers(-3, 10**6).map(str) | short_text),
        "description": mostly("Bring snacks", st.text(max_size=300)),
        "where": mostly("Voice channel", short_text),
        "status": st.sampled_from(["SCHEDULED", "CANCELLED", "bogus"]),
        "remove_thumbnail": st.sampled_from(["true", "false", "maybe"]),
    },
)


def _counts(database) -> tuple:
    return tuple(
        database.rows(
            "SELECT (SELECT count(*) FROM game_sessions), (SELECT count(*) FROM game_images), "
            "(SELECT coalesce(sum(reference_count), 0) FROM game_images)"
        )[0]
    )


def test_fuzzed_uploads_and_fields_never_5xx_and_rejections_leave_no_row(
    database, redis_prefix, start_gunicorn, report
):
    token = database.create_token("fuzz-user", "fuzz-guild")
    server = start_gunicorn(stack_env(database, redis_prefix))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    games_url = server.url + "/api/v1/games"
    log = StatusLog()

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(fields=form_fields, thumbnail=uploads, image=st.none() | uploads, claimed=claimed_types)
    # Always run, whatever is drawn: one success, one lying upload, one bad field.
    @example(fields=VALID_FIELDS, thumbnail=VALID[0], image=VALID[1], claimed="text/html")
    @example(fields=VALID_FIELDS, thumbnail=HOSTILE[1], image=None, claimed="image/png")
    @example(
        fields={**VALID_FIELDS, "title": ""}, thumbnail=VALID[2], image=None, claimed="image/gif"
    )
    def create_with(fields, thumbnail, image, claimed):
        files = {"thumbnail": ("upload.png", thumbnail, claimed)}
        if image is not None:
            files["image"] = ("banner.png", image, claimed)
        before = _counts(database)
        response = session.post(games_url, data=fields, files=files, timeout=30)
        log.record(response.status_code, f"{fields!r}")
        assert response.status_code < 500, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        if response.status_code >= 400:
            assert "message" in response.json()
            assert _counts(database) == before
        else:
            assert session.delete(f"{games_url}/{response.json()['id']}").status_code == 204

    create_with()
    report.update(requests=log.total, by_status=dict(sorted(log.by_status.items())))
    assert log.by_status[201] > 0 and log.by_status[415] > 0 and log.by_status[422] > 0
