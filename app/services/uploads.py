"""Upload validation and sanitising: what is stored is a real PNG, JPEG, GIF or WebP, cleaned.

The type comes from the bytes (magic numbers, then Pillow opening them with that format only
and every pixel decoded under pixel and frame limits), never from the client's claim.
Metadata is removed losslessly by walking the file's structure (image_metadata.py); pixels
are re-encoded only when the image must change: wider or taller than 4096 px, or turned by an
EXIF orientation that stripping would otherwise lose. Re-encoding a 4 MB PNG costs ~150 ms;
the lossless path costs about what storing the bytes does (bench/uploads.py).
"""

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageSequence

from app.services.errors import ImageTooLarge, UnsupportedImage
from app.services.image_metadata import TRUNCATED, check_png_pixel_data, strip_metadata

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_IMAGE_BYTES = 5 * MIB
MAX_SIDE = 4096  # Discord's media proxy fails to scale larger images
MAX_PIXELS = 50_000_000  # per frame; a 6000 x 8000 photo passes, a decompression bomb does not
MAX_FRAMES = 900
MAX_ANIMATION_PIXELS = 250_000_000  # all frames together: bounds the time spent decoding

MAGIC_NUMBERS = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
SAVE_OPTIONS = {"PNG": {}, "JPEG": {"quality": 90}, "GIF": {}, "WEBP": {"quality": 90}}
# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

UNSUPPORTED = "Unsupported image: only PNG, JPEG, GIF and WebP are accepted"
EMPTY = "Unsupported image: the file is empty"
TOO_MANY_PIXELS = f"Unsupported image: more than {MAX_PIXELS // 1_000_000} megapixels"
TOO_MANY_FRAMES = f"Unsupported image: more than {MAX_FRAMES} animation frames"
ANIMATION_TOO_LONG = "Unsupported image: the animation has too many pixels in all"

# Pillow's own bomb guard, lowered to our limit, fails instead of warning.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)


@dataclass(frozen=True)
class SanitisedImage:
    """Bytes ready to store, and the type they really are."""

    data: bytes
    mime_type: str


def sanitise_upload(data: bytes, max_bytes: int = MAX_IMAGE_BYTES) -> SanitisedImage:
    """Check an uploaded file and return what to store; ImageTooLarge or UnsupportedImage."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Image too large: at most {_size_label(max_bytes)}")
    mime_type = sniff_mime_type(data)
    stripped = strip_metadata(data, mime_type)
    orientation = _orientation(stripped.exif)
    with _refused_when_undecodable():
        image = _open(stripped.data, mime_type)
        if max(image.size) <= MAX_SIDE and orientation == 1:
            _check_pixel_data(image, stripped.data)
            return SanitisedImage(stripped.data, mime_type)
        _load_frames(image)
        return SanitisedImage(_reencode(image, orientation), mime_type)


def sniff_mime_type(data: bytes) -> str:
    """The image type the magic number at the start of the bytes announces."""
    if not data:
        raise UnsupportedImage(EMPTY)
    for magic, mime_type in MAGIC_NUMBERS:
        if data.startswith(magic):
            return mime_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise UnsupportedImage(UNSUPPORTED)


def _size_label(max_bytes: int) -> str:
    return f"{max_bytes // MIB} MiB" if max_bytes % MIB == 0 else f"{max_bytes} bytes"


@contextmanager
def _refused_when_undecodable():
    """Whatever way Pillow fails on a crafted file, the answer is a 415, never a 500."""
    try:
        yield
    except UnsupportedImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnsupportedImage(TOO_MANY_PIXELS) from e
    except Exception as e:  # noqa: BLE001  crafted files break decoders in many ways
        log.info("refused an upload Pillow could not decode: %r", e)
        raise UnsupportedImage(TRUNCATED) from e


def _open(data: bytes, mime_type: str) -> Image.Image:
    """Open with the sniffed format only; the header must announce a bounded pixel count."""
    image = Image.open(BytesIO(data), formats=[PILLOW_FORMATS[mime_type]])
    _check_pixels(image.size)
    return image


def _check_pixel_data(image: Image.Image, data: bytes) -> None:
    """Decode every pixel of an image stored as it came, by the cheapest complete means.

    A JPEG decodes at 1/8 scale: every coefficient is still read, only the full-size inverse
    DCT (which cannot fail) is skipped. A plain PNG's pixel stream is inflated and measured
    in C (image_metadata.check_png_pixel_data); Pillow's unfiltering cannot fail either and
    would triple the cost. Other images load frame by frame.
    """
    if image.format == "JPEG":
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    elif (
        image.format == "PNG"
        and not image.info.get("interlace")
        and not getattr(image, "is_animated", False)
    ):
        check_png_pixel_data(data)
    else:
        _load_frames(image)


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise UnsupportedImage(TOO_MANY_PIXELS)


def _load_frames(image: Image.Image) -> None:
    total_pixels = 0
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= MAX_FRAMES:
            raise UnsupportedImage(TOO_MANY_FRAMES)
        _check_pixels(frame.size)
        total_pixels += frame.width * frame.height
        if total_pixels > MAX_ANIMATION_PIXELS:
            raise UnsupportedImage(ANIMATION_TOO_LONG)
        frame.load()
    image.seek(0)


def _orientation(exif: bytes | None) -> int:
    """The EXIF orientation (1 = upright); a broken EXIF block counts as upright."""
    if not exif:
        return 1
    try:
        value = Image.Exif()
        value.load(exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif)
        orientation = value.get(0x0112, 1)
    except Exception:  # noqa: BLE001  the block is dropped anyway; only its hint is lost
        return 1
    return orientation if orientation in UPRIGHT else 1


def _reencode(image: Image.Image, orientation: int) -> bytes:
    """Turn upright and fit in 4096 px, every frame of an animation; no metadata is written."""
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        durations.append(frame.info.get("duration", 100))
        frames.append(_upright_and_fitted(frame, orientation))
    options = dict(SAVE_OPTIONS[image.format])
    if icc_profile := image.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    if len(frames) > 1:
        options |= {
            "save_all": True,
            "append_images": frames[1:],
            "duration": durations,
            "loop": image.info.get("loop", 0),
        }
    output = BytesIO()
    frames[0].save(output, format=image.format, **options)
    return output.getvalue()


def _upright_and_fitted(frame: Image.Image, orientation: int) -> Image.Image:
    if frame.mode in ("P", "1"):
        # Palette images resize with nearest neighbour only: filter them in full colour.
        frame = frame.convert("RGBA" if "transparency" in frame.info else "RGB")
    else:
        frame = frame.copy()
    if orientation in UPRIGHT:
        frame = frame.transpose(UPRIGHT[orientation])
    frame.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return frame
