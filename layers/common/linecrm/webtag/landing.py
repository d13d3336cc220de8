"""Links into the shop carry the friend's visitor id (docs/web-tag.md).

When the LIFF click page identifies a friend (``POST /t/{token}``) and the link goes to
one of the shop's sites, the landing URL gets ``?lcv=<visitor id>``, so the shop's web
tag knows the friend from the first page on. The shop's sites are the origins its web
tag keys allow: a link anywhere else is left as it is (a visitor id is for the shop's
pages only, never handed to a third party).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from linecrm.domain.web_tag import WebTagKey, normalized_origin

CHANNEL_KEYS_CACHE_SECONDS = 60.0


class ChannelKeys(Protocol):
    def list(self, channel_id: str) -> list[WebTagKey]: ...


class VisitorIdIssuer(Protocol):
    def landing_url(self, url: str, channel_id: str, user_id: str, now: datetime) -> str: ...


class ShopLanding:
    def __init__(
        self,
        keys: ChannelKeys,
        visitor_ids: VisitorIdIssuer,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._visitor_ids = visitor_ids
        self._clock = clock
        self._monotonic = monotonic
        self._origins: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def url_for(self, channel_id: str, url: str, user_id: str) -> str:
        """``url`` with the friend's visitor id when it is a page of the shop's sites."""
        origin = _origin(url)
        if origin is None or origin not in self.shop_origins(channel_id):
            return url
        return self._visitor_ids.landing_url(url, channel_id, user_id, self._clock())

    def shop_origins(self, channel_id: str) -> frozenset[str]:
        """The origins the channel's web tag keys allow (one Query a minute per channel:
        a key made or revoked applies within ``CHANNEL_KEYS_CACHE_SECONDS``)."""
        now = self._monotonic()
        with self._lock:
            cached = self._origins.get(channel_id)
        if cached is not None and now - cached[0] < CHANNEL_KEYS_CACHE_SECONDS:
            return cached[1]
        origins = frozenset(origin for key in self._keys.list(channel_id) for origin in key.origins)
        with self._lock:
            self._origins[channel_id] = (now, origins)
        return origins


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    try:
        return normalized_origin(f"{parts.scheme}://{parts.netloc}")
    except ValueError:  # user info, a bad port, plain http elsewhere: not a shop page
        return None
