"""A route's QR code as PNG or SVG (segno: pure Python, no image library needed)."""

from __future__ import annotations

import io
from typing import Literal

QrFormat = Literal["png", "svg"]
CONTENT_TYPES: dict[QrFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}
DEFAULT_SCALE = 8  # pixels per module: a 25-module code is 264 px with its border
MAX_SCALE = 40


def qr_code(text: str, fmt: QrFormat, *, scale: int = DEFAULT_SCALE, title: str = "") -> bytes:
    """The QR code of ``text``: error correction M (a poster may get a little dirty),
    the standard quiet zone of 4 modules."""
    import segno

    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    if fmt == "png":
        code.save(out, kind="png", scale=scale, border=4)
    else:
        code.save(out, kind="svg", scale=scale, border=4, xmldecl=True, title=title or None)
    return out.getvalue()
