"""Opening image files safely, as the RGB picture a person would see.

One implementation behind `shiftdc.records.requests.load_image` (request files) and
`shiftdc.data.item.open_image` (benchmark items):

- Size is checked from the file header before any pixel is decoded: an image of more than
  `max_pixels()` pixels (default DEFAULT_MAX_PIXELS, `--max-image-pixels`) is refused, so
  huge images and decompression bombs never reach memory.
- Only common raster formats are opened (FORMATS), never formats that run external
  programs (EPS runs Ghostscript).
- Pixels are converted as a viewer shows them: EXIF orientation applied, transparency
  composited on white, 16-bit grey scaled to 8 bits (not clipped), CMYK through its ICC
  profile when it has one.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

DEFAULT_MAX_PIXELS = 50_000_000
"""Largest image accepted by default: 50 megapixels (a 48 MP phone photo fits; PIL's own
bomb warning starts at 89 MP). VLM processors shrink every image to well under 1 MP."""

FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP", "TIFF", "PPM", "TGA", "ICO")
"""Image file formats that are opened (PIL names)."""

MODES = ("RGB", "RGBA", "RGBa", "RGBX", "L", "LA", "P", "PA", "1", "I", "F", "CMYK", "YCbCr")
"""PIL modes converted to RGB (plus the 16-bit grey modes I;16, I;16B, I;16L, I;16N)."""

WHITE = (255, 255, 255)
_limit = DEFAULT_MAX_PIXELS


class ImageProblem(Exception):
    """Why an image file cannot be used (the caller names the file or record)."""


def max_pixels() -> int:
    """The current pixel limit."""
    return _limit


def set_max_pixels(limit: int) -> None:
    """Set the pixel limit for every image opened afterwards (PIL's own guard is raised to it)."""
    global _limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"the image pixel limit must be a positive integer, got {limit!r}")
    _limit = limit
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit


def _formats() -> tuple[str, ...]:
    """FORMATS that this Pillow build can open (plugin names vary between versions)."""
    Image.init()
    return tuple(f for f in FORMATS if f in Image.OPEN)


def _too_large(width: int, height: int) -> str:
    return (
        f"{width}x{height} = {width * height:,} pixels is above the limit of {_limit:,}; "
        "shrink the image or raise --max-image-pixels"
    )


def open_rgb(path: str | Path) -> Image.Image:
    """Read `path` fully into an 8-bit RGB image, or raise ImageProblem saying why not."""
    p = Path(path)
    if "\0" in str(p):
        raise ImageProblem("not a usable file path (it contains a NUL byte)")
    try:
        if p.is_dir():
            raise ImageProblem("is a directory, not an image file")
        if not p.is_file():
            raise ImageProblem("image file not found" if not p.exists() else "not a regular file")
    except (OSError, ValueError) as exc:  # a NUL byte or an over-long name in the path
        raise ImageProblem(f"not a usable file path ({exc})") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p, formats=_formats()) as im:
                width, height = im.size
                if width < 1 or height < 1:
                    raise ImageProblem(f"has no pixels ({width}x{height})")
                if width * height > _limit:
                    raise ImageProblem(_too_large(width, height))
                im.load()
                return to_rgb(im)
    except ImageProblem:
        raise
    except Image.DecompressionBombError as exc:  # PIL refused it while reading the header
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "a decompression bomb"
        raise ImageProblem(
            f"{size} is above the limit of {_limit:,}; shrink the image or raise --max-image-pixels"
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageProblem(
            f"not a readable image (supported formats: {', '.join(FORMATS)})"
        ) from exc
    except Exception as exc:  # decoders meet hostile files with many types (struct.error, ...)
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ImageProblem(f"corrupt or truncated image ({detail})") from exc


def to_rgb(im: Image.Image) -> Image.Image:
    """The 8-bit RGB picture a viewer shows for `im` (any PIL mode)."""
    mode = im.mode
    if mode not in MODES and not mode.startswith("I;16"):
        raise ImageProblem(f"unsupported image mode {mode!r}; convert it to RGB first")
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a damaged EXIF block: show the pixels as stored
        pass
    if mode == "RGB":
        return im.copy()
    if mode.startswith("I;16") or mode == "I":
        return _sixteen_bit_grey(im).convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _sixteen_bit_grey(im: Image.Image) -> Image.Image:
    """16-bit grey (I;16*, or I holding 16-bit values) scaled 0..65535 -> 0..255."""
    values = np.asarray(im).astype(np.float64)
    scaled = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK through its embedded ICC profile to sRGB; without one, PIL's formula."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(
                im, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if out is not None:
                return out
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain conversion
    return im.convert("RGB")
