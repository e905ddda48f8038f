"""Images from `data:` URLs only, with size checks before the pixels are decoded."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from PIL import Image

from shiftdc.serve.openai_errors import bad, too_large

FORMATS = {"PNG", "JPEG", "WEBP"}
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|webp);base64,(.*)$", re.DOTALL | re.IGNORECASE)
PARAM = "messages.content.image_url.url"


def decode_image(url: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """A `data:image/{png,jpeg,webp};base64,...` URL -> RGB image; never fetches anything."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme != "data":
        raise bad(
            f"image_url scheme {scheme or '(none)'!r} refused: this server never fetches "
            "from the network; send the image inline as data:image/png;base64,...",
            PARAM,
            "unsupported_image_url",
        )
    m = _DATA_URL.match(url)
    if m is None:
        raise bad(
            "image_url must be data:image/png|jpeg|webp;base64,<data>", PARAM, "invalid_image"
        )
    payload = m.group(2)
    if len(payload) * 3 // 4 > max_bytes:
        raise too_large(f"image is larger than the server's limit of {max_bytes} bytes", PARAM)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad("image_url holds invalid base64", PARAM, "invalid_image") from None
    if len(data) > max_bytes:
        raise too_large(f"image is larger than the server's limit of {max_bytes} bytes", PARAM)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # reads the header only
            w, h = im.size
            if w * h > max_pixels:
                raise too_large(
                    f"image declares {w}x{h} = {w * h} pixels, over the server's limit of "
                    f"{max_pixels}; send a smaller image",
                    PARAM,
                )
            if im.format not in FORMATS:
                raise bad(f"image format {im.format} refused; send PNG, JPEG or WebP", PARAM)
            im.load()
            return im.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise bad(
            f"image could not be decoded ({exc}); send a valid PNG, JPEG or WebP",
            PARAM,
            "invalid_image",
        ) from None
    except Image.DecompressionBombWarning:
        raise too_large("image is a decompression bomb (too many pixels)", PARAM) from None
