"""The shop's signed calls to linecrm: the ID-linking nonce, events, and spending an
auto-login token. Signed like every shop request (docs/events.md): hex
HMAC-SHA256(key, "<unix time>.<raw body>") with the source's key."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import requests

TIMEOUT_SECONDS = 10


class LinecrmRefused(Exception):
    """linecrm answered 4xx/5xx: its status, message and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.field = field


class LinecrmApi:
    def __init__(
        self,
        api_url: str,
        channel_id: str,
        *,
        source: str,
        key: str,
        clock: Callable[[], float],
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.channel_id = channel_id
        self._source = source
        self._key = key
        self._clock = clock

    @property
    def channel_path(self) -> str:
        return quote(self.channel_id, safe="")

    def request_nonce(self, member_id: str, link_token: str) -> str:
        answer = self.send(
            "POST",
            f"/link/{self.channel_path}/nonce",
            {"member_id": member_id, "link_token": link_token},
        )
        return str(answer["nonce"])

    def send_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.send("POST", f"/events/{self.channel_path}", {"events": [event]})

    def send(self, method: str, path: str, document: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self._clock()))
        signature = hmac.new(
            self._key.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        response = requests.request(
            method,
            self.api_url + path,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Linecrm-Source": self._source,
                "X-Linecrm-Timestamp": timestamp,
                "X-Linecrm-Signature": signature,
            },
            timeout=TIMEOUT_SECONDS,
        )
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {"message": response.text[:200]}
        if not response.ok:
            raise LinecrmRefused(
                response.status_code, str(answer.get("message")), answer.get("field")
            )
        return answer


def account_link_url(dialog_url: str, link_token: str, nonce: str) -> str:
    """LINE's account-link dialog (the emulator's, locally) for this token and nonce."""
    return f"{dialog_url}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"
