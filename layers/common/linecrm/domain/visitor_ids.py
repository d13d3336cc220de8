"""Visitor ids: who a browser on the shop's site is, without telling anyone (docs/web-tag.md).

A visitor id is issued when a friend arrives at the shop from LINE (the auto-login's
consume answer; the click redirector may append one too) and the web tag sends it with
each event, so ``POST /events/web`` knows the friend. It is:

- **opaque**: the channel and the LINE user id are encrypted (AES-256-CTR with a random
  nonce), so neither the shop's page, its analytics nor a shared URL shows the raw LINE
  user id, and two ids of one friend look unrelated;
- **signed**: HMAC-SHA256 over everything before it (encrypt-then-MAC, truncated to
  128 bits), so nobody can forge, alter or splice one;
- **short and URL-safe**: base64url without padding (about 90 characters), for
  ``?lcv=`` and a first-party cookie;
- **dated**: it carries its issue time and expiry (``VISITOR_ID_LIFETIME``).

The key is one secret per deployment (``linecrm/visitor-id-key``); encryption and
signing use keys derived from it. Pure logic: the clock is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VISITOR_ID_LIFETIME = timedelta(days=30)
VISITOR_PARAMETER = "lcv"  # the landing URL's query parameter the tag reads
MIN_KEY_BYTES = 32
MAX_TOKEN_LENGTH = 256
VERSION = 1
NONCE_BYTES = 16
MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
# Clocks of our own functions may differ by a few seconds.
ISSUED_AT_SKEW = timedelta(seconds=30)

_HEADER = struct.Struct(">BII")  # version, issued at, expires at (unix seconds)
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_ENCRYPTION_LABEL = b"linecrm visitor id: encryption"
_SIGNATURE_LABEL = b"linecrm visitor id: signature"


@dataclass(frozen=True)
class VisitorId:
    """A verified visitor id: the friend (``user_id`` of ``channel_id``) and its times."""

    channel_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime


def _derived(key: bytes, label: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a visitor id key has at least {MIN_KEY_BYTES} bytes")
    return hmac.new(key, label, hashlib.sha256).digest()


def _keystream_xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    # CTR is its own inverse: the same call encrypts and decrypts.
    cipher = Cipher(algorithms.AES(_derived(key, _ENCRYPTION_LABEL)), modes.CTR(nonce))
    encryptor = cipher.encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _mac(key: bytes, signed: bytes) -> bytes:
    return hmac.new(_derived(key, _SIGNATURE_LABEL), signed, hashlib.sha256).digest()[:MAC_BYTES]


def sign_visitor_id(key: bytes, channel_id: str, user_id: str, issued_at: datetime) -> str:
    """A new visitor id for the friend ``user_id`` of ``channel_id``, valid for
    ``VISITOR_ID_LIFETIME`` from ``issued_at`` (aware). Each call gives a different id."""
    if not _USER_ID.fullmatch(user_id):
        raise ValueError("user_id is a LINE user id: 'U' followed by 32 hex digits")
    channel = channel_id.encode("utf-8")
    if not 1 <= len(channel) <= 64:
        raise ValueError("channel_id has 1 to 64 bytes")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    issued = int(issued_at.timestamp())
    expires = issued + int(VISITOR_ID_LIFETIME.total_seconds())
    nonce = os.urandom(NONCE_BYTES)
    plaintext = bytes([len(channel)]) + channel + bytes.fromhex(user_id[1:])
    signed = _HEADER.pack(VERSION, issued, expires) + nonce + _keystream_xor(key, nonce, plaintext)
    token = signed + _mac(key, signed)
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def verify_visitor_id(key: bytes, token: str, now: datetime) -> VisitorId | None:
    """The visitor id in ``token`` if ``key`` signed it and it has not expired at
    ``now``; None for anything else (malformed, altered, another key, expired)."""
    raw = _decoded(token)
    if raw is None or len(raw) < _HEADER.size + NONCE_BYTES + 1 + 16 + MAC_BYTES:
        return None
    signed, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, signed)):
        return None
    version, issued, expires = _HEADER.unpack_from(signed)
    if version != VERSION:
        return None
    moment = now.timestamp()
    if moment >= expires or moment < issued - ISSUED_AT_SKEW.total_seconds():
        return None
    if expires - issued > VISITOR_ID_LIFETIME.total_seconds():
        return None
    nonce = signed[_HEADER.size : _HEADER.size + NONCE_BYTES]
    plaintext = _keystream_xor(key, nonce, signed[_HEADER.size + NONCE_BYTES :])
    channel_length = plaintext[0]
    if len(plaintext) != 1 + channel_length + 16:
        return None
    try:
        channel_id = plaintext[1 : 1 + channel_length].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return VisitorId(
        channel_id=channel_id,
        user_id="U" + plaintext[1 + channel_length :].hex(),
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


def _decoded(token: str) -> bytes | None:
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        return None
    if not _TOKEN.fullmatch(token):
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None


def with_visitor_id(url: str, token: str) -> str:
    """``url`` with ``?lcv=<token>`` (replacing one already there; the rest of the query
    and the #fragment stay): where the auto-login lands, or a click redirect's target,
    for the shop's web tag to pick up (docs/web-tag.md)."""
    parts = urlsplit(url)
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name != VISITOR_PARAMETER
    ]
    query.append((VISITOR_PARAMETER, token))
    return urlunsplit(parts._replace(query=urlencode(query)))
