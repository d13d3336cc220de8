"""ID linking (ID連携): a LINE friend linked to the shop's member id, per channel.

The flow (LINE's Messaging API "account link", docs/id-linking.md):

1. linecrm issues a *link token* for the friend (LINE, ``POST /v2/bot/user/{userId}/
   linkToken``) and sends them to the shop's login page with it.
2. The shop logs the member in and asks linecrm for a *nonce* bound to that member id
   and link token (a signed request). The nonce is random (192 bits), single use and
   lives ``NONCE_TTL``.
3. The shop redirects to LINE's account-link URL with the link token and the nonce;
   LINE asks the friend to agree and sends the ``accountLink`` webhook event with the
   nonce. linecrm consumes the nonce and stores the link: the friend's consent is that
   event (result ``ok``), kept with its time.

One member id links to one LINE user per channel, and one LINE user to one member id:
a new link replaces an older one of either side, and the replaced link ends
(``Unlinked`` is emitted for it). Everything here is plain values and rules; the
repository (``linecrm.repositories.id_links``) stores them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# LINE: a link token is valid for 10 minutes and can be used once.
LINK_TOKEN_TTL = timedelta(minutes=10)
# Our nonce lives no longer than the link token it is bound to.
NONCE_TTL = timedelta(minutes=10)
NONCE_BYTES = 24  # 192 bits, as 48 hex characters
# The shop's member ids: printable, no spaces or control characters, bounded.
MEMBER_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")
# LINE's link tokens are opaque; ours (the emulator's) and LINE's are URL-safe text.
LINK_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_.~-]{1,256}$")
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,255}$")
# How the friend agreed: LINE's account-link dialog, answered by the accountLink event.
CONSENT_VIA_ACCOUNT_LINK = "line_account_link"


DEFAULT_INVITE_TEXT = (
    "会員IDとLINEを連携すると、会員限定の特典やお知らせが届きます。ログインして連携してください。"
)
DEFAULT_BUTTON_LABEL = "会員連携する"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class AccountLinkSettings(BaseModel):
    """A channel's ID-linking setting: where the shop's login page is, and the words
    of the message with its button (the channel setting ``account_link``)."""

    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    shop_login_url: str = Field(
        min_length=1,
        max_length=900,
        description="the shop's login page; linecrm adds ?linkToken=… (https; http only "
        "for localhost)",
    )
    text: str = Field(default=DEFAULT_INVITE_TEXT, min_length=1, max_length=160)
    button_label: str = Field(default=DEFAULT_BUTTON_LABEL, min_length=1, max_length=20)

    @field_validator("shop_login_url")
    @classmethod
    def _https(cls, url: str) -> str:
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
        if not (parts.scheme == "https" or local) or not parts.hostname or parts.fragment:
            raise ValueError(
                "an https URL without a #fragment (http only for localhost / 127.0.0.1)"
            )
        return url


def new_nonce() -> str:
    """A fresh nonce: ``NONCE_BYTES`` random bytes from the OS, as hex (URL-safe, and
    never starting with ``-``, which a command line would read as an option)."""
    return secrets.token_hex(NONCE_BYTES)


def is_member_id(text: str) -> bool:
    return bool(MEMBER_ID_PATTERN.fullmatch(text))


def login_url_with_token(shop_login_url: str, link_token: str) -> str:
    """The shop's login page with ``linkToken`` added (the page's own query is kept)."""
    separator = "&" if "?" in shop_login_url else "?"
    return f"{shop_login_url}{separator}linkToken={link_token}"


class NotAFriend(LookupError):
    """No friend with this user id in the channel (a link needs one)."""


def invite_message(text: str, button_label: str, login_url: str) -> dict[str, object]:
    """The message that sends the friend to the shop's login page: a buttons template
    with one URI action (``altText`` is what notifications and old clients show)."""
    return {
        "type": "template",
        "altText": text[:400],
        "template": {
            "type": "buttons",
            "text": text,
            "actions": [{"type": "uri", "label": button_label, "uri": login_url}],
        },
    }


@dataclass(frozen=True)
class LinkNonce:
    """A nonce the shop asked for: bound to one member id and one link token."""

    nonce: str
    member_id: str
    link_token: str
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def issue(cls, member_id: str, token: IssuedLinkToken, now: datetime) -> LinkNonce:
        """A fresh nonce, valid ``NONCE_TTL`` but never past its link token's expiry
        (LINE would refuse the token then anyway)."""
        until = min(now + NONCE_TTL, token.expires_at)
        return cls(new_nonce(), member_id, token.link_token, now, until)


@dataclass(frozen=True)
class IdLink:
    """A stored link: who, since when, and the consent it rests on."""

    member_id: str
    user_id: str
    linked_at: datetime
    consented_at: datetime
    consent: str = CONSENT_VIA_ACCOUNT_LINK


@dataclass(frozen=True)
class LinkReplacement:
    """What a new link ended: the friend's previous member id and the member's previous
    LINE user (each None when there was none, or it was the same)."""

    previous_member_id: str | None = None
    previous_user_id: str | None = None


class NonceRefusal(StrEnum):
    """Why a nonce cannot complete a link (recorded on the friend and logged)."""

    UNKNOWN = "unknown nonce: linecrm did not issue it (or its record expired)"
    EXPIRED = "expired nonce: it was issued more than 10 minutes before the link"
    REPLAYED = "replayed nonce: it completed (or tried to complete) a link before"
    OTHER_USER = "the nonce's link token was issued for another LINE user"


class LinkTokenRefusal(StrEnum):
    """Why the shop cannot get a nonce for this link token (the 4xx reason)."""

    UNKNOWN = "link_token: linecrm did not issue this link token"
    EXPIRED = "link_token: expired (LINE link tokens live 10 minutes); ask the friend to tap again"


@dataclass(frozen=True)
class IssuedLinkToken:
    """A link token linecrm obtained from LINE for a friend (the nonce binds to it)."""

    link_token: str
    user_id: str
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + LINK_TOKEN_TTL

    def refusal(self, now: datetime) -> LinkTokenRefusal | None:
        return LinkTokenRefusal.EXPIRED if now >= self.expires_at else None


@dataclass(frozen=True)
class LinkOutcome:
    """What an ``accountLink`` event did: linked (with the member id) or why not."""

    linked: bool
    member_id: str | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)


class InviteAttempt(BaseModel):
    """How far an ID-link invitation got (kept per delivery, for a redelivered task):
    ``replying`` (the reply was being sent: LINE may have delivered it), ``pushing``
    (a push with the delivery's retry key: sending it again is safe), ``sent``."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    link_token: str
    stage: Literal["replying", "pushing", "sent"]
