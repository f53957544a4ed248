"""The upload corpus: bad and edge-case files, each with the exact outcome it must get.

Run ``python -m tests.data.upload_corpus`` to write the files under tests/data/uploads/ for
inspection; the tests build them the same way (the big ones are not worth committing).
"""

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

UPLOADS_DIR = Path(__file__).resolve().parent / "uploads"
MIB = 1024 * 1024
# Metadata values no stored image may contain.
SECRETS = (b"LeakyCam", b"52.3702", b"secret-xmp-marker", b"secret-comment", b"<script>")

EMPTY = "Unsupported image: the file is empty"
UNSUPPORTED = "Unsupported image: only PNG, JPEG, GIF and WebP are accepted"
TRUNCATED = "Unsupported image: the file is truncated or corrupt"
POLYGLOT = "Unsupported image: the image's own bytes are also a zip archive or a PDF"
ANIMATION_TOO_WIDE = "Unsupported image: animations must be at most 4096 px"
TOO_MANY_PIXELS = "Unsupported image: more than 50 megapixels"
TOO_MANY_FRAMES = "Unsupported image: more than 900 animation frames"
TOO_LARGE = "Image too large: at most 5 MiB"


@dataclass(frozen=True)
class Rejected:
    """Refused with this HTTP status and message."""

    status: int
    message: str


@dataclass(frozen=True)
class Accepted:
    """Stored with this type, size and frame count; ``lossless``: the very same pixels."""

    mime_type: str
    size: tuple[int, int]
    frames: int = 1
    lossless: bool = True


CASES: dict[str, tuple[Callable[[], bytes], Rejected | Accepted]] = {}


def case(filename: str, outcome: Rejected | Accepted, registry: dict | None = None):
    """Register the decorated builder as the corpus file ``filename`` (in CASES by default)."""

    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        (CASES if registry is None else registry)[filename] = (build, outcome)
        return build

    return register


def write_corpus(directory: Path = UPLOADS_DIR, cases: dict | None = None) -> Path:
    """Build every file of the corpus (CASES by default) into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for filename, (build, _) in (CASES if cases is None else cases).items():
        temporary = directory / f".{filename}.{os.getpid()}"
        temporary.write_bytes(build())
        temporary.replace(directory / filename)
    return directory


# Builders -------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def picture(size=(64, 48)) -> Image.Image:
    """A small image with detail, so lossy codecs and resizes have something to change."""
    return Image.radial_gradient("L").resize(size).convert("RGB")


def leaky_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "LeakyCam"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (52.3702, 4.0, 1.0), 3: "E", 4: (4.8952, 0.0, 0.0)}  # GPS IFD
    return exif.tobytes()


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'note="secret-xmp-marker"/></rdf:RDF></x:xmpmeta>'
)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_before_iend(png: bytes, *chunks: bytes) -> bytes:
    return png[:-12] + b"".join(chunks) + png[-12:]


def jpeg_after_soi(jpeg: bytes, *segments: tuple[int, bytes]) -> bytes:
    encoded = b"".join(
        bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body for marker, body in segments
    )
    return jpeg[:2] + encoded + jpeg[2:]


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Main-Class: Evil\n")
        archive.writestr("index.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def png_of_exact_size(total: int, side: int = 1296) -> bytes:
    """A side x side noisy PNG padded with a text chunk to exactly ``total`` bytes."""
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    png = encode(noise, "PNG", compress_level=0)
    padding = total - len(png) - 12 - len(b"pad\x00")
    return png_before_iend(png, png_chunk(b"tEXt", b"pad\x00" + b"x" * padding))


def animated_gif(size, frames: int) -> bytes:
    images = [Image.new("P", size, index % 2) for index in range(frames)]
    for image in images:
        image.putpalette([255, 0, 0, 0, 0, 255])
    return encode(
        images[0],
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=40,
        loop=0,
        optimize=False,
    )


# Refused: not an image, or not one of the four types ---------------------------------

case("empty.png", Rejected(415, EMPTY))(lambda: b"")
case("script.svg", Rejected(415, UNSUPPORTED))(
    lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
)
case("prolog.svg", Rejected(415, UNSUPPORTED))(
    lambda: (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>'
        b"alert(1)</script></svg>"
    )
)
case("page.html", Rejected(415, UNSUPPORTED))(
    lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>"
)
case("text-named.png", Rejected(415, UNSUPPORTED))(lambda: b"just some text, honest")
case("document.pdf", Rejected(415, UNSUPPORTED))(
    lambda: b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
)
case("sound.wav", Rejected(415, UNSUPPORTED))(lambda: b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 32)
case("bitmap.bmp", Rejected(415, UNSUPPORTED))(lambda: encode(picture(), "BMP"))
case("scan.tiff", Rejected(415, UNSUPPORTED))(lambda: encode(picture(), "TIFF"))
case("favicon.ico", Rejected(415, UNSUPPORTED))(lambda: encode(picture(), "ICO"))
case("phone.heic", Rejected(415, UNSUPPORTED))(
    lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64
)
case("image.zip", Rejected(415, UNSUPPORTED))(zip_archive)

# Refused: cut short or broken ------------------------------------------------------------

case("truncated.png", Rejected(415, TRUNCATED))(lambda: encode(picture((300, 200)), "PNG")[:-400])
case("truncated.jpg", Rejected(415, TRUNCATED))(lambda: encode(picture((300, 200)), "JPEG")[:-400])
case("truncated.gif", Rejected(415, TRUNCATED))(lambda: encode(picture((300, 200)), "GIF")[:-400])
case("truncated.webp", Rejected(415, TRUNCATED))(lambda: encode(picture((300, 200)), "WEBP")[:-400])
case("signature-only.png", Rejected(415, TRUNCATED))(lambda: b"\x89PNG\r\n\x1a\n")
case("jpeg-magic-then-garbage.jpg", Rejected(415, TRUNCATED))(
    lambda: b"\xff\xd8\xff\xe0" + b"garbage" * 20
)
case("png-signature-jpeg-body.png", Rejected(415, TRUNCATED))(
    lambda: b"\x89PNG\r\n\x1a\n" + encode(picture(), "JPEG")
)


@case("corrupt-deflate.png", Rejected(415, TRUNCATED))
def _corrupt_deflate() -> bytes:
    """A PNG whose IDAT chunks are intact (valid CRC) but whose compressed stream is not."""
    raw = zlib.compress(b"\x00" + b"\xff" * 3 * 64) + b"\x00" * 4
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
    broken = raw[:10] + b"\xde\xad\xbe\xef" * 8
    return b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", broken) + png_chunk(b"IEND", b"")


def png_of_rows(width: int, rows: bytes, height: int, interlace: int = 0) -> bytes:
    """A grey PNG whose raw (filtered) pixel stream is exactly ``rows``."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + ihdr
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


case("unknown-filter-type.png", Rejected(415, TRUNCATED))(
    lambda: png_of_rows(4, (b"\x00" + b"\x80" * 4) * 3 + b"\x05" + b"\x80" * 4, 4)
)
case("short-pixel-stream.png", Rejected(415, TRUNCATED))(
    lambda: png_of_rows(4, (b"\x00" + b"\x80" * 4) * 3, 4)
)
case("extra-pixel-data.png", Rejected(415, TRUNCATED))(
    lambda: png_of_rows(4, (b"\x00" + b"\x80" * 4) * 5, 4)
)
case("gif-without-image.gif", Rejected(415, TRUNCATED))(
    lambda: b"GIF89a\x10\x00\x10\x00\x00\x00\x00\x3b"
)

# Accepted: a trailer after the first image is cut off (what a camera or phone appends) -----

# filename -> (builder of the first image alone, bytes found only in the trailer)
TRAILERS: dict[str, tuple[Callable[[], bytes], bytes]] = {}


def trailer_case(filename: str, mime_type: str, first: Callable[[], bytes], trailer: bytes):
    """A file made of ``first()`` then ``trailer``: accepted as the first image alone."""
    size = Image.open(io.BytesIO(first())).size
    case(filename, Accepted(mime_type, size))(lambda: first() + trailer)
    TRAILERS[filename] = (first, trailer)


def mpf_segment(first_length: int, second_length: int, second_offset: int) -> bytes:
    """An APP2 MPF segment (CIPA DC-007) indexing two images, as cameras and phones write."""
    entries = struct.pack(">IIIHH", 0x20030000, first_length, 0, 0, 0) + struct.pack(
        ">IIIHH", 0x00020002, second_length, second_offset, 0, 0
    )
    ifd = struct.pack(">H", 3) + b"".join(
        [
            struct.pack(">HHI4s", 0xB000, 7, 4, b"0100"),
            struct.pack(">HHII", 0xB001, 4, 1, 2),
            struct.pack(">HHII", 0xB002, 7, len(entries), 8 + 2 + 3 * 12 + 4),
        ]
    )
    return b"MPF\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + ifd + b"\x00" * 4 + entries


MPO_SECOND = encode(picture((32, 24)), "JPEG")
MPF_HEADER_AT = 2 + 4 + 4  # SOI, APP2 marker and length, "MPF\0": offsets count from here


def mpo_first_image() -> bytes:
    """The primary image of a multi-picture file: a JPEG carrying the MPF index of both."""
    jpeg = encode(picture(), "JPEG")
    first_length = len(jpeg) + 4 + len(mpf_segment(0, 0, 0))
    segment = mpf_segment(first_length, len(MPO_SECOND), first_length - MPF_HEADER_AT)
    return jpeg_after_soi(jpeg, (0xE2, segment))


MOTION_PHOTO_XMP = (
    b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description"
    b" GCamera:MotionPhoto='1' GCamera:MicroVideoOffset='64'/></rdf:RDF></x:xmpmeta>"
)
MP4_VIDEO = (
    b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    + struct.pack(">I", 48)
    + b"mdat"
    + b"the moment before the photo".ljust(40, b".")
)

trailer_case("mpo-two-jpegs.jpg", "image/jpeg", mpo_first_image, MPO_SECOND)
trailer_case(
    "motion-photo.jpg",
    "image/jpeg",
    lambda: jpeg_after_soi(encode(picture(), "JPEG"), (0xE1, MOTION_PHOTO_XMP)),
    MP4_VIDEO,
)
trailer_case(
    "png-then-html.png",
    "image/png",
    lambda: encode(picture(), "PNG"),
    b"<html><script>alert(1)</script></html>",
)
trailer_case("png-then-zip.png", "image/png", lambda: encode(picture(), "PNG"), zip_archive())
trailer_case("jpeg-then-jar.jpg", "image/jpeg", lambda: encode(picture(), "JPEG"), zip_archive())
trailer_case("gif-then-zip.gif", "image/gif", lambda: encode(picture(), "GIF"), zip_archive())
trailer_case(
    "webp-then-html.webp",
    "image/webp",
    lambda: encode(picture(), "WEBP"),
    b"<html><script>alert(1)</script></html>",
)
trailer_case("zero-padded.png", "image/png", lambda: encode(picture(), "PNG"), b"\x00" * 64)


@case("jpeg-junk-between-segments.jpg", Accepted("image/jpeg", (64, 48)))
def _jpeg_junk() -> bytes:
    """Bytes that are no segment between two segments: libjpeg and Pillow skip them."""
    jpeg = encode(picture(), "JPEG")
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[:sof] + b"junk between segments" + jpeg[sof:]


def gif_frame_past_canvas(screen: tuple[int, int], frame: tuple[int, int, int, int]) -> bytes:
    """A two-frame GIF whose second frame (left, top, width, height) is drawn past the screen."""
    first = encode(Image.new("P", screen, 0), "GIF")
    left, top, width, height = frame
    second = encode(Image.new("P", (width, height), 1), "GIF")
    start = second.index(b"\x2c")
    descriptor = b"\x2c" + struct.pack("<HHHH", left, top, width, height) + second[start + 9 :]
    return first[:-1] + descriptor


# Pillow draws the second frame on a canvas grown to hold it, as browsers do.
case("gif-frames-past-canvas.gif", Accepted("image/gif", (16, 16), frames=2))(
    lambda: gif_frame_past_canvas((16, 16), (8, 8, 16, 16))
)

# Refused: polyglots (the image's own bytes are also something else) ----------------------


@case("zip-in-pixels.png", Rejected(415, POLYGLOT))
def _zip_in_pixels() -> bytes:
    """A grey PNG whose pixel rows, stored uncompressed, are a zip archive."""
    archive = zip_archive()
    width = len(archive) + 16
    rows = b"\x00" + archive + b"\x00" * 16
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(rows, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + png_chunk(b"IEND", b"")


@case("pdf-in-palette.png", Rejected(415, POLYGLOT))
def _pdf_in_palette() -> bytes:
    """A palette PNG whose colour table starts a PDF (the header may be anywhere in 1 KiB)."""
    palette = (b"%PDF-1.4 " + b"\x00" * 768)[:768]
    image = Image.new("P", (8, 8), 0)
    image.putpalette(palette)
    return encode(image, "PNG")


# Refused: decompression bombs and endless animations -------------------------------------


@case("header-bomb.png", Rejected(415, TOO_MANY_PIXELS))
def _header_bomb() -> bytes:
    """30000 x 30000 announced, a few bytes of pixels: refused before anything is decoded."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" * 30001 * 4))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + png_chunk(b"IEND", b"")


case("deflate-bomb.png", Rejected(415, TOO_MANY_PIXELS))(
    lambda: encode(Image.new("1", (10000, 8000)), "PNG")
)  # 80 MP in a few kB


@case("screen-bomb.gif", Rejected(415, TOO_MANY_PIXELS))
def _screen_bomb() -> bytes:
    gif = bytearray(encode(picture((4, 4)), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
    return bytes(gif)


@case("frame-header-bomb.jpg", Rejected(415, TOO_MANY_PIXELS))
def _jpeg_bomb() -> bytes:
    jpeg = bytearray(encode(picture((8, 8)), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    return bytes(jpeg)


@case("canvas-bomb.webp", Rejected(415, TOO_MANY_PIXELS))
def _webp_bomb() -> bytes:
    webp = bytearray(encode(picture((8, 8)), "WEBP", lossless=True))
    vp8l = webp.index(b"VP8L") + 8
    bits = (16383) | (16383 << 14)  # 16384 x 16384, width-1 and height-1 in 14 bits each
    webp[vp8l + 1 : vp8l + 5] = struct.pack(
        "<I", bits | (int.from_bytes(webp[vp8l + 1 : vp8l + 5], "little") & 0xF0000000)
    )
    return bytes(webp)


case("901-frames.gif", Rejected(415, TOO_MANY_FRAMES))(lambda: animated_gif((2, 2), 901))

# Refused: too large ----------------------------------------------------------------------

case("5-mib-plus-one-byte.png", Rejected(413, TOO_LARGE))(lambda: png_of_exact_size(5 * MIB + 1))

# Accepted: stored sanitised, in the type the bytes really are ----------------------------

case("exactly-5-mib.png", Accepted("image/png", (1296, 1296)))(lambda: png_of_exact_size(5 * MIB))
case("jpeg-claimed-png.png", Accepted("image/jpeg", (64, 48)))(lambda: encode(picture(), "JPEG"))
case("gps-exif.jpg", Accepted("image/jpeg", (64, 48)))(
    lambda: jpeg_after_soi(
        encode(picture(), "JPEG", exif=leaky_exif()),
        (0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP),
        (0xFE, b"secret-comment <script>"),
    )
)
case("gps-exif.png", Accepted("image/png", (64, 48)))(
    lambda: encode(picture(), "PNG", exif=leaky_exif())
)


@case("text-chunks.png", Accepted("image/png", (64, 48)))
def _text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-comment <script>alert(1)</script>")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Software", "LeakyCam", zip=True)
    return encode(picture(), "PNG", pnginfo=info)


case("exif-xmp.webp", Accepted("image/webp", (64, 48)))(
    lambda: encode(picture(), "WEBP", exif=leaky_exif(), xmp=XMP, quality=90)
)


@case("comment-xmp.gif", Accepted("image/gif", (64, 48)))
def _gif_comment_xmp() -> bytes:
    gif = encode(picture(), "GIF", comment=b"secret-comment <script>")
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP[:255])]) + XMP[:255] + b"\x00"
    return gif[:-1] + xmp + gif[-1:]


case("wide-6000px.png", Accepted("image/png", (4096, 273), lossless=False))(
    lambda: encode(picture((6000, 400)), "PNG")
)
case("tall-5000px.jpg", Accepted("image/jpeg", (328, 4096), lossless=False))(
    lambda: encode(picture((400, 5000)), "JPEG", exif=leaky_exif())
)
case("wide-animated-5000px.gif", Rejected(415, ANIMATION_TOO_WIDE))(
    lambda: animated_gif((5000, 50), 3)
)
case("rotated-exif-orientation-6.jpg", Accepted("image/jpeg", (48, 64), lossless=False))(
    lambda: encode(picture(), "JPEG", exif=leaky_exif(orientation=6))
)
case("animated.gif", Accepted("image/gif", (16, 16), frames=5))(lambda: animated_gif((16, 16), 5))
case("animated.webp", Accepted("image/webp", (16, 16), frames=3))(
    lambda: encode(
        Image.new("RGB", (16, 16), "red"),
        "WEBP",
        save_all=True,
        lossless=True,
        append_images=[Image.new("RGB", (16, 16), c) for c in ("blue", "green")],
    )
)
case("animated.png", Accepted("image/png", (16, 16), frames=3))(
    lambda: encode(
        Image.new("RGB", (16, 16), "red"),
        "PNG",
        save_all=True,
        append_images=[Image.new("RGB", (16, 16), c) for c in ("blue", "green")],
    )
)
case("progressive.jpg", Accepted("image/jpeg", (300, 200)))(
    lambda: encode(picture((300, 200)), "JPEG", progressive=True, exif=leaky_exif())
)
case("with-gain-map.jpg", Accepted("image/jpeg", (64, 48)))(
    lambda: encode(picture(), "JPEG") + encode(picture((32, 24)), "JPEG")
)
case("interlaced.png", Accepted("image/png", (1, 1)))(
    lambda: png_of_rows(1, b"\x00\x80", 1, interlace=1)
)
case("16-bit-grey.png", Accepted("image/png", (64, 48)))(
    lambda: encode(picture().convert("I").point(lambda v: v * 256).convert("I;16"), "PNG")
)
case("palette.png", Accepted("image/png", (64, 48)))(lambda: encode(picture().convert("P"), "PNG"))
case("grey-alpha.png", Accepted("image/png", (64, 48)))(
    lambda: encode(picture().convert("LA"), "PNG")
)
case("1-bit.png", Accepted("image/png", (64, 48)))(lambda: encode(picture().convert("1"), "PNG"))
case("cmyk.jpg", Accepted("image/jpeg", (64, 48)))(
    lambda: encode(picture().convert("CMYK"), "JPEG")
)


if __name__ == "__main__":
    print(write_corpus())
