"""Identifiers shaped like LINE's."""

from __future__ import annotations

import secrets
import time
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def user_id() -> str:
    return "U" + secrets.token_hex(16)


def request_id() -> str:
    return str(uuid.uuid4())


def message_id() -> str:
    return str(secrets.randbelow(10**17) + 10**17)


def channel_access_token() -> str:
    """Long and URL-safe, like a long-lived channel access token."""
    return secrets.token_urlsafe(128)


def reply_token() -> str:
    return secrets.token_hex(16)


def link_token() -> str:
    """LINE's link tokens are 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def quote_token() -> str:
    return secrets.token_urlsafe(48)


def webhook_event_id(now_seconds: float | None = None) -> str:
    """26 Crockford base32 characters like a ULID: 48-bit ms time + 80 random bits."""
    millis = int((time.time() if now_seconds is None else now_seconds) * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    # LINE asks for the hexadecimal form with hyphens, e.g. 123e4567-e89b-12d3-a456-426614174000.
    return len(value) == 36
