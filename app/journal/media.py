"""Turning an uploaded photo into the image we store, and its thumbnail.

What is stored is never the uploaded file: it is a fresh JPEG encoded from the decoded
pixels, so nothing but pixels survives (no EXIF or GPS, no XMP, no comments, no ICC
profile, nothing appended after the image such as a ZIP or a script). The upload is
identified by its content with Pillow, only among the formats we accept; its name and
the type the browser claimed are never consulted.

Choices, and why:

- **Always JPEG out.** Transparent PNG/WebP images are flattened onto white: one format
  means one path for serving, thumbnails and exports, and journals are shown and printed
  on white anyway.
- **Longest side at most 2,048 px** (thumbnail 480 px). That holds half of every
  12-megapixel phone photo (4,000-4,080 px wide), so libjpeg decodes such a JPEG at half
  scale inside the DCT (``Image.draft``) and the result is stored as it comes, with no
  resampling: an iPhone's 4,032 px gives 2,016 px, where fitting it to 2,000 px cost a
  Lanczos pass over 3 megapixels (as much CPU as the decode) for 1 % of the size. 2,048 px
  is still sharper than a tablet shows a photo or an A4 export prints it.
- **Colours**: an embedded ICC profile (Display P3 from phones, CMYK from scanners) is
  converted to sRGB before it is dropped, so colours look the same without the profile.
- **Bombs**: more than ``max_pixels`` (50 MP), or a side longer than ``MAX_SIDE``
  (12,000 px), is refused from the header, before any decoding; Pillow's own
  ``DecompressionBombWarning`` is raised as an error as well. The side limit matters on
  its own: a 1 x 49,000,000 PNG is under the pixel limit, only 95 KB, and costs seconds
  of CPU to decode one row at a time; no camera makes a side over 12,000 px.
- **Damaged files** are refused: the whole image is decoded and
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left False, so a truncated file is an error.
- **Two steps.** Decoding a 12 MP JPEG costs ~0.1 s of CPU at any draft scale (the entropy
  decoding of every byte), too much for the upload's request. So the request runs
  ``check_upload``: everything above that the header tells (format by content, size,
  pixels, sides, polyglots) and a structural look that finds a truncated file without
  decoding (a JPEG's segments lead to its scan and an end marker follows; a PNG has its
  IEND chunk; a WebP is as long as its RIFF header says). ``process_upload`` (all of it,
  with the decode) runs after the commit (``app.journal.photo_processing``); damage only
  the decode finds marks the photo failed then, and its key person is told.
- **Polyglots**: a file must *begin* as one of our formats, so GIF/HTML, HTML-first or
  ZIP-first polyglots are refused (415). Bytes after the image (a ZIP, a script, the video
  phones append to "motion photos") are accepted and dropped by the re-encode: refusing
  them would refuse ordinary Android motion photos, and the original bytes are never
  stored or served anyway.
- Animated images keep their first frame; HEIC/HEIF come through ``pillow-heif``, which
  applies the HEIF rotation itself.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageOps

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_SIDE = 12_000
STORED_LONGEST_SIDE = 2048
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale while its longest side stays at least this:
# a little under the stored maximum, so that half of any 12 MP phone photo fits as it is.
DECODED_LONGEST_SIDE = 2000
THUMBNAIL_LONGEST_SIDE = 480
JPEG_QUALITY = 85
THUMBNAIL_QUALITY = 80

# Pillow format names we open; every other decoder Pillow has is never even tried.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
ACCEPTED_DESCRIPTION = "JPEG, PNG, WebP or HEIC"

# Thumbnails and depth maps inside HEIC files are not needed, so not decoded.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class MediaRejected(Exception):
    """The upload cannot be used; ``message`` says why in words for the person uploading.

    ``status`` is the HTTP status a view should answer with: 413 too large, 415 not an
    image we accept, 422 an image we accept that is damaged or has too many pixels.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ProcessedImage:
    """A photo ready to store: JPEG bytes without metadata, and its thumbnail."""

    data: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int
    source_format: str  # what the upload really was: "JPEG", "PNG", "WEBP" or "HEIF"
    format: str = "JPEG"
    mime: str = "image/jpeg"
    extension: str = "jpg"


def process_upload(
    data: bytes | BinaryIO,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> ProcessedImage:
    """Check, decode, orient and re-encode an uploaded photo, and make its thumbnail.

    Raises ``MediaRejected`` (with a message and an HTTP status) for anything over
    ``max_bytes``, anything that is not a JPEG, PNG, WebP or HEIC image by content,
    an image of more than ``max_pixels`` pixels, and a damaged or truncated image.
    """
    raw = _read_capped(data, max_bytes)
    image = _decode(raw, max_pixels)
    source_format = str(image.format)
    image = _fit_within(image, STORED_LONGEST_SIDE, reducing_gap=3.0)
    ImageOps.exif_transpose(image, in_place=True)
    image = _to_plain_srgb(image)
    thumbnail = _fit_within(image, THUMBNAIL_LONGEST_SIDE, reducing_gap=2.0)
    return ProcessedImage(
        data=_encode_jpeg(image, JPEG_QUALITY),
        width=image.width,
        height=image.height,
        thumbnail=_encode_jpeg(thumbnail, THUMBNAIL_QUALITY),
        thumbnail_width=thumbnail.width,
        thumbnail_height=thumbnail.height,
        source_format=source_format,
    )


@dataclass(frozen=True)
class CheckedUpload:
    """An upload accepted from its header and structure alone, not yet decoded."""

    data: bytes
    source_format: str  # "JPEG", "PNG", "WEBP" or "HEIF"
    width: int
    height: int

    @property
    def digest(self) -> str:
        """The SHA-256 of the bytes sent, which tells the same upload sent twice: read, not
        decoded (about 4.5 ms of CPU for an 8 MB photo, with the CPU's SHA instructions)."""
        return hashlib.sha256(self.data).hexdigest()


def check_upload(
    data: bytes | BinaryIO,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> CheckedUpload:
    """What ``process_upload`` checks before it decodes, and a look at the file's structure.

    Cheap enough for the request (a header parse and a search of the bytes, no decoding),
    it refuses with the same ``MediaRejected`` as ``process_upload``: too large, not one
    of our formats by content, too many pixels or too long a side, and a file that ends
    before its image does (a JPEG without the end marker after its scan, a PNG without
    its IEND chunk, a WebP shorter than its RIFF header says). Damage inside the
    compressed data only a decode finds; ``process_upload`` refuses it later.
    """
    raw = _read_capped(data, max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _opened(raw, max_pixels)
    source_format = str(image.format)
    if not _looks_whole(raw, source_format):
        raise _damaged()
    return CheckedUpload(raw, source_format, image.width, image.height)


def _looks_whole(raw: bytes, source_format: str) -> bool:
    """Whether the file holds its image to the end, judged from its structure alone.

    The end marker is looked for from the file's end (``rfind``), where it is in a whole
    file: the answer is the same as searching forward, but a forward search for a JPEG's
    end marker stops at each of the thousands of 0xFF bytes in its compressed data (7 ms
    of CPU for a 12 MP photo, against microseconds; bench/README.md, "Load").
    """
    if source_format == "JPEG":
        scan = _jpeg_scan_start(raw)
        return scan is not None and raw.rfind(b"\xff\xd9", scan) != -1
    if source_format == "PNG":
        return raw.rfind(b"\x00\x00\x00\x00IEND\xaeB`\x82", 8) != -1
    if source_format == "WEBP":
        return len(raw) >= 8 + int.from_bytes(raw[4:8], "little")
    return True  # HEIF: its boxes are checked by the decode, in process_upload


def _jpeg_scan_start(raw: bytes) -> int | None:
    """Where the first scan's entropy-coded data begins: after the segments from SOI to
    SOS, each read by its length; None when they do not lead there."""
    position = 2  # after SOI
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            return None
        marker = raw[position + 1]
        if marker == 0xFF:  # a fill byte before a marker
            position += 1
            continue
        length = int.from_bytes(raw[position + 2 : position + 4], "big")
        if length < 2:
            return None
        position += 2 + length
        if marker == 0xDA:  # SOS: entropy-coded data follows its header
            return position if position <= len(raw) else None
    return None


def _read_capped(data: bytes | BinaryIO, max_bytes: int) -> bytes:
    """The upload's bytes, reading at most one byte more than the cap from a stream."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raw = data.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise MediaRejected(
            f"This file is larger than {_megabytes(max_bytes)}, the largest photo we accept.",
            status=413,
        )
    if not raw:
        raise MediaRejected("The file is empty.", status=422)
    return raw


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _decode(raw: bytes, max_pixels: int) -> Image.Image:
    """The fully decoded first frame, identified by content among ACCEPTED_FORMATS."""
    # Not thread-safe in Python 3.11 (warnings filters are global); the worst a race can
    # do is leave this "error" filter in place, which is what we want anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _opened(raw, max_pixels)
        _draft_for(image, DECODED_LONGEST_SIDE)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
            raise _too_many_pixels(max_pixels) from None
        except Exception:  # truncated or corrupt data, in whichever decoder raised it
            raise _damaged() from None
    return image


def _opened(raw: bytes, max_pixels: int) -> Image.Image:
    """The image identified from its header among ACCEPTED_FORMATS, within our limits
    (call with ``DecompressionBombWarning`` as an error)."""
    try:
        image = Image.open(io.BytesIO(raw), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels) from None
    except Exception:  # any failure to identify hostile bytes is the file's fault
        raise MediaRejected(
            f"This file is not a photo we can use. Please choose a {ACCEPTED_DESCRIPTION} image.",
            status=415,
        ) from None
    if image.width * image.height > max_pixels:
        raise _too_many_pixels(max_pixels)
    if max(image.size) > MAX_SIDE:
        raise MediaRejected(
            f"This image is too long or too wide; the most we accept is {MAX_SIDE:,}"
            " pixels on a side.",
            status=422,
        )
    return image


def _too_many_pixels(max_pixels: int) -> MediaRejected:
    return MediaRejected(
        f"This image has too many pixels; the most we accept is {max_pixels / 1e6:g} megapixels.",
        status=422,
    )


def _damaged() -> MediaRejected:
    return MediaRejected(
        "This photo is damaged or incomplete. Please take or choose it again.", status=422
    )


def _draft_for(image: Image.Image, longest_side: int) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when that still covers ``longest_side``.

    ``draft`` only picks a scale whose result is at least the size asked for, so a large
    photo is never decoded smaller than that (nor stored smaller, if it was larger).
    """
    if image.format == "JPEG":
        image.draft(None, _fitted_size(image.size, longest_side))


def _fitted_size(size: tuple[int, int], longest_side: int) -> tuple[int, int]:
    """``size`` scaled down (never up) so that its longest side is at most ``longest_side``."""
    width, height = size
    scale = min(1.0, longest_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit_within(image: Image.Image, longest_side: int, *, reducing_gap: float) -> Image.Image:
    """The image resized (Lanczos) so its longest side is at most ``longest_side``.

    ``reducing_gap`` lets Pillow first shrink by a whole factor, which is much faster
    and, at 2-3, indistinguishable from resampling the whole way.
    """
    size = _fitted_size(image.size, longest_side)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=reducing_gap)


def _to_plain_srgb(image: Image.Image) -> Image.Image:
    """An "RGB" or "L" image in sRGB, transparency flattened onto white, with no metadata."""
    icc_profile = image.info.get("icc_profile")
    if _has_alpha(image):
        image = _flatten_on_white(image)
    elif image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    if image.mode in ("RGB", "CMYK"):
        image = _in_srgb(image, icc_profile)
    image.info = {}
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info


def _flatten_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _in_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """The RGB image in sRGB: converted from its embedded profile, when it has a usable one.

    A profile that cannot be read is ignored (the pixels are taken as sRGB): a photo is
    not refused for a broken colour profile.
    """
    if icc_profile:
        transform = _transform_to_srgb(bytes(icc_profile), image.mode)
        if transform is not None:
            return transform.apply(image)
    return image if image.mode == "RGB" else image.convert("RGB")


@lru_cache(maxsize=16)
def _transform_to_srgb(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from ``icc_profile`` to sRGB; None for sRGB itself or a bad profile."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        return ImageCms.buildTransform(profile, _SRGB, mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """JPEG bytes with nothing but the pixels (Pillow's JFIF header, no EXIF/ICC/comment).

    ``comment`` is passed empty because Pillow would otherwise copy a source JPEG's
    comment from ``image.info``.
    """
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, comment=b"")
    return out.getvalue()
