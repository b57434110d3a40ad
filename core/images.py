"""Uploaded images checked before they are stored: the type from the bytes, a size limit, and a full decode.

The type is sniffed from the file's first bytes (its magic number), never taken from its name or from what
the browser says; then Pillow decodes the whole image, so that a file with a right header and broken or
truncated data is refused too, as is one that would decode to more pixels than allowed (a "bomb").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

# magic bytes → (MIME type, Pillow's format name). WebP is RIFF....WEBP, checked below.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


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
