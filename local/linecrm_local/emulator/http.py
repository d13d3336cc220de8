"""Small HTTP helpers shared by the emulator's routes: LINE-shaped JSON answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .config import EmulatedChannel

MSG_NOT_FOUND = "Not found"
MSG_AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
MSG_RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
MSG_MONTHLY_LIMIT = "You have reached your monthly limit."
MSG_RETRY_KEY_ACCEPTED = "The retry key is already accepted"
MSG_INVALID_REPLY_TOKEN = "Invalid reply token"  # noqa: S105 - a message
MSG_INTERNAL_ERROR = "Internal server error"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


class HttpError(Exception):
    """Raised by a route to answer a LINE-shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        return json_response(body, self.status, self.headers)


@dataclass
class ApiRequest:
    """What a Messaging API route needs: the caller's channel and the checked body."""

    request: Request
    channel: EmulatedChannel
    path_params: dict[str, str]
    body: Any
    request_id: str
    retry_key: str | None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def channel_id(self) -> str:
        return self.channel.channel_id
