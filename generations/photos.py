"""Validation of uploaded photos with Pillow: by content (the decoder), never by the file name."""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from generations.exceptions import PhotoRejected

# Pillow's format names of the formats the trainer accepts, and the extension each is stored with.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# A decompression bomb is not a photo; Pillow warns above its own limit, we refuse far below that.
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class CheckedPhoto:
    content: bytes
    file_hash: str
    format: str  # "jpg" | "png" | "webp"
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.content)


def photo_check(*, content: bytes) -> CheckedPhoto:
    """Return the photo's facts or raise ``PhotoRejected`` with a reason code:
    ``too_large``, ``empty``, ``not_image``, ``format``, ``resolution``."""
    if not content:
        raise PhotoRejected("empty")
    if len(content) > settings.PHOTO_MAX_SIZE:
        raise PhotoRejected("too_large", limit_mb=settings.PHOTO_MAX_SIZE // (1024 * 1024))
    image_format, width, height = _decode(content)
    if min(width, height) < settings.PHOTO_MIN_RESOLUTION:
        raise PhotoRejected("resolution", width=width, height=height, minimum=settings.PHOTO_MIN_RESOLUTION)
    return CheckedPhoto(
        content=content, file_hash=hashlib.md5(content).hexdigest(), format=ALLOWED_FORMATS[image_format],
        width=width, height=height,
    )


def result_image_extension(*, content: bytes) -> str:
    """The storage extension of a generated image, or ``PhotoRejected("not_image" | "format" | ...)``: what a
    provider hands back is stored and sent as a photo only when the decoder agrees it is one (an HTML page is not)."""
    return ALLOWED_FORMATS[_decode(content)[0]]


def _decode(content: bytes) -> tuple[str, int, int]:
    """Format, width and height of an image of an allowed format, walked through by the decoder."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format = image.format
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoRejected("resolution_too_high", width=width, height=height)
            image.verify()  # walks the data: a truncated or forged file fails here
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("not_image") from None
    if image_format not in ALLOWED_FORMATS:
        raise PhotoRejected("format", format=image_format or "?")
    return image_format, width, height
