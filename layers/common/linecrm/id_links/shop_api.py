"""The shop's ID-linking requests (docs/id-linking.md), signed like the events API.

``POST /link/{channel_id}/nonce`` with ``{"member_id", "link_token"}`` answers a nonce;
``DELETE /link/{channel_id}/members/{member_id}`` with the body ``{"member_id"}`` (the
same id again, so the signature covers it) ends the member's link. Both authenticate
with the channel's events API sources and keys (``linecrm/events/<channel id>``): it
is the same shop backend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from linecrm.domain.id_links import is_member_id
from linecrm.events.service import RequestAuthenticator, SignedRequest
from linecrm.http_bodies import UnreadableBody, loads_json
from linecrm.id_links.service import AccountLinks, LinkRequestRefused

MAX_LINK_BODY_BYTES = 4 * 1024
NONCE_FIELDS = frozenset({"member_id", "link_token"})


class ShopLinkApi:
    def __init__(
        self,
        authenticator: RequestAuthenticator,
        links: AccountLinks,
        clock: Callable[[], datetime],
    ) -> None:
        self._authenticator = authenticator
        self._links = links
        self._clock = clock

    def nonce(self, request: SignedRequest) -> dict[str, Any]:
        """``{"nonce", "expires_at"}`` for the member; 401/4xx as ``EventsRejected`` or
        ``LinkRequestRefused``."""
        self._authenticator.authenticate(request, self._clock())
        body = json_object(request.body, NONCE_FIELDS)
        nonce = self._links.issue_nonce(
            request.channel_id, body.get("member_id"), body.get("link_token")
        )
        return {
            "nonce": nonce.nonce,
            "expires_at": nonce.expires_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        }

    def unlink(self, request: SignedRequest, member_id: str) -> dict[str, Any]:
        """End the member's link: ``{"member_id", "unlinked"}`` (false: none existed)."""
        self._authenticator.authenticate(request, self._clock())
        if not is_member_id(member_id):
            raise LinkRequestRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "member_id: 1-128 printable ASCII characters, no spaces",
                "member_id",
            )
        body = json_object(request.body, frozenset({"member_id"}))
        if body.get("member_id") != member_id:
            raise LinkRequestRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                'the body is {"member_id": "<the member id of the path>"}, signed',
                "member_id",
            )
        user_id = self._links.unlink_member(request.channel_id, member_id, by="shop")
        return {"member_id": member_id, "unlinked": user_id is not None}


def json_object(body: bytes, fields: frozenset[str]) -> dict[str, Any]:
    if len(body) > MAX_LINK_BODY_BYTES:
        raise LinkRequestRefused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the body has more than {MAX_LINK_BODY_BYTES} bytes",
            "body",
        )
    try:
        document = loads_json(body)
    except UnreadableBody as error:
        raise LinkRequestRefused(HTTPStatus.BAD_REQUEST, error.reason, "body") from error
    except ValueError as error:
        raise LinkRequestRefused(
            HTTPStatus.BAD_REQUEST, "the body is not valid JSON", "body"
        ) from error
    if not isinstance(document, dict):
        raise LinkRequestRefused(
            HTTPStatus.UNPROCESSABLE_ENTITY, "the body is a JSON object", "body"
        )
    extra = sorted(str(key) for key in document if key not in fields)
    if extra:
        raise LinkRequestRefused(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"unknown fields: {', '.join(extra)[:200]}; only {', '.join(sorted(fields))}",
            extra[0][:64],
        )
    return document
