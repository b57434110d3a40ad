"""A photo's metadata (EXIF: GPS position, camera; XMP; comments) is dropped before it is stored, upright."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.images import ImageFacts, check_image, without_metadata

ROTATE_90_CW = 6  # EXIF orientation: the viewer turns the pixels 90° clockwise to show the photo upright
GPS = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}


def photo(fmt: str, *, orientation: int | None = ROTATE_90_CW, gps: bool = True, **save: object) -> bytes:
    """40 × 20 pixels, red with a blue left strip of 10 pixels, with EXIF as a phone writes it."""
    image = Image.new("RGB", (40, 20), "red")
    image.paste((0, 0, 255), (0, 0, 10, 20))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), **save)
    return out.getvalue()


def cleaned(data: bytes) -> tuple[bytes, Image.Image, ImageFacts]:
    upload = SimpleUploadedFile("p", data)
    facts = check_image(upload, field="image", max_bytes=10_000_000, max_pixels=10_000_000)
    stored, after = without_metadata(upload, facts)
    stored.seek(0)
    body = stored.read()
    return body, Image.open(io.BytesIO(body)), after


def rgb(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = image.convert("RGB").getpixel((x, y))  # type: ignore[misc]
    return red, green, blue


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_a_photo_is_stored_without_its_exif_and_turned_upright(fmt: str, mime: str) -> None:
    assert Image.open(io.BytesIO(photo(fmt))).getexif().get_ifd(0x8825)  # the photo as sent does carry GPS
    body, image, facts = cleaned(photo(fmt))
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert image.format == fmt
    # Turned by its orientation: 20 wide, 40 high, and the blue strip that was on the left is now on top.
    assert image.size == (20, 40)
    assert facts == ImageFacts(content_type=mime, size=len(body), width=20, height=40)
    top, bottom = rgb(image, 10, 3), rgb(image, 10, 36)
    assert top[2] > 200 and top[0] < 60  # blue
    assert bottom[0] > 200 and bottom[2] < 60  # red


def test_a_photo_upright_already_loses_its_gps_and_keeps_its_size() -> None:
    _body, image, facts = cleaned(photo("JPEG", orientation=None))
    assert dict(image.getexif()) == {}
    assert (image.size, facts.width, facts.height) == ((40, 20), 40, 20)


def test_a_jpeg_comment_and_xmp_are_dropped_too() -> None:
    _body, image, _facts = cleaned(photo("JPEG", gps=False, orientation=None, comment=b"shot at home"))
    assert "comment" not in image.info and dict(image.getexif()) == {}
    with_xmp = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(with_xmp, format="JPEG", xmp=b"<x:xmpmeta>where</x:xmpmeta>")
    _body, image, _facts = cleaned(with_xmp.getvalue())
    assert "xmp" not in image.info


def test_an_image_without_metadata_is_stored_byte_for_byte() -> None:
    plain = io.BytesIO()
    Image.new("RGB", (30, 10), "green").save(plain, format="JPEG")
    body, _image, facts = cleaned(plain.getvalue())
    assert body == plain.getvalue() and (facts.size, facts.width, facts.height) == (len(body), 30, 10)


def test_a_gif_is_stored_as_it_came() -> None:
    gif = io.BytesIO()
    Image.new("P", (12, 6)).save(gif, format="GIF", comment=b"hello")
    body, _image, _facts = cleaned(gif.getvalue())
    assert body == gif.getvalue()
