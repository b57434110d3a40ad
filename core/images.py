"""Uploaded images checked before they are stored: the type from the bytes, a size limit, and a full decode.

The type is sniffed from the file's first bytes (its magic number), never taken from its name or from what
the browser says; then Pillow decodes the whole image, so that a file with a right header and broken or
truncated data is refused too, as is one that would decode to more pixels than allowed (a "bomb").
``without_metadata`` then drops what a photo says about its taker (EXIF: GPS position, camera, time; XMP;
comments) before it is stored, turning the pixels upright first so the picture still looks as it was shot.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

# magic bytes → (MIME type, Pillow's format name). WebP is RIFF....WEBP, checked below.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
# What Pillow reads into ``info`` that says something about the photo's taker (EXIF, XMP, comments).
_METADATA = ("exif", "xmp", "XML:com.adobe.xmp", "comment")
JPEG_QUALITY = 90  # a re-encoded photo: visually the same, at about the size phones save


@dataclass(frozen=True)
class ImageFacts:
    """What a checked image is: its sniffed type, its size in bytes and its dimensions."""

    content_type: str
    size: int
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def sniff_image(head: bytes) -> tuple[str, str] | None:
    """The (MIME type, Pillow format) of an image from its first bytes; None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    return next(((mime, fmt) for magic, mime, fmt in _MAGIC if head.startswith(magic)), None)


def check_image(upload: Any, *, field: str, max_bytes: int, max_pixels: int) -> ImageFacts:
    """The facts of an uploaded JPEG, PNG, WebP or GIF; a ValidationError on ``field`` for a missing, too big,
    other or broken file. The upload is left at its start, ready to be stored."""
    if not upload:
        raise ValidationError({field: _("Choose an image.")})
    size = int(upload.size or 0)
    if size > max_bytes:
        raise ValidationError(
            {field: _("The image is %(size).1f MB; images of at most %(max)d MB are accepted.")
             % {"size": size / 1024 / 1024, "max": max_bytes // (1024 * 1024)}}
        )  # fmt: skip
    handle: IO[bytes] = getattr(upload, "file", upload)
    handle.seek(0)
    sniffed = sniff_image(handle.read(16))
    if sniffed is None or size == 0:
        raise ValidationError({field: _("Only JPEG, PNG, WebP or GIF images can be sent.")})
    mime, fmt = sniffed
    width, height = _decode(handle, fmt, field, max_pixels)
    handle.seek(0)
    return ImageFacts(content_type=mime, size=size, width=width, height=height)


def _decode(handle: IO[bytes], fmt: str, field: str, max_pixels: int) -> tuple[int, int]:
    broken = ValidationError({field: _("The image is damaged or incomplete and cannot be shown.")})
    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle, formats=[fmt]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ValidationError(
                        {field: _("The image has too many pixels (%(width)d × %(height)d).")
                         % {"width": width, "height": height}}
                    )  # fmt: skip
                image.load()  # the whole image: a truncated or garbled body fails here
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError):  # fmt: skip
        raise broken from None
    return width, height


def without_metadata(upload: Any, facts: ImageFacts) -> tuple[Any, ImageFacts]:
    """A checked image (``check_image``) without its EXIF, XMP and comments, turned upright by its EXIF
    orientation first, and its facts (the size in bytes and, once turned, the dimensions change). An image that
    carries none of them is given back untouched, so it is not re-encoded for nothing; GIFs carry none
    (only comments and animation, which are kept). The colour profile is kept: it is not about the taker."""
    handle: IO[bytes] = getattr(upload, "file", upload)
    handle.seek(0)
    fmt = FORMATS[facts.content_type]
    with Image.open(handle, formats=[fmt]) as image:
        if fmt == "GIF" or not (image.getexif() or any(key in image.info for key in _METADATA)):
            handle.seek(0)
            return upload, facts
        profile = image.info.get("icc_profile")
        frames = getattr(image, "n_frames", 1)
        upright = ImageOps.exif_transpose(image) if frames == 1 else image
        upright.info = {}  # nothing read from the file travels on, but what is asked for below
        params: dict[str, Any] = {"icc_profile": profile} if profile else {}
        if fmt == "JPEG":
            params["quality"] = JPEG_QUALITY
        if frames > 1:  # an animated WebP keeps its frames (turning them is left to the viewer)
            params["save_all"] = True
        out = io.BytesIO()
        upright.save(out, format=fmt, **params)
    data = out.getvalue()
    handle.seek(0)
    cleaned = ImageFacts(content_type=facts.content_type, size=len(data), width=upright.width, height=upright.height)
    return ContentFile(data), cleaned
