"""A clean tiled image for a menu that comes without one: each area a tile with its
label centred, in Noto Sans CJK JP (shipped in ``fonts/``, OFL), as a PNG.

Deterministic: the same menu gives the same bytes (so re-applying it is "unchanged").
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linecrm.richmenus.model import MAX_IMAGE_BYTES, Menu

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

FONT_PATH = Path(__file__).parent / "fonts" / "NotoSansCJKjp-Bold-JIS.otf"
BACKGROUND = (255, 255, 255)
TILE_COLOURS = ((6, 199, 85), (0, 160, 70))  # LINE green, alternating
TEXT_COLOUR = (255, 255, 255)
GAP = 6  # px of background between tiles
LABEL_SHARE = 0.8  # the label fits in this share of its tile's width


class ImageNotDrawable(ValueError):
    """A label has characters the shipped font cannot draw (they would be tofu)."""


@cache
def _font(size: int) -> FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT_PATH), size)


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` the font draws as its missing-glyph box (tofu)."""
    font = _font(48)
    notdef = _glyph_mask(font, "\U0010ffff")  # a code point no font maps
    missing = []
    for char in dict.fromkeys(text):
        if char.isspace():
            continue
        if _glyph_mask(font, char) == notdef:
            missing.append(char)
    return "".join(missing)


def _glyph_mask(font: FreeTypeFont, char: str) -> bytes:
    mask = font.getmask(char)
    return bytes(mask) + repr(mask.size).encode()


def draw_menu(menu: Menu) -> bytes:
    """The PNG for ``menu``: its size, a tile per area, each area's label centred.

    Raises ImageNotDrawable when a label has characters the font lacks.
    """
    from PIL import Image, ImageDraw

    for index, area in enumerate(menu.areas):
        if area.label and (missing := missing_glyphs(area.label)):
            raise ImageNotDrawable(
                f"areas[{index}].label: the shipped font has no glyph for {missing!r}; "
                "give the menu an image of its own"
            )
    image = Image.new("RGB", (menu.size.width, menu.size.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for index, area in enumerate(menu.areas):
        b = area.bounds
        box = (b.x + GAP, b.y + GAP, b.x + b.width - 1 - GAP, b.y + b.height - 1 - GAP)
        if box[2] <= box[0] or box[3] <= box[1]:
            continue  # a sliver: nothing to draw on
        draw.rounded_rectangle(
            box, radius=min(24, b.width // 8, b.height // 8), fill=TILE_COLOURS[index % 2]
        )
        if area.label:
            _centred_label(draw, area.label, box)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_IMAGE_BYTES:  # flat tiles compress to a few tens of kB
        raise ImageNotDrawable(f"the generated image is {len(data):,} bytes, over 1 MB")
    return data


def _centred_label(draw: Any, label: str, box: tuple[int, int, int, int]) -> None:
    width, height = box[2] - box[0], box[3] - box[1]
    size = max(12, min(int(height * 0.3), 120))
    font = _font(size)
    while size > 12 and draw.textlength(label, font=font) > width * LABEL_SHARE:
        size -= 4
        font = _font(size)
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    draw.text(centre, label, font=font, fill=TEXT_COLOUR, anchor="mm")
