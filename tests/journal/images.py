"""Images made on the spot for the media tests: photos with metadata, and hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

RED = (220, 30, 30)
BLUE = (30, 30, 220)

GPS_LATITUDE = (51.0, 30.0, 12.5)
XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    b' photoshop:City="Secretville"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def noise_photo(width: int, height: int) -> Image.Image:
    """An RGB picture with noise and gradients, which compresses like a real photo."""
    noise = Image.effect_noise((width, height), 60)
    gradient = Image.linear_gradient("L").resize((width, height))
    mixed = Image.blend(noise, gradient.transpose(Image.Transpose.ROTATE_180), 0.5)
    return Image.merge("RGB", (noise, gradient, mixed))


def two_halves(width: int = 400, height: int = 200) -> Image.Image:
    """Left half red, right half blue: shows which way a picture was turned."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    return exif


def encode(image: Image.Image, image_format: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def jpeg_with_everything(image: Image.Image, *, orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF with GPS, XMP, an ICC profile and a comment."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        image,
        "JPEG",
        quality=90,
        exif=exif_with_gps(orientation),
        xmp=XMP_PACKET,
        icc_profile=srgb,
        comment=b"taken at 12 Secret Street",
    )


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def blank_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros written row by row: tiny on disk, huge when decoded.

    Built without ever holding the decoded image: a 30,000 x 30,000 one is ~110 kB
    and takes a fraction of a second.
    """
    row = bytes(1 + (width + 7) // 8)  # filter byte "none", then the packed pixels
    rows_at_once = max(1, (1 << 20) // len(row))  # about 1 MB of rows per compress call
    compressor = zlib.compressobj(9)
    parts = [
        compressor.compress(row * min(rows_at_once, height - done))
        for done in range(0, height, rows_at_once)
    ]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


class CountingReader(io.BytesIO):
    """A stream that remembers how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk
