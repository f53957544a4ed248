"""Lossless metadata stripping: walk a PNG, JPEG, GIF or WebP byte structure, keep what renders.

Each walker copies the segments that draw the picture (pixels, palette, colour profile,
animation control) and drops the rest: EXIF (with GPS), XMP, text chunks, comments. It ends
at the end of the first complete image: what follows (a trailer such as a camera's MPF
secondary images, a motion photo's video, bytes after PNG's IEND, a zip after a GIF) is cut
off, never kept. No pixel is re-encoded. On the way it reads what decoding will cost (the
Structure: canvas, frames, JPEG scans), so the budget is checked before any pixel is decoded.
"""

import re
import struct
import zlib
from dataclasses import dataclass

from app.services.errors import UnsupportedImage

TRUNCATED = "Unsupported image: the file is truncated or corrupt"


@dataclass(frozen=True)
class Structure:
    """What a file's structure announces, read before decoding (see image_budget.py)."""

    size: tuple[int, int]  # the canvas; a GIF's grows to hold frames drawn past it
    frames: int = 1
    scans: int = 0  # JPEG: start-of-scan markers
    coefficient_bytes: int = 0  # JPEG with several scans: libjpeg's whole-image buffer
    interlaced: bool = False  # PNG


@dataclass(frozen=True)
class StrippedImage:
    """The first image's bytes without metadata, the EXIF block found (if any), its structure."""

    data: bytes
    structure: Structure
    exif: bytes | None = None


def strip_metadata(data: bytes, mime_type: str) -> StrippedImage:
    """The first image without metadata or trailer; UnsupportedImage if its structure is broken."""
    walkers = {
        "image/png": _strip_png,
        "image/jpeg": _strip_jpeg,
        "image/gif": _strip_gif,
        "image/webp": _strip_webp,
    }
    try:
        return walkers[mime_type](memoryview(data))
    except (IndexError, struct.error, ValueError) as e:
        raise UnsupportedImage(TRUNCATED) from e


def _need(data: memoryview, end: int) -> None:
    if end > len(data):
        raise UnsupportedImage(TRUNCATED)


# PNG: critical chunks, colour and transparency, and APNG animation control.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEPT = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"acTL",
    b"fcTL",
    b"fdAT",
}


def _strip_png(data: memoryview) -> StrippedImage:
    parts, exif, pos, frames = [data[:8]], None, 8, 0
    while True:
        _need(data, pos + 12)
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        _need(data, end)
        if pos == 8 and kind != b"IHDR":
            raise UnsupportedImage(TRUNCATED)
        if kind in PNG_KEPT:
            parts.append(data[pos:end])
        elif kind == b"eXIf":
            exif = bytes(data[pos + 8 : end - 4])
        frames += kind == b"fcTL"
        pos = end
        if kind == b"IEND":
            break  # the rest is a trailer
    width, height = struct.unpack(">II", data[16:24])
    structure = Structure((width, height), max(frames, 1), interlaced=data[28] != 0)
    return StrippedImage(b"".join(parts), structure, exif)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
INFLATE_BLOCK = 1 << 20


def check_png_pixel_data(data: bytes) -> None:
    """Inflate a non-interlaced PNG's pixel stream: a filter byte (0-4) and every pixel per row.

    The same stream Pillow would decode, minus the unfiltering arithmetic, which cannot fail.
    Output is streamed in 1 MiB blocks, so a highly compressed stream costs no memory.
    """
    view = memoryview(data)
    width, height, depth, colour = struct.unpack(">IIBB", view[16:26])
    stride = 1 + (width * PNG_CHANNELS[colour] * depth + 7) // 8
    inflater, seen = zlib.decompressobj(), 0
    try:
        for chunk in _png_chunks(view, b"IDAT"):
            while chunk:
                seen = _check_rows(inflater.decompress(chunk, INFLATE_BLOCK), seen, stride)
                chunk = inflater.unconsumed_tail
        seen = _check_rows(inflater.flush(), seen, stride)
    except zlib.error as e:
        raise UnsupportedImage(TRUNCATED) from e
    if not inflater.eof or seen != stride * height:
        raise UnsupportedImage(TRUNCATED)


def _check_rows(block: bytes, seen: int, stride: int) -> int:
    """Check the filter bytes of the rows starting in ``block``; return the bytes seen."""
    filters = block[(-seen) % stride :: stride]
    if filters and max(filters) > 4:
        raise UnsupportedImage(TRUNCATED)
    return seen + len(block)


def _png_chunks(data: memoryview, wanted: bytes):
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == wanted:
            yield data[pos + 8 : pos + 8 + length]
        pos += 12 + length


# JPEG: drop APPn segments but JFIF (APP0), ICC profiles (APP2) and Adobe colour (APP14).
JPEG_KEPT_APP = {0xE0: (b"JFIF\x00",), 0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
# Inside entropy-coded data, 0xFF is followed by 0x00 (stuffing) or a restart marker.
JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
JPEG_MARKER_START = re.compile(rb"\xff")
EXIF_HEADER = b"Exif\x00\x00"


def _strip_jpeg(data: memoryview) -> StrippedImage:
    parts, exif, pos, frame, scans = [data[:2]], None, 2, None, 0
    while True:
        _need(data, pos + 2)
        if data[pos] != 0xFF:
            # Junk between segments: libjpeg skips to the next marker (with a warning), so
            # does Pillow; it is dropped here.
            pos = _next_marker_start(data, pos)
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            parts.append(data[pos : pos + 2])
            break  # the first image ends here; the rest (MPF images, a video) is a trailer
        if marker in JPEG_STANDALONE:
            parts.append(data[pos : pos + 2])
            pos += 2
            continue
        _need(data, pos + 4)
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        _need(data, end)
        payload = bytes(data[pos + 4 : min(end, pos + 18)])
        if marker == 0xE1 and payload.startswith(EXIF_HEADER) and exif is None:
            exif = bytes(data[pos + 10 : end])
        if marker in JPEG_FRAMES and frame is None:
            frame = (marker, bytes(data[pos + 4 : end]))
        if _keep_jpeg_segment(marker, payload):
            parts.append(data[pos:end])
        pos = end
        if marker == 0xDA:
            scans += 1
            pos = _end_of_scan(data, pos)
            parts.append(data[end:pos])
    if frame is None:
        raise UnsupportedImage(TRUNCATED)
    return StrippedImage(b"".join(parts), _jpeg_structure(*frame, scans), exif)


def _jpeg_structure(marker: int, header: bytes, scans: int) -> Structure:
    """Size, scans and the coefficient buffer libjpeg keeps when there are several scans."""
    height, width, count = struct.unpack(">HHB", header[1:6])
    sampling = [(b >> 4, b & 0x0F) for b in header[7 : 6 + 3 * count : 3]]
    if not width or not height or len(sampling) != count or not all(all(s) for s in sampling):
        raise UnsupportedImage(TRUNCATED)
    most_h = max(h for h, _ in sampling)
    most_v = max(v for _, v in sampling)
    blocks = sum(
        -(-width * h // (8 * most_h)) * -(-height * v // (8 * most_v)) for h, v in sampling
    )
    buffered = marker in JPEG_PROGRESSIVE or scans > 1
    return Structure((width, height), 1, scans, blocks * 128 if buffered else 0)


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if 0xE0 <= marker <= 0xEF:
        return payload.startswith(JPEG_KEPT_APP.get(marker, ()))
    return marker != 0xFE  # comments go; tables, frames and scans stay


def _next_marker_start(data: memoryview, pos: int) -> int:
    match = JPEG_MARKER_START.search(data, pos)
    if match is None:
        raise UnsupportedImage(TRUNCATED)
    return match.start()


def _end_of_scan(data: memoryview, pos: int) -> int:
    match = JPEG_NEXT_MARKER.search(data, pos)
    if match is None:
        raise UnsupportedImage(TRUNCATED)
    return match.start()


# GIF: image blocks, graphic control and the loop count stay; comments and XMP go.
GIF_KEPT_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _strip_gif(data: memoryview) -> StrippedImage:
    _need(data, 13)
    pos = 13 + _colour_table_size(data[10])
    _need(data, pos)
    parts, frames = [data[:pos]], 0
    width, height = struct.unpack("<HH", data[6:10])
    while pos < len(data) and data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x2C:
            _need(data, pos + 11)
            left, top, frame_width, frame_height = struct.unpack("<HHHH", data[pos + 1 : pos + 9])
            # Pillow draws a frame past the logical screen by growing the canvas.
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            frames += 1
            pos = _skip_sub_blocks(data, pos + 11 + _colour_table_size(data[pos + 9]))
            parts.append(data[start:pos])
        elif data[pos] == 0x21:
            pos = _skip_sub_blocks(data, pos + 2)
            if _keep_gif_extension(data[start + 1], data[start + 2 : start + 14]):
                parts.append(data[start:pos])
        else:
            raise UnsupportedImage(TRUNCATED)
    # Some encoders omit the trailer after a complete last block: it is added back. What
    # follows the trailer is cut off.
    parts.append(b"\x3b")
    if not frames:
        raise UnsupportedImage(TRUNCATED)
    return StrippedImage(b"".join(parts), Structure((width, height), frames))


def _colour_table_size(flags: int) -> int:
    return 3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: memoryview, pos: int) -> int:
    while True:
        _need(data, pos + 1)
        size = data[pos]
        pos += 1 + size
        if size == 0:
            _need(data, pos)
            return pos


def _keep_gif_extension(label: int, application: memoryview) -> bool:
    if label == 0xFF:
        return bytes(application[1:12]) in GIF_KEPT_APPS
    return label != 0xFE  # graphic control and plain text stay; comments go


# WebP: the RIFF chunks that draw, without EXIF and XMP (and their VP8X flags).
WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
VP8X_EXIF_AND_XMP = 0x08 | 0x04


def _strip_webp(data: memoryview) -> StrippedImage:
    _need(data, 12)
    riff_end = 8 + struct.unpack("<I", data[4:8])[0]
    _need(data, riff_end)
    parts, exif, pos, frames, size = [], None, 12, 0, None
    while pos + 8 <= riff_end:
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        end = pos + 8 + length
        if end > riff_end:
            raise UnsupportedImage(TRUNCATED)
        if kind == b"EXIF":
            exif = bytes(data[pos + 8 : end])
        elif kind in WEBP_KEPT:
            parts.append(_webp_chunk(data[pos:end], kind, length))
            size = size or _webp_size(kind, data[pos + 8 : end])
        frames += kind == b"ANMF"
        pos = end + (length & 1)
    if not parts or size is None:
        raise UnsupportedImage(TRUNCATED)
    body = b"".join(parts)  # what follows the RIFF chunk is a trailer, cut off
    riff = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    return StrippedImage(riff, Structure(size, max(frames, 1)), exif)


def _webp_size(kind: bytes, payload: memoryview) -> tuple[int, int] | None:
    """The canvas a VP8X, VP8L or VP8 chunk announces (the first of them counts)."""
    if kind == b"VP8X":
        width, height = (int.from_bytes(payload[at : at + 3], "little") + 1 for at in (4, 7))
        return width, height
    if kind == b"VP8L":
        bits = struct.unpack("<I", payload[1:5])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", payload[6:10])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _webp_chunk(chunk: memoryview, kind: bytes, size: int) -> bytes | memoryview:
    """The chunk, padded to even length, with VP8X no longer announcing EXIF or XMP."""
    if kind != b"VP8X" and not size & 1:
        return chunk
    copy = bytearray(chunk)
    if kind == b"VP8X":
        copy[8] &= ~VP8X_EXIF_AND_XMP & 0xFF
    return bytes(copy) + b"\x00" * (size & 1)
