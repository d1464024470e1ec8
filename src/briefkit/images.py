"""Check an image before any renderer embeds it: a format all three deliverables show, whole, not too large.

The memo, the brief and the deck each embed the file as it is, so it must be a format Word,
PowerPoint and the PDF writer all read: PNG, JPEG (RGB or grayscale) or GIF.
"""

from __future__ import annotations

import io
import warnings

from briefkit.limits import MAX_IMAGE_PIXELS

FORMATS = ("PNG", "JPEG", "GIF")
_EXPORT = "export it as PNG (drawings, charts) or JPEG (photographs)"


def image_problem(data: bytes) -> str | None:
    """Why these bytes cannot be a briefing's image, or None when they can."""
    from PIL import Image, UnidentifiedImageError  # only a briefing with images pays for Pillow

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                kind, (width, height), mode = im.format, im.size, im.mode
                if kind not in FORMATS:
                    return f"is a {kind} image; only PNG, JPEG and GIF are supported: {_EXPORT}"
                if width * height > MAX_IMAGE_PIXELS:
                    return _too_large(width, height)
                if kind == "JPEG" and mode not in ("RGB", "L"):
                    return f"is a {mode} JPEG, a print format the memo, brief and deck cannot all show alike: save it as RGB"
                if kind == "JPEG" and not ({"jfif", "exif"} & set(im.info)):
                    return "is a JPEG without a JFIF or Exif header, which Word cannot read; save it again as JPEG"
                if kind == "JPEG":
                    im.draft(mode, (max(1, width // 8), max(1, height // 8)))  # decode every byte, at 1/8 scale
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _too_large(*_size(data))
    except UnidentifiedImageError:
        what = "an SVG drawing" if b"<svg" in data[:4096].lower() else "not an image file"
        return f"is {what}; only PNG, JPEG and GIF are supported: {_EXPORT}"
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # Pillow's errors for broken files
        return f"is damaged or incomplete ({e or type(e).__name__}); export it again"
    return None


def _size(data: bytes) -> tuple[int, int]:
    """Width and height from the header alone, whatever Pillow's own pixel limit."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _too_large(width: int, height: int) -> str:
    return (f"is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} megapixels); the limit is "
            f"{MAX_IMAGE_PIXELS / 1e6:,.0f} megapixels: scale it down")
