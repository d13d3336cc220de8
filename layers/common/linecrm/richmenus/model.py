"""Rich menus as config: the document ``linecrm richmenus apply -f`` sends, checked
against LINE's rules before anything reaches LINE.

A menu set holds the menus (each also gets a LINE rich menu alias equal to its id, so
tab-type menus can ``richmenuswitch`` to each other), the default menu (LINE's default
rich menu: every friend no rule picks sees it) and ordered assignment rules (the first
rule whose segment the friend is in picks the menu). LINE's limits, from the Messaging
API reference ("Rich menu object", "Rich menu alias", "Upload rich menu image"): width
800..2500 px, height at least 250 px, width / height at least 1.45; 1..20 areas, each
inside the image; chat bar text at most 14 characters; alias ids ``[a-z0-9_-]{1,32}``;
the image a JPEG or PNG of exactly the menu's size, at most 1 MB.

Plain values only (no AWS, no HTTP): the admin API and the CLI both validate with it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linecrm.domain.postback import (
    MAX_POSTBACK_DATA_LENGTH,
    PostbackGrammarError,
    parse_postback,
)
from linecrm.domain.segments.saved import as_document

MENU_ID_PATTERN = r"^[a-z0-9_-]{1,32}$"  # LINE's rich menu alias id: menus are aliased by id
MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT = 800, 2500, 250
MIN_ASPECT_RATIO = 1.45
MAX_AREAS = 20
MAX_MENUS = 50
MAX_RULES = 50
MAX_IMAGE_BYTES = 1024 * 1024
MAX_CHAT_BAR_TEXT = 14
MAX_LABEL = 20  # LINE: an action's label, at most 20 characters
MAX_URI = 1000
PRESET_SIZES = {
    "large": (2500, 1686),
    "compact": (2500, 843),
}
URI_SCHEMES = ("https://", "http://", "line://", "tel:")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

MenuId = Annotated[str, Field(pattern=MENU_ID_PATTERN, description="menu id, also its alias id")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Size(_Strict):
    width: int = Field(ge=MIN_WIDTH, le=MAX_WIDTH)
    height: int = Field(ge=MIN_HEIGHT)

    @model_validator(mode="after")
    def _aspect(self) -> Size:
        if self.width / self.height < MIN_ASPECT_RATIO:
            raise ValueError(
                f"width / height must be at least {MIN_ASPECT_RATIO} "
                f"({self.width}x{self.height} is {self.width / self.height:.2f})"
            )
        return self


class Bounds(_Strict):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class PostbackAction(_Strict):
    """``data`` in the postback grammar (``linecrm=1&tag.add=VIP``, docs/postback-actions.md)
    or the shop's own data (no ``linecrm=`` marker: passed through untouched)."""

    type: Literal["postback"]
    data: str = Field(min_length=1, max_length=MAX_POSTBACK_DATA_LENGTH)
    display_text: str | None = Field(default=None, min_length=1, max_length=300)

    @field_validator("data")
    @classmethod
    def _grammar(cls, data: str) -> str:
        try:
            parse_postback(data)
        except PostbackGrammarError as error:
            raise ValueError(str(error)) from error
        return data

    def to_line(self, label: str | None) -> dict[str, Any]:
        action: dict[str, Any] = {"type": "postback", "data": self.data}
        if self.display_text is not None:
            action["displayText"] = self.display_text
        return _labelled(action, label)


class UriAction(_Strict):
    type: Literal["uri"]
    uri: str = Field(min_length=1, max_length=MAX_URI)

    @field_validator("uri")
    @classmethod
    def _scheme(cls, uri: str) -> str:
        if not uri.startswith(URI_SCHEMES):
            raise ValueError(f"a URI action opens {', '.join(URI_SCHEMES)} URIs")
        return uri

    def to_line(self, label: str | None) -> dict[str, Any]:
        return _labelled({"type": "uri", "uri": self.uri}, label)


class MessageAction(_Strict):
    type: Literal["message"]
    text: str = Field(min_length=1, max_length=300)

    def to_line(self, label: str | None) -> dict[str, Any]:
        return _labelled({"type": "message", "text": self.text}, label)


class SwitchAction(_Strict):
    """A tab: switch to another menu of the set (through its alias). LINE sends a
    postback event with ``data``: by default the shop's own ``richmenu-tab=<to>``,
    which linecrm's grammar ignores (so the tap changes no CRM state)."""

    type: Literal["richmenuswitch"]
    to: MenuId
    data: str | None = Field(default=None, max_length=MAX_POSTBACK_DATA_LENGTH)

    def to_line(self, label: str | None) -> dict[str, Any]:
        data = self.data if self.data is not None else f"richmenu-tab={self.to}"
        return _labelled(
            {"type": "richmenuswitch", "richMenuAliasId": self.to, "data": data}, label
        )


Action = Annotated[
    PostbackAction | UriAction | MessageAction | SwitchAction, Field(discriminator="type")
]


class Area(_Strict):
    bounds: Bounds
    action: Action
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LABEL,
        description="drawn on a generated image; LINE reads it out for accessibility",
    )

    def to_line(self) -> dict[str, Any]:
        return {"bounds": self.bounds.model_dump(), "action": self.action.to_line(self.label)}


class Menu(_Strict):
    id: MenuId
    name: str = Field(min_length=1, max_length=300)
    size: Size
    chat_bar_text: str = Field(default="メニュー", min_length=1, max_length=MAX_CHAT_BAR_TEXT)
    selected: bool = False
    areas: list[Area] = Field(min_length=1, max_length=MAX_AREAS)

    @field_validator("size", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in PRESET_SIZES:
                raise ValueError(f"a size is {' or '.join(PRESET_SIZES)}, or {{width, height}}")
            width, height = PRESET_SIZES[value]
            return {"width": width, "height": height}
        return value

    @model_validator(mode="after")
    def _areas_inside(self) -> Menu:
        for index, area in enumerate(self.areas):
            b = area.bounds
            if b.x + b.width > self.size.width or b.y + b.height > self.size.height:
                raise ValueError(
                    f"areas[{index}]: bounds {b.x},{b.y} {b.width}x{b.height} go past the "
                    f"menu's {self.size.width}x{self.size.height}"
                )
        return self

    def to_line(self) -> dict[str, Any]:
        """The body of LINE's "Create rich menu" request."""
        return {
            "size": self.size.model_dump(),
            "selected": self.selected,
            "name": self.name,
            "chatBarText": self.chat_bar_text,
            "areas": [area.to_line() for area in self.areas],
        }


class AssignmentRule(_Strict):
    """The friends in ``segment`` (a segment document, docs/segments.md) get ``menu``."""

    menu: MenuId
    segment: dict[str, Any] = Field(
        description='a segment document: {match: …}, or a saved segment {"segment": "seg_…"}'
    )

    _saved_id = field_validator("segment", mode="before")(as_document)


class MenuSet(_Strict):
    menus: list[Menu] = Field(min_length=1, max_length=MAX_MENUS)
    default: MenuId | None = Field(
        default=None, description="LINE's default rich menu: whoever no rule picks"
    )
    rules: list[AssignmentRule] = Field(default_factory=list, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _references(self) -> MenuSet:
        ids = [menu.id for menu in self.menus]
        seen: set[str] = set()
        for index, menu_id in enumerate(ids):
            if menu_id in seen:
                raise ValueError(f"menus[{index}].id: {menu_id!r} is used twice")
            seen.add(menu_id)
        if self.default is not None and self.default not in seen:
            raise ValueError(f"default: no menu {self.default!r} in menus")
        for index, rule in enumerate(self.rules):
            if rule.menu not in seen:
                raise ValueError(f"rules[{index}].menu: no menu {rule.menu!r} in menus")
        for menu_index, menu in enumerate(self.menus):
            for area_index, area in enumerate(menu.areas):
                action = area.action
                if isinstance(action, SwitchAction) and action.to not in seen:
                    raise ValueError(
                        f"menus[{menu_index}].areas[{area_index}].action.to: no menu "
                        f"{action.to!r} in menus (a tab switches to a menu of this file)"
                    )
        return self

    def menu(self, menu_id: str) -> Menu:
        return next(menu for menu in self.menus if menu.id == menu_id)


class MenuLink(_Strict):
    """A rich menu area's tracked link: what LINE's menu opens, and where it leads."""

    menu: str = Field(description="the menu's id")
    area: int = Field(description="the area's index in the menu's areas")
    campaign: str = Field(description="richmenu:<menu id>, its report")
    uri: str = Field(description="the tracking URL the menu on LINE opens")
    url: str = Field(description="the URL it redirects to (the menus file's)")


def _labelled(action: dict[str, Any], label: str | None) -> dict[str, Any]:
    return {**action, "label": label} if label is not None else action


def image_problem(image: bytes, size: Size) -> str | None:
    """Why LINE would refuse ``image`` for a menu of ``size``; None when it is fine."""
    if len(image) > MAX_IMAGE_BYTES:
        return f"the image is {len(image):,} bytes; LINE takes at most {MAX_IMAGE_BYTES:,}"
    if not image.startswith((PNG_MAGIC, JPEG_MAGIC)):
        return "the image must be a PNG or a JPEG"
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(image)) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError) as error:
        return f"the image cannot be read: {error}"
    if (width, height) != (size.width, size.height):
        return f"the image is {width}x{height}; the menu is {size.width}x{size.height}"
    return None


def image_content_type(image: bytes) -> str:
    return "image/png" if image.startswith(PNG_MAGIC) else "image/jpeg"


def menu_fingerprint(menu: Menu, image: bytes) -> str:
    """What makes a LINE rich menu: its request body and its image. Unchanged
    fingerprint, unchanged LINE menu (no call); any change is a new LINE menu (LINE
    cannot edit one)."""
    body = json.dumps(menu.to_line(), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(body.encode("utf-8"))
    digest.update(hashlib.sha256(image).digest())
    return digest.hexdigest()
