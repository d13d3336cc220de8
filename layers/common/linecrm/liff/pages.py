"""The HTML shell of a LIFF page: the bundle's script and styles and the page config.

The config is JSON in a ``<script type="application/json">`` element, with ``<``, ``>``
and ``&`` escaped so no value can end the element; the page reads it, never ``eval``s.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Literal

ASSETS_PATH = "/liff/assets/"
View = Literal["card", "open", "click"]
TITLES: dict[View, str] = {
    "card": "会員証",
    "open": "ショップを開いています",
    "click": "ページを開いています",
}


@dataclass(frozen=True)
class PageConfig:
    channel_id: str
    liff_id: str
    view: View
    mock: bool
    shop_target: str = "/"

    def to_json(self) -> str:
        document = {
            "channelId": self.channel_id,
            "liffId": self.liff_id,
            "view": self.view,
            "mock": self.mock,
            "shopTarget": self.shop_target,
        }
        text = json.dumps(document, ensure_ascii=False)
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_page(config: PageConfig, script: str, styles: tuple[str, ...]) -> str:
    title = html.escape(TITLES[config.view])
    links = "".join(
        f'<link rel="stylesheet" href="{html.escape(ASSETS_PATH + name)}">' for name in styles
    )
    return (
        "<!doctype html>\n"
        '<html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{links}"
        f'<script type="module" src="{html.escape(ASSETS_PATH + script)}"></script>'
        "</head><body>"
        f'<main id="app"><h1>{title}</h1></main>'
        f'<script id="linecrm-liff-config" type="application/json">{config.to_json()}</script>'
        "<noscript>このページを表示するには JavaScript を有効にしてください。</noscript>"
        "</body></html>\n"
    )


def render_problem(title: str, message: str) -> str:
    """A plain page for a LIFF URL we cannot serve (unknown channel, not set up)."""
    return (
        "<!doctype html>\n"
        '<html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>\n"
    )
