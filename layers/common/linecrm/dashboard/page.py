"""The dashboard's HTML shell: the bundle's script and styles and the page config.

The config is JSON in a ``<script type="application/json">`` element, with ``<``, ``>``
and ``&`` escaped so no value can end the element; the page reads it, never ``eval``s.
The shell is public and carries no data: the figures come from the admin API, which the
page calls with the admin's credentials (a bearer token locally, SigV4 on AWS).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

DASHBOARD_PATH = "/admin/dashboard"
ASSETS_PATH = f"{DASHBOARD_PATH}/assets/"
TITLE = "linecrm 分析ダッシュボード"

# The page talks to its own origin only (the admin API); charts draw on canvas.
# Styles: ECharts positions its tooltips with inline styles.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)


@dataclass(frozen=True)
class DashboardConfig:
    region: str
    default_channel_id: str | None = None

    def to_json(self) -> str:
        document = {"region": self.region, "defaultChannelId": self.default_channel_id}
        text = json.dumps(document, ensure_ascii=False)
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_dashboard(config: DashboardConfig, script: str, styles: tuple[str, ...]) -> str:
    links = "".join(
        f'<link rel="stylesheet" href="{html.escape(ASSETS_PATH + name)}">' for name in styles
    )
    return (
        "<!doctype html>\n"
        '<html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(TITLE)}</title>'
        # No favicon request (a 404 in the console).
        f'<link rel="icon" href="data:,">{links}'
        f'<script type="module" src="{html.escape(ASSETS_PATH + script)}"></script>'
        "</head><body>"
        f"<header><h1>{html.escape(TITLE)}</h1>"
        '<span id="channel"></span><span id="time-zone"></span>'
        '<button type="button" id="sign-out">サインアウト</button></header>'
        '<main id="app"><p class="loading">読み込み中…</p></main>'
        '<script id="linecrm-dashboard-config" type="application/json">'
        f"{config.to_json()}</script>"
        "<noscript>このページを表示するには JavaScript を有効にしてください。</noscript>"
        "</body></html>\n"
    )


def render_unavailable() -> str:
    """The page before ``make dashboard`` built the bundle."""
    return (
        "<!doctype html>\n"
        '<html lang="ja"><head><meta charset="utf-8"><title>準備中です</title></head><body>'
        "<h1>準備中です</h1><p>ダッシュボードがまだビルドされていません"
        "（<code>make dashboard</code>）。</p></body></html>\n"
    )
