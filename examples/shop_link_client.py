"""A reference client for the shop's side of ID linking (docs/id-linking.md).

Standard library only, so it can be copied into any Python backend. The shop's login
page receives ``?linkToken=…`` from the friend's LINE chat; after the member logged in:

    client = ShopLinkClient(api_url, channel_id, source="shop-web", key=SOURCE_KEY)
    nonce = client.request_nonce(member_id="M-1001", link_token=link_token)
    redirect_to(client.account_link_url(link_token, nonce.nonce))

LINE then asks the friend to agree and tells linecrm (the ``accountLink`` webhook
event); linecrm links the member id to the friend. ``unlink`` ends a link from the shop's
side (e.g. the member closed their account). Requests are signed with the same source
and key as the events API: ``HMAC-SHA256(key, "<unix time>.<raw body>")``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

LINE_ACCOUNT_LINK_URL = "https://access.line.me/dialog/bot/accountLink"
TIMEOUT_SECONDS = 10


class LinkApiError(Exception):
    """linecrm refused the request: its HTTP status, message and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Nonce:
    nonce: str
    expires_at: str  # ISO 8601, UTC; at most 10 minutes after it was issued


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The X-Linecrm-Signature of ``body`` sent at ``timestamp`` (hex)."""
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class ShopLinkClient:
    def __init__(
        self,
        api_url: str,
        channel_id: str,
        *,
        source: str,
        key: str,
        account_link_url: str = LINE_ACCOUNT_LINK_URL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``api_url``: linecrm's API (the stack's ApiUrl; locally http://127.0.0.1:8080).
        ``account_link_url``: LINE's account-link dialog (the emulator's, locally)."""
        if not api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url {api_url!r}: give an http(s) URL")
        self._api_url = api_url.rstrip("/")
        self._channel_id = channel_id
        self._source = source
        self._key = key
        self._account_link_url = account_link_url
        self._clock = clock

    def request_nonce(self, member_id: str, link_token: str) -> Nonce:
        """A nonce bound to the logged-in member and the link token (single use)."""
        answer = self._send(
            "POST",
            f"/link/{quote(self._channel_id, safe='')}/nonce",
            {"member_id": member_id, "link_token": link_token},
        )
        return Nonce(nonce=answer["nonce"], expires_at=answer["expires_at"])

    def account_link_url(self, link_token: str, nonce: str) -> str:
        """Where to redirect the member's browser: LINE's account-link dialog."""
        return f"{self._account_link_url}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"

    def unlink(self, member_id: str) -> bool:
        """End the member's ID link; False when there was none."""
        answer = self._send(
            "DELETE",
            f"/link/{quote(self._channel_id, safe='')}/members/{quote(member_id, safe='')}",
            {"member_id": member_id},
        )
        return bool(answer["unlinked"])

    def send_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """One behaviour event (docs/events.md); ``member_id`` works once linked."""
        return self._send(
            "POST", f"/events/{quote(self._channel_id, safe='')}", {"events": [event]}
        )

    def _send(self, method: str, path: str, document: dict[str, Any]) -> dict[str, Any]:
        # Serialise once and sign exactly these bytes; a retry is signed anew.
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self._api_url + path,
            data=body,
            method=method,
            headers={
                "Content-Type": "application/json",
                "X-Linecrm-Source": self._source,
                "X-Linecrm-Timestamp": timestamp,
                "X-Linecrm-Signature": sign(self._key, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the caller's API URL
                answer: dict[str, Any] = json.load(response)
                return answer
        except urllib.error.HTTPError as error:
            try:
                refused = json.load(error)
            except ValueError:
                refused = {"message": error.reason}
            raise LinkApiError(
                error.code, str(refused.get("message")), refused.get("field")
            ) from None
