"""The costliest uploads we can craft, each with the outcome it must get within SPEC §11's bounds.

Each file is at most 5 MiB (test_upload_bounds.py checks) and aims at one term of the cost
model (app/services/image_budget.py): canvas and frames of GIF, APNG and animated WebP, JPEG
scans and coefficient buffers, tiny files announcing huge canvases, 16-bit, CMYK, interlaced
and palette images, re-encodes.
Some sit just inside a limit (the costliest accepted input of their kind), some just past it.
tests/services/test_upload_bounds.py runs each in a fresh process and checks its memory;
bench/upload_worst_case.py prints its CPU time and peak memory.

    python -m tests.data.costly_corpus   # writes them under tests/data/uploads/costly/
"""

import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests.data.upload_corpus import (
    UPLOADS_DIR,
    Accepted,
    Rejected,
    animated_gif,
    case,
    encode,
    gif_frame_past_canvas,
    leaky_exif,
    picture,
    png_chunk,
    write_corpus,
)

# Named by the builders' source, so a changed builder never reads a stale file.
SOURCE_KEY = hashlib.sha256(
    b"".join(
        Path(__file__).with_name(name).read_bytes()
        for name in ("costly_corpus.py", "upload_corpus.py")
    )
).hexdigest()[:12]
COSTLY_DIR = UPLOADS_DIR / f"costly-{SOURCE_KEY}"
TOO_MANY_PIXELS = "Unsupported image: more than 50 megapixels"
TOO_MANY_FRAMES = "Unsupported image: more than 900 animation frames"
ANIMATION_TOO_WIDE = "Unsupported image: animations must be at most 4096 px"
ANIMATION_TOO_LONG = "Unsupported image: more than 64 megapixels in all animation frames"
TOO_MANY_SCANS = "Unsupported image: more than 100 JPEG scans"
SCANS_TOO_COSTLY = "Unsupported image: JPEG scans x pixels over 1000 megapixels"
OVER_MEMORY = "Unsupported image: decoding it needs more than 224 MiB"

COSTLY: dict[str, tuple[Callable[[], bytes], Rejected | Accepted]] = {}


def costly(filename: str, outcome: Rejected | Accepted):
    """Register the decorated builder as the costly corpus file ``filename``."""
    return case(filename, outcome, registry=COSTLY)


def write_costly_corpus(directory: Path = COSTLY_DIR) -> Path:
    """Build every costly file into ``directory`` once (named by the builders' source)."""
    if not (directory / ".complete").exists():
        write_corpus(directory, COSTLY)
        (directory / ".complete").touch()
    return directory


# Builders -------------------------------------------------------------------------------


def animation(fmt: str, size: tuple[int, int], frames: int, **options) -> bytes:
    """``frames`` full-canvas frames of alternating colour (no two alike, so none merge)."""
    images = [
        Image.new("RGBA", size, (255 * (i % 2), 0, 255 * (1 - i % 2), 255)) for i in range(frames)
    ]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=40, **options)


def tiny_frames_on_canvas(canvas: tuple[int, int], frames: int) -> bytes:
    """A big canvas drawn once, then many 16 x 16 frames: each still costs a whole canvas."""
    base = Image.new("P", canvas, 0)
    base.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0])
    images = [base]
    for index in range(frames - 1):
        frame = base.copy()
        frame.paste(1 + index % 2, (0, 0, 16, 16))
        images.append(frame)
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=40)


def jpeg_scans(data: bytes) -> tuple[list[tuple[int, int]], int]:
    """The (start, end) of each scan of a JPEG (SOS header and entropy-coded data), and EOI."""
    spans, pos = [], 2
    while data[pos + 1] != 0xD9:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if data[pos + 1] == 0xDA:
            end = re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, pos + 2 + length).start()
            spans.append((pos, end))
            pos = end
        else:
            pos += 2 + length
    return spans, pos


def scan_bomb(size: tuple[int, int], scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has ``scans`` scans.

    libjpeg warns of the bogus progression and decodes every one, each a pass over all blocks.
    """
    jpeg = encode(picture(size), "JPEG", progressive=True, quality=30)
    spans, end = jpeg_scans(jpeg)
    last = jpeg[spans[-1][0] : spans[-1][1]]
    return jpeg[:end] + last * (scans - len(spans)) + jpeg[end:]


def png_of_filtered_rows(size: tuple[int, int], colour: int, depth: int, filter_type: int) -> bytes:
    """A blank PNG whose every row uses ``filter_type`` (4, Paeth, is the slowest to undo)."""
    width, height = size
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = bytes([filter_type]) + b"\x00" * (width * channels * depth // 8)
    compressor = zlib.compressobj(9)
    stream = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")


ADAM7 = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
]


def interlaced_png(size: tuple[int, int], colour: int, depth: int) -> bytes:
    """A blank Adam7-interlaced PNG (Pillow writes none): seven passes of zero rows."""
    width, height = size
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    compressor, parts = zlib.compressobj(9), []
    for x0, y0, dx, dy in ADAM7:
        pass_width, pass_height = -(-(width - x0) // dx), -(-(height - y0) // dy)
        row = b"\x00" * (1 + (pass_width * channels * depth + 7) // 8)
        parts += [compressor.compress(row) for _ in range(pass_height if pass_width else 0)]
    stream = b"".join(parts) + compressor.flush()
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 1))
    return b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")


def flat(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, 0 if mode in ("1", "L", "P", "I;16", "CMYK") else (90, 40, 200))


# Animations: canvas, frame count, canvas pixels of all frames ----------------------------

costly("gif-14-frames-4100px.gif", Rejected(415, ANIMATION_TOO_WIDE))(
    lambda: animated_gif((4100, 4100), 14)
)  # the 201 KB GIF: 20.8 s and 1.57 GB before
costly("gif-14-frames-4096px.gif", Rejected(415, ANIMATION_TOO_LONG))(
    lambda: animated_gif((4096, 4096), 14)
)
costly("gif-tiny-frames-on-3000px-canvas.gif", Rejected(415, ANIMATION_TOO_LONG))(
    lambda: tiny_frames_on_canvas((3000, 3000), 200)
)
costly("gif-16-frames-2000px.gif", Accepted("image/gif", (2000, 2000), frames=16))(
    lambda: animated_gif((2000, 2000), 16)
)  # 64 megapixels: the most an accepted animation composes
costly("gif-900-frames-266px.gif", Accepted("image/gif", (266, 266), frames=900))(
    lambda: animated_gif((266, 266), 900)
)
costly("gif-901-frames-1px.gif", Rejected(415, TOO_MANY_FRAMES))(lambda: animated_gif((1, 1), 901))
costly("gif-frame-past-canvas-to-5000px.gif", Rejected(415, ANIMATION_TOO_WIDE))(
    lambda: gif_frame_past_canvas((16, 16), (4990, 0, 10, 10))
)
costly("gif-frame-past-canvas-to-65535px.gif", Rejected(415, TOO_MANY_PIXELS))(
    lambda: gif_frame_past_canvas((16, 16), (65525, 65525, 10, 10))
)
costly("apng-16-frames-2000px.png", Accepted("image/png", (2000, 2000), frames=16))(
    lambda: animation("PNG", (2000, 2000), 16)
)
costly("apng-2-frames-4096px.png", Accepted("image/png", (4096, 4096), frames=2))(
    lambda: animation("PNG", (4096, 4096), 2)
)
costly("apng-900-frames-266px.png", Accepted("image/png", (266, 266), frames=900))(
    lambda: animation("PNG", (266, 266), 900)
)
costly("webp-16-frames-2000px.webp", Accepted("image/webp", (2000, 2000), frames=16))(
    lambda: animation("WEBP", (2000, 2000), 16, lossless=True)
)
costly("webp-3-frames-3500px.webp", Accepted("image/webp", (3500, 3500), frames=3))(
    lambda: animation("WEBP", (3500, 3500), 3, lossless=True)
)
costly("webp-animated-20-frames-16000px.webp", Rejected(415, ANIMATION_TOO_WIDE))(
    lambda: animation("WEBP", (16000, 64), 20, lossless=True)
)

# JPEG: scans and coefficient buffers -----------------------------------------------------

costly("jpeg-scan-bomb-1000-scans.jpg", Rejected(415, TOO_MANY_SCANS))(
    lambda: scan_bomb((2000, 2000), 1000)
)
costly("jpeg-100-scans-3100px.jpg", Accepted("image/jpeg", (3100, 3100)))(
    lambda: scan_bomb((3100, 3100), 100)
)  # 961 megapixel-scans: the most accepted
costly("jpeg-60-scans-5000px.jpg", Rejected(415, SCANS_TOO_COSTLY))(
    lambda: scan_bomb((5000, 5000), 60)
)
costly("jpeg-progressive-49mp.jpg", Accepted("image/jpeg", (3500, 3500), lossless=False))(
    lambda: encode(picture((7000, 7000)), "JPEG", progressive=True, quality=30)
)
costly("jpeg-progressive-cmyk-444-36mp.jpg", Rejected(415, OVER_MEMORY))(
    lambda: encode(flat((6000, 6000), "CMYK"), "JPEG", progressive=True, subsampling=0)
)
costly("jpeg-baseline-49mp.jpg", Accepted("image/jpeg", (3500, 3500), lossless=False))(
    lambda: encode(picture((7000, 7000)), "JPEG", quality=30, exif=leaky_exif())
)
costly("jpeg-cmyk-49mp.jpg", Accepted("image/jpeg", (3500, 3500), lossless=False))(
    lambda: encode(flat((7000, 7000), "CMYK"), "JPEG", quality=50)
)
costly("jpeg-4096px-turned.jpg", Accepted("image/jpeg", (3072, 4096), lossless=False))(
    lambda: encode(picture((4096, 3072)), "JPEG", quality=60, exif=leaky_exif(orientation=6))
)
costly("jpeg-header-60000px.jpg", Rejected(415, TOO_MANY_PIXELS))(
    lambda: _jpeg_announcing((60000, 60000))
)


def _jpeg_announcing(size: tuple[int, int]) -> bytes:
    jpeg = bytearray(encode(picture((8, 8)), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(jpeg)


# PNG: tiny files with huge canvases, 16-bit, interlaced, palette ------------------------

costly("png-rgba16-4096px-paeth.png", Accepted("image/png", (4096, 4096)))(
    lambda: png_of_filtered_rows((4096, 4096), 6, 16, 4)
)  # 128 MiB of pixel stream, inflated but never held
costly("png-rgba16-4096px-interlaced.png", Accepted("image/png", (4096, 4096)))(
    lambda: interlaced_png((4096, 4096), 6, 16)
)  # Adam7: Pillow decodes the whole image, 64 MiB
costly("png-rgba-4500px-paeth.png", Rejected(415, OVER_MEMORY))(
    lambda: png_of_filtered_rows((4500, 4500), 6, 8, 4)
)  # Pillow resizes RGBA through a premultiplied copy: 306 MB in all
costly("png-rgb-4500px-paeth.png", Accepted("image/png", (4096, 4096), lossless=False))(
    lambda: png_of_filtered_rows((4500, 4500), 2, 8, 4)
)
costly("png-rgba16-7000px.png", Rejected(415, OVER_MEMORY))(
    lambda: png_of_filtered_rows((7000, 7000), 6, 16, 0)
)  # 49 megapixels in 0.4 MB; 196 MB decoded: too much to downscale
costly("png-1-bit-7071px.png", Accepted("image/png", (4096, 4096), lossless=False))(
    lambda: encode(flat((7071, 7071), "1"), "PNG")
)
costly("png-grey16-6000px.png", Accepted("image/png", (4096, 410), lossless=False))(
    lambda: png_of_filtered_rows((6000, 600), 0, 16, 1)
)
costly("png-palette-8000px.png", Accepted("image/png", (4096, 3072), lossless=False))(
    lambda: _palette_with_transparency((8000, 6000))
)
costly("gif-still-7000px.gif", Accepted("image/gif", (4096, 4096), lossless=False))(
    lambda: encode(flat((7000, 7000), "P"), "GIF")
)


def _palette_with_transparency(size: tuple[int, int]) -> bytes:
    image = Image.new("P", size, 3)
    image.putpalette(bytes(range(256)) * 3)
    return encode(image, "PNG", transparency=3)


# WebP stills: libwebp's decoder holds several canvases ------------------------------------

costly("webp-still-3400px.webp", Accepted("image/webp", (3400, 3400)))(
    lambda: encode(picture((3400, 3400)), "WEBP", quality=50)
)
costly("webp-still-4096px.webp", Rejected(415, OVER_MEMORY))(
    lambda: encode(flat((4096, 4096)), "WEBP", quality=50)
)
costly("webp-lossless-16383x800.webp", Rejected(415, OVER_MEMORY))(
    lambda: encode(flat((16383, 800)), "WEBP", lossless=True)
)
costly("webp-lossless-9000x1000.webp", Accepted("image/webp", (4096, 455), lossless=False))(
    lambda: encode(flat((9000, 1000)), "WEBP", lossless=True)
)


if __name__ == "__main__":
    print(write_costly_corpus())
