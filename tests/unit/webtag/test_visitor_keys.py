"""The deployment's visitor id key (a Secrets Manager secret): issue with ``current``,
verify with ``current`` or ``previous`` (a rotation keeps issued ids working), a broken
secret is ours to fix (never a caller's 4xx); landing URLs carry the id as ``?lcv=``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from linecrm.domain.visitor_ids import with_visitor_id
from linecrm.webtag.visitor_keys import VisitorIds, VisitorKeysUnavailable

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
USER = "U" + "0123456789abcdef" * 2
OLD, NEW = "o" * 40, "n" * 40


class Secrets:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, name: str, max_age: int) -> Any:
        assert name == "linecrm/visitor-id-key" and max_age > 0
        return self.value


def test_a_rotation_keeps_issued_ids_working() -> None:
    secrets = Secrets(json.dumps({"current": OLD}))
    ids = VisitorIds(secrets, "linecrm/visitor-id-key")
    issued = ids.issue("2000000001", USER, NOW)
    secrets.value = json.dumps({"current": NEW, "previous": OLD})
    found = ids.verify(issued, NOW + timedelta(days=1))
    assert found is not None and (found.channel_id, found.user_id) == ("2000000001", USER)
    newer = ids.issue("2000000001", USER, NOW)
    secrets.value = json.dumps({"current": NEW})  # the previous key dropped
    assert ids.verify(issued, NOW) is None
    assert ids.verify(newer, NOW) is not None


@pytest.mark.parametrize("value", ["not json", json.dumps({"current": "short"}), json.dumps([])])
def test_a_broken_secret_is_unavailable_not_a_bad_request(value: str) -> None:
    with pytest.raises(VisitorKeysUnavailable):
        VisitorIds(Secrets(value), "linecrm/visitor-id-key").verify("x" * 40, NOW)


def test_landing_urls_carry_the_visitor_id() -> None:
    url = with_visitor_id("https://shop.example/cart?x=1&lcv=old#top", "TOKEN_1")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path, parts.fragment) == ("shop.example", "/cart", "top")
    assert parse_qs(parts.query) == {"x": ["1"], "lcv": ["TOKEN_1"]}
    assert with_visitor_id("/mypage", "T") == "/mypage?lcv=T"
    ids = VisitorIds(Secrets(json.dumps({"current": NEW})), "linecrm/visitor-id-key")
    landing = ids.landing_url("https://shop.example/sale", "2000000001", USER, NOW)
    token = parse_qs(urlsplit(landing).query)["lcv"][0]
    found = ids.verify(token, NOW)
    assert found is not None and found.user_id == USER
