"""Visitor ids: signed, opaque, dated; tampering, expiry and other keys are refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.domain.visitor_ids import (
    VISITOR_ID_LIFETIME,
    VisitorId,
    sign_visitor_id,
    verify_visitor_id,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
USER = "U" + "0123456789abcdef" * 2
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_round_trip_gives_the_channel_friend_and_times() -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    assert verify_visitor_id(KEY, token, NOW + timedelta(days=1)) == VisitorId(
        channel_id="2000000001",
        user_id=USER,
        issued_at=NOW,
        expires_at=NOW + VISITOR_ID_LIFETIME,
    )


def test_opaque_and_url_safe() -> None:
    first = sign_visitor_id(KEY, "2000000001", USER, NOW)
    second = sign_visitor_id(KEY, "2000000001", USER, NOW)
    assert first != second  # a random nonce: two ids of one friend look unrelated
    for token in (first, second):
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert len(token) <= 100
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert USER not in token and USER[1:].lower() not in raw.hex()
        assert b"2000000001" not in raw


@pytest.mark.parametrize("position", [0, 5, 12, 30, 50, -1])
def test_a_tampered_id_is_refused(position: int) -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert verify_visitor_id(KEY, tampered, NOW) is None


def test_truncated_or_garbage_ids_are_refused() -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    for bad in (token[:-4], token + "AA", "", "not a token!", "A" * 300, USER):
        assert verify_visitor_id(KEY, bad, NOW) is None


def test_expired_ids_are_refused() -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    assert verify_visitor_id(KEY, token, NOW + VISITOR_ID_LIFETIME - timedelta(seconds=1))
    assert verify_visitor_id(KEY, token, NOW + VISITOR_ID_LIFETIME) is None


def test_ids_from_the_future_are_refused() -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    assert verify_visitor_id(KEY, token, NOW - timedelta(minutes=5)) is None


def test_another_key_refuses_it() -> None:
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    assert verify_visitor_id(OTHER_KEY, token, NOW) is None


def test_the_channel_is_bound_into_the_id() -> None:
    # A channel cannot be swapped in: the id names its channel, and the web events
    # API compares it with the tag key's channel.
    token = sign_visitor_id(KEY, "2000000001", USER, NOW)
    other = sign_visitor_id(KEY, "2000000002", USER, NOW)
    found, found_other = verify_visitor_id(KEY, token, NOW), verify_visitor_id(KEY, other, NOW)
    assert found is not None and found_other is not None
    assert (found.channel_id, found_other.channel_id) == ("2000000001", "2000000002")


def test_bad_inputs_to_sign_are_refused() -> None:
    with pytest.raises(ValueError, match="LINE user id"):
        sign_visitor_id(KEY, "2000000001", "M-1001", NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        sign_visitor_id(b"short", "2000000001", USER, NOW)
    with pytest.raises(ValueError, match="aware"):
        sign_visitor_id(KEY, "2000000001", USER, datetime(2026, 12, 3))
