"""A friend's identified click into the shop's sites lands with their visitor id; a
link anywhere else is left alone (the id is for the shop's pages only)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from linecrm.domain.visitor_ids import (
    VISITOR_PARAMETER,
    sign_visitor_id,
    verify_visitor_id,
    with_visitor_id,
)
from linecrm.domain.web_tag import WebTagKey
from linecrm.webtag.landing import CHANNEL_KEYS_CACHE_SECONDS, ShopLanding

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
SECRET = b"k" * 32
CHANNEL = "1234567890"
FRIEND = "U" + "a" * 32


class FakeKeys:
    def __init__(self, *origins: str) -> None:
        self.origins = list(origins)
        self.queries = 0

    def list(self, channel_id: str) -> list[WebTagKey]:
        self.queries += 1
        if channel_id != CHANNEL or not self.origins:
            return []
        key = WebTagKey(key="pk_x", channel_id=CHANNEL, origins=self.origins, created_at=NOW)
        return [key]


class SigningIssuer:
    def landing_url(self, url: str, channel_id: str, user_id: str, now: datetime) -> str:
        return with_visitor_id(url, sign_visitor_id(SECRET, channel_id, user_id, now))


def landing(keys: FakeKeys, clock: list[float] | None = None) -> ShopLanding:
    ticks = clock or [0.0]
    return ShopLanding(keys, SigningIssuer(), lambda: NOW, monotonic=lambda: ticks[0])


def test_a_link_into_the_shop_lands_with_the_friends_visitor_id() -> None:
    url = landing(FakeKeys("https://shop.example")).url_for(
        CHANNEL, "https://shop.example/sale?utm_source=line#top", FRIEND
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path, parts.fragment) == ("shop.example", "/sale", "top")
    query = parse_qs(parts.query)
    assert query["utm_source"] == ["line"]
    found = verify_visitor_id(SECRET, query[VISITOR_PARAMETER][0], NOW)
    assert found is not None and (found.channel_id, found.user_id) == (CHANNEL, FRIEND)
    assert FRIEND not in url  # never the raw LINE user id


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example/sale",  # not the shop's
        "https://shop.example.evil.example/",  # a look-alike host
        "http://shop.example/sale",  # not the origin the key allows (https)
        "https://shop.example:8443/sale",  # another port is another origin
        "https://user@shop.example/",  # user info: no origin
        "tel:0312345678",
    ],
)
def test_a_link_elsewhere_is_left_as_it_is(url: str) -> None:
    assert landing(FakeKeys("https://shop.example")).url_for(CHANNEL, url, FRIEND) == url


def test_a_channel_without_web_tag_keys_adds_nothing() -> None:
    url = "https://shop.example/sale"
    assert landing(FakeKeys()).url_for(CHANNEL, url, FRIEND) == url


def test_the_channels_keys_are_read_once_a_minute() -> None:
    keys, clock = FakeKeys("https://shop.example"), [0.0]
    shop = landing(keys, clock)
    shop.url_for(CHANNEL, "https://shop.example/a", FRIEND)
    shop.url_for(CHANNEL, "https://shop.example/b", FRIEND)
    assert keys.queries == 1
    keys.origins = []  # the key was revoked
    clock[0] = CHANNEL_KEYS_CACHE_SECONDS + 1
    assert shop.url_for(CHANNEL, "https://shop.example/c", FRIEND) == "https://shop.example/c"
    assert keys.queries == 2
