"""The events API's request signature (docs/events.md).

``X-Linecrm-Signature`` is HMAC-SHA256, keyed with the source's key, over the bytes
``<X-Linecrm-Timestamp>.<raw body>``, written as 64 hex digits or as base64 (with or
without padding). Signing the timestamp with the body stops an old request from being
sent again with a fresh timestamp.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

DIGEST_BYTES = 32
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def signed_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def compute_signature(key: str, timestamp: str, body: bytes) -> str:
    """The signature a source sends, as hex."""
    return hmac.new(
        key.encode("utf-8"), signed_payload(timestamp, body), hashlib.sha256
    ).hexdigest()


def signature_digest(header: str | None) -> bytes | None:
    """The 32 bytes a signature header stands for (hex or base64), or None."""
    if not header:
        return None
    text = header.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        digest = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == DIGEST_BYTES else None


def is_valid_signature(keys: Iterable[str], timestamp: str, body: bytes, digest: bytes) -> bool:
    """Whether one of ``keys`` (current, previous) signed the request; constant time
    per key, and every key is tried (the answer's timing does not say which matched)."""
    payload = signed_payload(timestamp, body)
    valid = False
    for key in keys:
        expected = hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()
        valid |= hmac.compare_digest(expected, digest)
    return valid
