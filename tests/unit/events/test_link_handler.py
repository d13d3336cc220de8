"""The shop's ID-linking requests through the events handler (moto): signed like the
events API with the same source keys; refusals are 4xx with a reason, never a 500."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.domain.id_links import IssuedLinkToken
from linecrm.events.signature import compute_signature
from linecrm.repositories.id_links import IdLinkRepository
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.events.test_events_handler import FRIEND, KEY, SOURCE, events_world  # noqa: F401

_seconds = iter(range(10**6))


def call(
    method: str,
    path: str,
    route: str,
    body: bytes,
    *,
    key: str = KEY,
    signature: str | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    # A distinct timestamp per request: identical bytes in one second are a replay.
    timestamp = str(int(time.time()) - next(_seconds) % 60)
    headers = {
        "content-type": "application/json",
        "x-linecrm-source": SOURCE,
        "x-linecrm-timestamp": timestamp,
        "x-linecrm-signature": signature or compute_signature(key, timestamp, body),
    }
    event = http_event(
        method, path, route=route, body=body, headers=headers, path_parameters=params
    )
    response = load_handler("events").lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


def nonce(body: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
    return call(
        "POST",
        f"/link/{CHANNEL_ID}/nonce",
        "/link/{channel_id}/nonce",
        json.dumps(body).encode(),
        params={"channel_id": CHANNEL_ID},
        **kwargs,
    )


def unlink(member_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    return call(
        "DELETE",
        f"/link/{CHANNEL_ID}/members/{member_id}",
        "/link/{channel_id}/members/{member_id}",
        json.dumps(body).encode(),
        params={"channel_id": CHANNEL_ID, "member_id": member_id},
    )


@pytest.fixture
def token(events_world: AwsWorld) -> str:  # noqa: F811 - the imported fixture
    links = IdLinkRepository(
        events_world.client("dynamodb"), events_world.resources.table_names["Main"]
    )
    links.record_link_token(CHANNEL_ID, IssuedLinkToken("tok-1", FRIEND, datetime.now(UTC)))
    return "tok-1"


def test_a_signed_request_gets_a_nonce(token: str) -> None:
    status, answer = nonce({"member_id": "M-1", "link_token": token})
    assert status == 201, answer
    assert len(answer["nonce"]) >= 32
    expires = datetime.fromisoformat(answer["expires_at"])
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 600


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "words"),
    [
        ({"member_id": "M-1", "link_token": "tok-1"}, {"key": "w" * 40}, 401, "invalid signature"),
        ({"member_id": "M-1", "link_token": "tok-1"}, {"signature": "zz"}, 401, "malformed"),
        ({"member_id": "M-1", "link_token": "unknown"}, {}, 422, "did not issue"),
        ({"member_id": "M 1", "link_token": "tok-1"}, {}, 422, "member_id"),
        ({"member_id": "M-1"}, {}, 422, "link_token"),
        ({"member_id": "M-1", "link_token": "tok-1", "x": 1}, {}, 422, "unknown fields"),
    ],
)
def test_refusals_are_4xx_with_a_reason(
    token: str, body: dict[str, Any], kwargs: dict[str, Any], status: int, words: str
) -> None:
    got, answer = nonce(body, **kwargs)
    assert got == status, answer
    assert words in answer["message"]


def test_the_shop_unlinks_with_the_member_id_signed_in_the_body(token: str) -> None:
    status, answer = unlink("M-404", {"member_id": "M-404"})
    assert (status, answer) == (200, {"member_id": "M-404", "unlinked": False})
    status, answer = unlink("M-404", {"member_id": "M-other"})
    assert status == 422 and answer["field"] == "member_id"
