"""Tracked links: every URL a friend can tap in a campaign's messages, made a tracking URL.

A link's token is derived from (channel, campaign, variant, original URL) alone, so
every recipient of a campaign gets the same content (one multicast per 500 friends),
a URL used twice in a campaign has one token, and the sender, a retry or a second
planner step all make the same token again. The friend is identified when they tap
(our LIFF page asks LINE for their ID token: docs/tracking.md), not by the URL.

What is rewritten (http and https only; ``tel:``, ``line://``… stay as they are):

- URI actions anywhere in a message: buttons, confirm and carousel templates, quick
  replies, flex components (``action``), and their ``altUri.desktop``;
- imagemap actions (``linkUri``);
- URLs in the text of ``text`` and ``textV2`` messages (a text message with LINE
  emojis keeps its text: the emojis' positions are offsets into it).

Media URLs (``originalContentUrl``, ``previewImageUrl``, an imagemap's ``baseUrl``, a
flex image's ``url``) are fetched by LINE, not tapped, and are left alone. A rewrite
that would push a text past LINE's 5,000 units leaves that text as it was.

Pure: no AWS, no HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from linecrm.domain.message_limits import MAX_TEXT_LENGTH, TEXT_TYPES, utf16_length

LIFF_HOST: Final = "liff.line.me"
CLICK_PAGE: Final = "click"  # the LIFF page: https://liff.line.me/<liff id>/click?t=<token>
REDIRECT_PATH: Final = "/t/"  # the redirector: GET /t/<token>
TOKEN_LENGTH: Final = 22  # 132 bits of a SHA-256, URL-safe base64
TOKEN_PATTERN: Final = rf"^[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}$"
MAX_URI_LENGTH: Final = 1000  # LINE's limit on a URI action's uri (and imagemap linkUri)
_TOKEN = re.compile(TOKEN_PATTERN)
# A URL in free text: printable ASCII after the scheme, without trailing punctuation.
_TEXT_URL = re.compile(r"https?://[!-~]+")
_TRAILING = ".,;:!?)]}>'\""


@dataclass(frozen=True)
class TrackedLink:
    token: str
    channel_id: str
    campaign: str
    variant: str | None
    url: str


def link_token(channel_id: str, campaign: str, variant: str | None, url: str) -> str:
    digest = hashlib.sha256(
        "\x00".join((channel_id, campaign, variant or "", url)).encode()
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_LENGTH]


def is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def click_url(liff_id: str, token: str) -> str:
    """The tracking URL a message carries: the channel's LIFF app, page ``click``."""
    return f"https://{LIFF_HOST}/{liff_id}/{CLICK_PAGE}?t={token}"


def token_of(tracking_url: str) -> str | None:
    """The token in a tracking URL (the LIFF form or ``…/t/<token>``), or None."""
    parts = urlsplit(tracking_url)
    if parts.netloc == LIFF_HOST and parts.path.rstrip("/").endswith("/" + CLICK_PAGE):
        values = parse_qs(parts.query).get("t", [])
        token = values[0] if len(values) == 1 else ""
    elif REDIRECT_PATH in parts.path and not parts.query:
        token = parts.path.rsplit(REDIRECT_PATH, 1)[1]
    else:
        return None
    return token if is_token(token) else None


def is_trackable(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and len(url) <= MAX_URI_LENGTH
        and token_of(url) is None  # already a tracking URL
    )


Rewrite = Callable[[str], str]
"""Original URL -> its tracking URL (the caller records the link)."""


def rewrite_messages(messages: list[dict[str, Any]], rewrite: Rewrite) -> list[dict[str, Any]]:
    """``messages`` with every tappable http(s) URL replaced by ``rewrite(url)``; the
    input is not changed."""
    return [_message(message, rewrite) for message in messages]


def rewrite_actions(value: Any, rewrite: Rewrite) -> Any:
    """Any JSON value (a rich menu's areas, a template) with its URI actions rewritten."""
    return _walk(value, rewrite)


def _message(message: dict[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    rewritten: dict[str, Any] = _walk(message, rewrite)
    text = message.get("text")
    if message.get("type") in TEXT_TYPES and isinstance(text, str) and "emojis" not in message:
        tracked = rewrite_text(text, rewrite)
        if utf16_length(tracked) <= MAX_TEXT_LENGTH:
            rewritten["text"] = tracked
    return rewritten


def rewrite_text(text: str, rewrite: Rewrite) -> str:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(_TRAILING)
        rest = found[len(url) :]
        return (rewrite(url) if is_trackable(url) else url) + rest

    return _TEXT_URL.sub(replace, text)


def _walk(value: Any, rewrite: Rewrite) -> Any:
    if isinstance(value, list):
        return [_walk(item, rewrite) for item in value]
    if not isinstance(value, dict):
        return value
    result = {key: _walk(item, rewrite) for key, item in value.items()}
    if value.get("type") == "uri":
        for key in ("uri", "linkUri"):  # an action's uri; an imagemap action's linkUri
            url = value.get(key)
            if isinstance(url, str) and is_trackable(url):
                result[key] = rewrite(url)
        alt = value.get("altUri")
        if isinstance(alt, dict) and isinstance(alt.get("desktop"), str):
            desktop = alt["desktop"]
            if is_trackable(desktop):
                result["altUri"] = {**alt, "desktop": rewrite(desktop)}
    return result


# ---------------------------------------------------------------- who is tapping
# Link-preview fetchers and crawlers: they still get the redirect, but a click by one
# is not counted. LINE's own preview fetcher sends "facebookexternalhit/1.1;line-poker/1.0";
# LINE's in-app browser ("... Line/13.x.x") is a person and is counted.
_BOT_MARKERS: Final = (
    "line-poker",
    "facebookexternalhit",
    "facebookcatalog",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "discordbot",
    "whatsapp",
    "telegrambot",
    "googlebot",
    "google-inspectiontool",
    "bingbot",
    "linkedinbot",
    "skypeuripreview",
    "applebot",
    "yahoo! slurp",
    "duckduckbot",
    "baiduspider",
    "yandex",
    "embedly",
    "iframely",
    "pinterest",
    "redditbot",
    "bot",
    "crawler",
    "spider",
    "preview",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "okhttp",
)


def is_bot(user_agent: str | None) -> bool:
    """A link-preview fetcher, crawler or script, by its User-Agent (none: a script)."""
    if not user_agent or not user_agent.strip():
        return True
    agent = user_agent.lower()
    return any(marker in agent for marker in _BOT_MARKERS)
