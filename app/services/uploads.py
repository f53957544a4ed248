"""Upload validation and sanitising: what is stored is a real PNG, JPEG, GIF or WebP, cleaned.

The type comes from the bytes (magic numbers, then Pillow opening them with that format only
and every pixel decoded), never from the client's claim. The file's structure is walked first
(image_metadata.py): metadata and any trailer after the first image are cut off, and what
decoding will cost is read and checked against the budget of image_budget.py before Pillow
decodes a pixel. Pixels are re-encoded only when a still must change: wider or taller than
4096 px, or turned by an EXIF orientation that stripping would otherwise lose. Animations are
checked frame by frame, one frame in memory at a time, and stored as they came.
"""

import logging
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageSequence

from app.services import image_budget
from app.services.errors import ImageTooLarge, UnsupportedImage
from app.services.image_budget import MAX_PIXELS, MAX_SIDE, OVER_MEMORY, TOO_MANY_PIXELS
from app.services.image_metadata import TRUNCATED, Structure, check_png_pixel_data, strip_metadata

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# SPEC §5 fixes it, and the cost model's bounds (SPEC §11) are measured for it.
MAX_IMAGE_BYTES = 5 * MIB

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
# Re-encoding is bounded by these too: zlib's fastest level and libwebp's fastest method keep
# a 4096 x 4096 output within the CPU budget whatever its content.
SAVE_OPTIONS = {
    "PNG": {"compress_level": 1},
    "JPEG": {"quality": 90},
    "GIF": {},
    "WEBP": {"quality": 90, "method": 0},
}
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
POLYGLOT = "Unsupported image: the image's own bytes are also a zip archive or a PDF"

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
    _refuse_polyglot(stripped.data)
    structure = stripped.structure
    image_budget.check_structure(structure, PILLOW_FORMATS[mime_type])
    orientation = _orientation(stripped.exif) if structure.frames == 1 else 1
    with _refused_when_undecodable():
        image = _open(stripped.data, mime_type, structure)
        if structure.frames > 1 or (max(image.size) <= MAX_SIDE and orientation == 1):
            _check_pixel_data(image, stripped.data, structure)
            return SanitisedImage(stripped.data, mime_type)
        return SanitisedImage(_reencode(image, structure, orientation), mime_type)


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


def _refuse_polyglot(data: bytes) -> None:
    """The kept bytes must be one format only: no zip directory, no PDF header inside them."""
    if b"%PDF-" in data[:1024] or _lists_as_zip(data):
        raise UnsupportedImage(POLYGLOT)


def _lists_as_zip(data: bytes) -> bool:
    """True if a zip reader lists files in these bytes (not merely finds a stray signature)."""
    if not zipfile.is_zipfile(BytesIO(data)):  # an end record in the last 64 KiB
        return False
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False


@contextmanager
def _refused_when_undecodable():
    """Whatever way Pillow fails on a crafted file, the answer is a 415, never a 500."""
    try:
        yield
    except UnsupportedImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnsupportedImage(TOO_MANY_PIXELS) from e
    except MemoryError as e:
        raise UnsupportedImage(OVER_MEMORY) from e
    except Exception as e:  # noqa: BLE001  crafted files break decoders in many ways
        log.info("refused an upload Pillow could not decode: %r", e)
        raise UnsupportedImage(TRUNCATED) from e


def _open(data: bytes, mime_type: str, structure: Structure) -> Image.Image:
    """Open with the sniffed format only; Pillow must see no more than was budgeted."""
    image = Image.open(BytesIO(data), formats=[PILLOW_FORMATS[mime_type]])
    _check_within(image, structure)
    return image


def _check_within(image: Image.Image, structure: Structure) -> None:
    """Pillow's reading of the canvas agrees with the walker's (a GIF's may grow up to it)."""
    if image.width > structure.size[0] or image.height > structure.size[1]:
        raise UnsupportedImage(TRUNCATED)


def _check_pixel_data(image: Image.Image, data: bytes, structure: Structure) -> None:
    """Decode every pixel of an image stored as it came, by the cheapest complete means.

    A JPEG decodes at 1/8 scale: every coefficient is still read, only the full-size inverse
    DCT (which cannot fail) is skipped. A plain PNG's pixel stream is inflated and measured
    in C (image_metadata.check_png_pixel_data); Pillow's unfiltering cannot fail either and
    would triple the cost. Other images load frame by frame.
    """
    if image.format == "JPEG":
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    elif image.format == "PNG" and not structure.interlaced and structure.frames == 1:
        check_png_pixel_data(data)
    else:
        _load_frames(image, structure)


def _load_frames(image: Image.Image, structure: Structure) -> None:
    """Decode frame by frame: Pillow keeps one canvas, never the whole animation."""
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= structure.frames:
            raise UnsupportedImage(TRUNCATED)  # more frames than the structure announced
        _check_within(frame, structure)
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


def _reencode(image: Image.Image, structure: Structure, orientation: int) -> bytes:
    """A still turned upright and fit in 4096 px, decoded at a scale that fits the budget."""
    turned = orientation in UPRIGHT
    scale = image_budget.reencode_scale(structure, image.format, image.mode, turned)
    if scale > 1:  # libjpeg scales while decoding (DCT scaling), in far less memory
        image.draft(image.mode, (max(1, image.width // scale), max(1, image.height // scale)))
    fitted = image_budget.fitted_size(image.size)
    # Palette images resize with nearest neighbour (Pillow allows no other filter): the
    # palette stays, and no full-colour copy or quantising is ever needed.
    frame = image
    if fitted != image.size:
        gap = image_budget.REDUCING_GAP
        frame = image.resize(fitted, Image.Resampling.LANCZOS, reducing_gap=gap)
    if turned:
        frame = frame.transpose(UPRIGHT[orientation])
    options = dict(SAVE_OPTIONS[image.format])
    if icc_profile := image.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    output = BytesIO()
    frame.save(output, format=image.format, **options)
    return output.getvalue()
