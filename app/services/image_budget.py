"""The cost model of sanitising: what decoding an upload will cost, checked before decoding it.

SPEC §11: any upload of at most 5 MiB is accepted or refused within 2 s of CPU and 256 MiB
above the idle worker. What a file costs to decode is announced by its structure (read by the
walkers of image_metadata.py without decoding a pixel), so every limit below is checked
before Pillow allocates or decodes anything:

- pixels per image, frames, and for animations the canvas (each frame is composed on a
  canvas-sized buffer, so a 1x1 frame on a 4096x4096 canvas costs what a full one does) and
  the canvas pixels of all frames together;
- JPEG scans: a progressive scan is one more pass over every coefficient (a "scan bomb" is a
  file of thousands of tiny scans), and a file of several scans makes libjpeg hold the whole
  coefficient array;
- memory: what Pillow and its codecs hold at once, per pixel and format, as measured with
  bench/upload_worst_case.py (Pillow 13, libjpeg-turbo 3.1, libwebp 1.6);
- re-encoding (downscaling a still over 4096 px, or turning it upright): the decoded image,
  the resized one and the encoder. JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg
  when the full size would not fit; other formats that would not fit are refused.
Animations are never re-encoded: one wider or taller than 4096 px is refused.
"""

from app.services.errors import UnsupportedImage
from app.services.image_metadata import Structure

MIB = 1024 * 1024
MAX_SIDE = 4096  # Discord's media proxy fails to scale larger images
MAX_PIXELS = 50_000_000  # per image; a 6000 x 8000 photo passes, a decompression bomb does not
MAX_FRAMES = 900
MAX_ANIMATION_PIXELS = 64_000_000  # canvas pixels composed, all frames together
MAX_JPEG_SCANS = 100  # encoders write 1 to ~20; jpegtran scripts rarely over 64
MAX_SCAN_PIXELS = 1_000_000_000  # JPEG scans x pixels: each scan passes over every block
# Pixels, coefficients and codec buffers held at once; the rest of 256 MiB is for the request
# body, its stripped copy and the stored bytes (3 x 5 MiB at most) and allocator slack.
MEMORY_BUDGET = 224 * MIB
REDUCING_GAP = 2  # Image.resize(reducing_gap=2.0): reduce by an integer factor, then filter

# Bytes held per canvas pixel while an animation is decoded frame by frame: the composed
# canvas, the previous one (for disposal) and the frame, in RGBA (measured).
ANIMATION_BYTES_PER_PIXEL = {"GIF": 13, "PNG": 13, "WEBP": 17}
# Pillow decodes every WebP through libwebp's animation decoder: its canvas, its previous
# canvas, the frame's bytes and Pillow's own copy, even for a still (measured: 16.4).
WEBP_BYTES_PER_PIXEL = 17
# Bytes per pixel of Pillow's images by mode (RGB is stored as 4 bytes, like RGBA).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}

TOO_MANY_PIXELS = f"Unsupported image: more than {MAX_PIXELS // 1_000_000} megapixels"
TOO_MANY_FRAMES = f"Unsupported image: more than {MAX_FRAMES} animation frames"
ANIMATION_TOO_WIDE = f"Unsupported image: animations must be at most {MAX_SIDE} px"
ANIMATION_TOO_LONG = (
    "Unsupported image: more than "
    f"{MAX_ANIMATION_PIXELS // 1_000_000} megapixels in all animation frames"
)
TOO_MANY_SCANS = f"Unsupported image: more than {MAX_JPEG_SCANS} JPEG scans"
SCANS_TOO_COSTLY = (
    f"Unsupported image: JPEG scans x pixels over {MAX_SCAN_PIXELS // 1_000_000} megapixels"
)
OVER_MEMORY = f"Unsupported image: decoding it needs more than {MEMORY_BUDGET // MIB} MiB"


def check_structure(structure: Structure, pillow_format: str) -> None:
    """Refuse, before anything is decoded, a file whose decoding would exceed a limit."""
    width, height = structure.size
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise UnsupportedImage(TOO_MANY_PIXELS)
    if structure.frames > MAX_FRAMES:
        raise UnsupportedImage(TOO_MANY_FRAMES)
    if structure.frames > 1:
        _check_animation(structure, pillow_format)
    elif pillow_format == "WEBP" and pixels * WEBP_BYTES_PER_PIXEL > MEMORY_BUDGET:
        raise UnsupportedImage(OVER_MEMORY)
    if pillow_format == "JPEG":
        _check_scans(structure)


def _check_animation(structure: Structure, pillow_format: str) -> None:
    width, height = structure.size
    if max(width, height) > MAX_SIDE:
        raise UnsupportedImage(ANIMATION_TOO_WIDE)
    if width * height * ANIMATION_BYTES_PER_PIXEL[pillow_format] > MEMORY_BUDGET:
        raise UnsupportedImage(OVER_MEMORY)
    if width * height * structure.frames > MAX_ANIMATION_PIXELS:
        raise UnsupportedImage(ANIMATION_TOO_LONG)


def _check_scans(structure: Structure) -> None:
    width, height = structure.size
    if structure.scans > MAX_JPEG_SCANS:
        raise UnsupportedImage(TOO_MANY_SCANS)
    if structure.scans * width * height > MAX_SCAN_PIXELS:
        raise UnsupportedImage(SCANS_TOO_COSTLY)
    if structure.coefficient_bytes > MEMORY_BUDGET:
        raise UnsupportedImage(OVER_MEMORY)


def fitted_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size within MAX_SIDE x MAX_SIDE of the same aspect ratio (as Image.thumbnail)."""
    width, height = size
    if max(width, height) <= MAX_SIDE:
        return size
    if width >= height:
        return MAX_SIDE, max(1, round(height * MAX_SIDE / width))
    return max(1, round(width * MAX_SIDE / height)), MAX_SIDE


def reencode_scale(structure: Structure, pillow_format: str, mode: str, turned: bool) -> int:
    """The decoding scale (1, or 2, 4, 8 for a JPEG) whose re-encode fits in memory."""
    for scale in (1, 2, 4, 8) if pillow_format == "JPEG" else (1,):
        if reencode_memory(structure, pillow_format, mode, scale, turned) <= MEMORY_BUDGET:
            return scale
    raise UnsupportedImage(OVER_MEMORY)


def reencode_memory(
    structure: Structure, pillow_format: str, mode: str, scale: int, turned: bool
) -> int:
    """Peak bytes held to decode a still at ``scale``, fit it in MAX_SIDE, turn and encode it.

    The decoded image stays until the end; the resize's, the turn's and the encoder's own
    buffers come one after the other.
    """
    width, height = structure.size
    decoded = (-(-width // scale), -(-height // scale))
    per_pixel = MODE_BYTES.get(mode, 4)
    source = (
        decoded[0] * decoded[1] * (WEBP_BYTES_PER_PIXEL if pillow_format == "WEBP" else per_pixel)
    )
    output = fitted_size(decoded)
    output_bytes = output[0] * output[1] * per_pixel
    # The encoder's buffers and output, beside the final image when it is a new one.
    steps = [output_bytes * (output != decoded or turned) + output_bytes // 2]
    if output != decoded:
        steps.append(_resize_memory(decoded, output, mode))
    if turned:
        steps.append(2 * output_bytes)  # the image and its transposed copy
    return structure.coefficient_bytes + source + max(steps)


def _resize_memory(source: tuple[int, int], output: tuple[int, int], mode: str) -> int:
    """What Image.resize(LANCZOS, reducing_gap) allocates besides its source (Pillow 13)."""
    per_pixel = MODE_BYTES.get(mode, 4)
    held = 0
    if mode in ("RGBA", "LA"):
        held += source[0] * source[1] * per_pixel  # a premultiplied copy of the source
    factor = max(min(source[0] // output[0], source[1] // output[1]) // REDUCING_GAP, 1)
    reduced = (-(-source[0] // factor), -(-source[1] // factor))
    if factor > 1:
        held += reduced[0] * reduced[1] * per_pixel  # Image.reduce's result
    # The horizontal pass's result (output width x source height), then the output.
    return held + (output[0] * reduced[1] + output[0] * output[1]) * per_pixel
