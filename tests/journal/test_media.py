"""Uploaded photos: what is accepted, what is refused with which status, what is stored."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from app.journal.media import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    STORED_LONGEST_SIDE,
    MediaRejected,
    ProcessedImage,
    process_upload,
)
from tests.journal.images import (
    BLUE,
    RED,
    CountingReader,
    blank_png,
    encode,
    exif_with_gps,
    jpeg_with_everything,
    noise_photo,
    two_halves,
)


def read_back(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rejection(data: bytes, **options: int) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        process_upload(data, **options)
    return caught.value


def close_to(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


# --- what is accepted, and what comes out ------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_each_accepted_format_becomes_a_clean_jpeg(image_format: str):
    upload = encode(noise_photo(640, 480), image_format, exif=exif_with_gps())

    stored = process_upload(upload)

    assert stored.source_format == image_format
    assert (stored.format, stored.mime, stored.extension) == ("JPEG", "image/jpeg", "jpg")
    image = read_back(stored.data)
    assert image.format == "JPEG"
    assert image.size == (stored.width, stored.height) == (640, 480)
    assert not image.getexif()


def test_a_12_megapixel_photo_is_stored_at_2000_px_with_a_480_px_thumbnail():
    upload = encode(noise_photo(4000, 3000), "JPEG", quality=92)

    stored = process_upload(upload)

    assert (stored.width, stored.height) == (2000, 1500)
    assert read_back(stored.data).size == (2000, 1500)
    assert (stored.thumbnail_width, stored.thumbnail_height) == (480, 360)
    assert read_back(stored.thumbnail).size == (480, 360)


def test_a_phone_photo_is_stored_at_half_its_size_without_resampling(monkeypatch):
    # An iPhone's 12 MP: libjpeg decodes it at half scale; only the thumbnail is resampled.
    upload = encode(noise_photo(4032, 3024), "JPEG", quality=92)
    resized_to = []
    resize = Image.Image.resize

    def noting_size(image, size, *args, **kwargs):
        resized_to.append(size)
        return resize(image, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", noting_size)

    stored = process_upload(upload)

    assert read_back(stored.data).size == (stored.width, stored.height) == (2016, 1512)
    assert resized_to == [(480, 360)]


def test_a_small_photo_is_not_enlarged():
    stored = process_upload(encode(noise_photo(300, 200), "PNG"))

    assert (stored.width, stored.height) == (300, 200)
    assert (stored.thumbnail_width, stored.thumbnail_height) == (300, 200)


def test_a_stream_is_accepted_as_well_as_bytes(tmp_path: Path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(noise_photo(320, 240), "JPEG"))

    with path.open("rb") as stream:
        stored = process_upload(stream)

    assert (stored.width, stored.height) == (320, 240)


# --- metadata -------------------------------------------------------------------------


def test_exif_gps_is_absent_when_the_stored_photo_is_read_back():
    upload = jpeg_with_everything(noise_photo(800, 600))
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(0x8825)  # the upload has GPS

    stored = process_upload(upload)

    for data in (stored.data, stored.thumbnail):
        image = read_back(data)
        assert not image.getexif()
        assert not image.getexif().get_ifd(0x8825)
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        for marker in (b"Exif\x00\x00", b"PhoneMaker", b"Secret", b"ns.adobe.com", b"ICC_PROFILE"):
            assert marker not in data


def test_exif_gps_is_absent_from_a_stored_heic_photo():
    upload = encode(noise_photo(640, 480), "HEIF", exif=exif_with_gps())
    assert pillow_heif.open_heif(io.BytesIO(upload)).info.get("exif")

    stored = process_upload(upload)

    assert not read_back(stored.data).getexif()
    assert b"PhoneMaker" not in stored.data


# --- orientation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "top_left", "size"),
    [
        (1, RED, (400, 200)),  # as stored: red on the left
        (3, BLUE, (400, 200)),  # upside down: red ends up on the right
        (6, RED, (200, 400)),  # turned a quarter clockwise: red ends up on top
        (8, BLUE, (200, 400)),  # turned a quarter anticlockwise: red ends up at the bottom
    ],
)
def test_exif_orientation_is_applied_to_the_pixels(orientation, top_left, size):
    upload = encode(two_halves(), "JPEG", quality=95, exif=exif_with_gps(orientation))

    stored = process_upload(upload)

    image = read_back(stored.data).convert("RGB")
    assert image.size == size == (stored.width, stored.height)
    assert close_to(image.getpixel((20, 20)), top_left)
    assert read_back(stored.thumbnail).size == size


def test_orientation_matches_what_pillow_shows_for_every_exif_value():
    for orientation in range(1, 9):
        upload = encode(two_halves(), "JPEG", quality=95, exif=exif_with_gps(orientation))
        expected = ImageOps.exif_transpose(Image.open(io.BytesIO(upload))).convert("RGB")

        image = read_back(process_upload(upload).data).convert("RGB")

        assert image.size == expected.size, orientation
        for corner in ((5, 5), (image.width - 5, image.height - 5)):
            assert close_to(image.getpixel(corner), expected.getpixel(corner)), orientation


# --- identified by content, never by name ---------------------------------------------


def test_the_file_name_is_irrelevant_a_png_named_jpg_is_a_png(tmp_path: Path):
    path = tmp_path / "holiday.jpg"
    path.write_bytes(encode(noise_photo(200, 100), "PNG"))

    with path.open("rb") as stream:
        stored = process_upload(stream)

    assert stored.source_format == "PNG"


@pytest.mark.parametrize(
    "content",
    [
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04" + bytes(100),
        b"\xff\xd8\xff",  # the start of a JPEG and nothing else
    ],
    ids=["html", "svg", "pdf", "zip", "jpeg-magic-only"],
)
def test_a_file_that_is_not_an_image_named_jpg_is_refused_415(tmp_path: Path, content: bytes):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)

    with path.open("rb") as stream:
        refused = rejection(stream.read())

    assert refused.status == 415
    assert "JPEG, PNG, WebP or HEIC" in refused.message


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "ICO"])
def test_images_in_formats_we_do_not_accept_are_refused_415(image_format: str):
    refused = rejection(encode(noise_photo(64, 64), image_format))

    assert refused.status == 415


def test_an_empty_file_is_refused():
    assert rejection(b"").status == 422


# --- polyglots: anything after or beside the pixels never reaches storage --------------


def test_a_gif_html_polyglot_is_refused():
    polyglot = encode(noise_photo(32, 32), "GIF") + b"<script>alert(document.cookie)</script>"

    assert rejection(polyglot).status == 415


def test_html_with_a_jpeg_inside_is_refused():
    polyglot = b"<html><body><script>alert(1)</script><!--" + encode(noise_photo(32, 32)) + b"-->"

    assert rejection(polyglot).status == 415


def test_a_zip_appended_to_a_jpeg_is_dropped_by_the_clean_reencode():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>SECRET-PAYLOAD</script>")
    polyglot = encode(noise_photo(320, 240), "JPEG") + archive.getvalue()
    assert zipfile.is_zipfile(io.BytesIO(polyglot))

    stored = process_upload(polyglot)

    for data in (stored.data, stored.thumbnail):
        assert b"PK\x03\x04" not in data
        assert b"payload.html" not in data
        assert b"SECRET-PAYLOAD" not in data
        assert not zipfile.is_zipfile(io.BytesIO(data))


def test_html_in_png_text_chunks_and_after_iend_is_dropped():
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>SECRET-PAYLOAD</script>")
    polyglot = encode(noise_photo(100, 100), "PNG", pnginfo=text)
    polyglot += b"<html><script>SECRET-PAYLOAD</script></html>"

    stored = process_upload(polyglot)

    assert b"SECRET-PAYLOAD" not in stored.data
    assert b"<script" not in stored.data


# --- decompression bombs --------------------------------------------------------------


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    return blank_png(30_000, 30_000)


def test_a_30000_by_30000_png_bomb_is_refused_before_decoding(png_bomb: bytes):
    assert len(png_bomb) < 1024 * 1024

    refused = rejection(png_bomb)

    assert refused.status == 422
    assert "too many pixels" in refused.message


@pytest.mark.parametrize(("width", "height"), [(1, 49_000_000), (12_001, 1), (1, 12_001)])
def test_a_side_over_12000_px_is_refused_before_decoding(monkeypatch, width, height):
    long_and_thin = blank_png(width, height)
    assert len(long_and_thin) < 200 * 1024 and width * height < MAX_PIXELS

    def decode(_image):
        raise AssertionError("decoded a long and thin image")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", decode)
    refused = rejection(long_and_thin)

    assert refused.status == 422
    assert "12,000 pixels on a side" in refused.message


def test_a_side_of_12000_px_is_accepted():
    assert process_upload(blank_png(12_000, 2)).width == STORED_LONGEST_SIDE


def test_more_than_50_megapixels_is_refused_by_our_own_limit():
    # 64 MP: under Pillow's own warning threshold (~89 MP), so only our limit stops it.
    assert Image.MAX_IMAGE_PIXELS > 8000 * 8000

    refused = rejection(blank_png(8000, 8000))

    assert refused.status == 422
    assert "50 megapixels" in refused.message


def test_the_pixel_limit_can_be_lowered():
    assert rejection(blank_png(200, 200), max_pixels=39_999).status == 422
    assert process_upload(blank_png(200, 200), max_pixels=40_000).width == 200


def test_pillows_decompression_bomb_warning_is_an_error(monkeypatch: pytest.MonkeyPatch):
    # 1,600 pixels is over a 1,000-pixel MAX_IMAGE_PIXELS but under twice it: Pillow only warns.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    refused = rejection(blank_png(40, 40))

    assert refused.status == 422


# --- damaged files --------------------------------------------------------------------


def test_a_truncated_jpeg_is_refused():
    whole = encode(noise_photo(800, 600), "JPEG")

    refused = rejection(whole[: len(whole) * 2 // 3])

    assert refused.status == 422
    assert "damaged or incomplete" in refused.message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_truncated_png_is_refused():
    whole = encode(noise_photo(300, 300), "PNG")

    assert rejection(whole[: len(whole) // 2]).status == 422


def test_a_jpeg_with_corrupted_header_is_refused():
    whole = bytearray(encode(noise_photo(300, 300), "JPEG"))
    whole[20:200] = bytes(180)

    assert rejection(bytes(whole)).status in (415, 422)


# --- size cap -------------------------------------------------------------------------


def test_a_25_mb_file_is_refused_413_with_a_clear_message():
    big = encode(noise_photo(64, 64), "JPEG") + bytes(25 * 1024 * 1024)

    refused = rejection(big)

    assert refused.status == 413
    assert "larger than 20 MB" in refused.message


def test_a_25_mb_stream_is_refused_after_reading_just_past_the_cap():
    stream = CountingReader(bytes(25 * 1024 * 1024))

    with pytest.raises(MediaRejected) as caught:
        process_upload(stream)

    assert caught.value.status == 413
    assert stream.bytes_read == MAX_UPLOAD_BYTES + 1


def test_the_cap_can_be_changed():
    upload = encode(noise_photo(200, 200), "JPEG")

    assert rejection(upload, max_bytes=len(upload) - 1).status == 413
    assert isinstance(process_upload(upload, max_bytes=len(upload)), ProcessedImage)


# --- colours and transparency ---------------------------------------------------------


def test_transparency_is_flattened_onto_white():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (50, 0, 100, 100))

    for image_format in ("PNG", "WEBP"):
        stored = read_back(process_upload(encode(image, image_format, lossless=True)).data)
        assert stored.mode == "RGB"
        assert close_to(stored.getpixel((10, 50)), (255, 255, 255), 8)
        assert close_to(stored.getpixel((90, 50)), (200, 0, 0))


def test_a_palette_png_with_a_transparent_colour_is_flattened_onto_white():
    image = Image.new("P", (50, 50), 0)
    image.putpalette([0, 0, 0, 0, 200, 0])
    image.paste(1, (25, 0, 50, 50))

    stored = read_back(process_upload(encode(image, "PNG", transparency=0)).data)

    assert close_to(stored.getpixel((5, 25)), (255, 255, 255), 8)
    assert close_to(stored.getpixel((45, 25)), (0, 200, 0))


def test_grayscale_stays_grayscale_and_16_bit_keeps_its_brightness():
    grey16 = Image.new("I;16", (60, 60), 32768)

    stored = read_back(process_upload(encode(grey16, "PNG")).data)

    assert stored.mode == "L"
    assert abs(stored.getpixel((30, 30)) - 128) <= 3


def test_a_cmyk_jpeg_is_stored_as_rgb():
    cmyk = Image.new("CMYK", (60, 60), (0, 255, 255, 0))  # red ink

    stored = read_back(process_upload(encode(cmyk, "JPEG")).data)

    assert stored.mode == "RGB"
    assert close_to(stored.getpixel((30, 30)), (255, 0, 0), 60)


def test_a_broken_colour_profile_does_not_refuse_the_photo():
    upload = encode(noise_photo(100, 100), "JPEG", icc_profile=b"not a profile at all" * 10)

    stored = process_upload(upload)

    assert "icc_profile" not in read_back(stored.data).info
