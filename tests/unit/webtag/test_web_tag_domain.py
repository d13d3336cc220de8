"""The web tag's pure rules: origins, key specs, the request and its events, the
fixed windows, and how an accepted event becomes a behaviour event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from linecrm.domain.events import parse_event
from linecrm.domain.web_tag import (
    KEY_PATTERN,
    MAX_WEB_EVENTS,
    WebEventIn,
    WebTagKeySpec,
    WebTagRejected,
    behaviour_event,
    new_web_tag_key,
    normalized_origin,
    parse_web_event,
    parse_web_request,
    rate_window,
)

NOW = datetime(2026, 12, 3, 9, 0, 30, tzinfo=UTC)
USER = "U" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("https://shop.example:8443", "https://shop.example:8443"),
        ("http://localhost:8123", "http://localhost:8123"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_origins_are_normalized(given: str, normal: str) -> None:
    assert normalized_origin(given) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "http://shop.example",  # http only for local development
        "https://shop.example/path",
        "https://shop.example?q=1",
        "https://user@shop.example",
        "ftp://shop.example",
        "shop.example",
        "https://shop.example:port",
        "",
    ],
)
def test_bad_origins_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ValueError, match=r"origin|https|port"):
        normalized_origin(bad)


def test_a_key_allows_its_origins_only() -> None:
    spec = WebTagKeySpec(origins=["https://Shop.Example", "https://shop.example/"])
    assert spec.origins == ["https://shop.example"]  # normalized, once
    key = new_web_tag_key("2000000001", spec, NOW)
    assert KEY_PATTERN.fullmatch(key.key)
    assert key.allows("https://shop.example")
    assert key.allows("https://SHOP.example")
    assert not key.allows("https://shop.example.evil.test")
    assert not key.allows("http://shop.example")
    assert not key.allows("null")  # a sandboxed iframe or a file:// page
    assert not key.allows(None)
    assert new_web_tag_key("2000000001", spec, NOW).key != key.key


@pytest.mark.parametrize(
    "spec",
    [
        {"origins": []},
        {"origins": ["http://shop.example"]},
        {"origins": ["https://shop.example"], "rate_per_minute": 0},
        {"origins": ["https://shop.example"], "visitor_rate_per_minute": 10**9},
        {"origins": ["https://shop.example"], "unknown": 1},
    ],
)
def test_bad_key_specs_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WebTagKeySpec.model_validate(spec)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], None),
        ({"events": []}, "events"),
        ({"events": [{}] * (MAX_WEB_EVENTS + 1)}, "events"),
        ({"visitor": 5, "events": [{}]}, "visitor"),
        ({"events": [{}], "user": USER}, "user"),  # a browser never names the friend
    ],
)
def test_bad_envelopes_are_422_naming_the_field(document: Any, field: str | None) -> None:
    with pytest.raises(WebTagRejected) as caught:
        parse_web_request(document)
    assert caught.value.status == 422
    if field is not None:
        assert caught.value.reason.startswith(field), caught.value.reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("page_view", "event"),
        ({"name": "signup", "event_id": "abcdefgh"}, "name"),
        ({"name": "page_view"}, "event_id"),
        ({"name": "page_view", "event_id": "short"}, "event_id"),
        ({"name": "page_view", "event_id": "has space!"}, "event_id"),
        ({"name": "page_view", "event_id": "abcdefgh", "properties": {"": 1}}, "properties"),
        (
            {"name": "purchase", "event_id": "abcdefgh", "properties": {"order_id": "1"}},
            "properties.amount",
        ),
        (
            {
                "name": "purchase",
                "event_id": "abcdefgh",
                "properties": {"amount": 1.5, "order_id": "1"},
            },
            "properties.amount",
        ),
        (
            {
                "name": "purchase",
                "event_id": "abcdefgh",
                "properties": {"amount": True, "order_id": "1"},
            },
            "properties.amount",
        ),
        (
            {"name": "purchase", "event_id": "abcdefgh", "properties": {"amount": 100}},
            "properties.order_id",
        ),
        (
            {
                "name": "purchase",
                "event_id": "abcdefgh",
                "properties": {"amount": 100, "order_id": "注文 1"},
            },
            "properties.order_id",
        ),
    ],
)
def test_bad_events_are_422_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(WebTagRejected) as caught:
        parse_web_event(raw)
    assert caught.value.status == 422
    assert caught.value.field == field, caught.value.reason


def test_a_purchase_becomes_a_behaviour_event_keyed_by_its_order() -> None:
    event = parse_web_event(
        {
            "name": "purchase",
            "event_id": "e" * 16,
            "properties": {"amount": 4200, "order_id": "A-1"},
        }
    )
    document = behaviour_event(event, USER, NOW)
    assert document["idempotency_key"] == "web-purchase-A-1"  # a reload counts once
    assert document["value"] == 4200.0
    assert document["occurred_at"] == NOW.isoformat()  # the server's time
    # The events API's own parser takes it (the same checks as a signed event).
    parsed = parse_event(document, source="web-tag", now=NOW, retention_days=400)
    assert (parsed.name, parsed.user_id, parsed.value) == ("purchase", USER, 4200.0)
    assert parsed.properties == {"amount": 4200, "order_id": "A-1"}


def test_a_cart_update_carries_its_value_and_its_event_id() -> None:
    event = WebEventIn(name="cart_updated", event_id="c" * 16, properties={"value": 3200})
    document = behaviour_event(event, USER, NOW)
    assert document["idempotency_key"] == "web-" + "c" * 16
    assert document["value"] == 3200.0
    assert document["user"] == USER and document["name"] == "cart_updated"
    no_value = behaviour_event(WebEventIn(name="page_view", event_id="p" * 16), USER, NOW)
    assert "value" not in no_value


def test_fixed_windows_are_whole_minutes_with_a_retry_after() -> None:
    window = rate_window(NOW)
    assert window.start == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert window.ends_at == window.start + timedelta(minutes=1)
    assert window.retry_after_seconds(NOW) == 30
    assert window.retry_after_seconds(window.ends_at - timedelta(milliseconds=1)) == 1
    assert rate_window(window.ends_at).start == window.ends_at
