"""POST /events/{channel_id} through the handler (moto): signed batches answer 200 with
per-event results, every refusal is a 4xx in the shared error shape, never a 500."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm import resources
from linecrm.events.signature import compute_signature
from linecrm.repositories.friends import FriendRepository
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld

FRIEND = "U" + "e" * 32
SOURCE = "shop-web"
KEY = "s" * 40


@pytest.fixture
def events_world(aws: AwsWorld) -> AwsWorld:
    aws.client("secretsmanager").put_secret_value(
        SecretId=f"{resources.EVENT_SOURCES_SECRET_PREFIX}{CHANNEL_ID}",
        SecretString=json.dumps({"sources": {SOURCE: {"current": KEY}}}),
    )
    FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"]).record_follow(
        CHANNEL_ID, FRIEND, datetime.now(UTC) - timedelta(days=1)
    )
    return aws


_offsets = iter(range(10**6))


def post(
    body: bytes,
    *,
    key: str = KEY,
    headers: dict[str, str] | None = None,
    channel_id: str = CHANNEL_ID,
) -> tuple[int, Any]:
    """POST ``body`` signed with ``key``; ``headers`` override the ones sent (a given
    timestamp is signed; a given signature is sent as it is)."""
    headers = dict(headers or {})
    timestamp = headers.pop("x-linecrm-timestamp", str(int(time.time()) - next(_offsets) % 30))
    sent = {
        "content-type": "application/json",
        "x-linecrm-source": SOURCE,
        "x-linecrm-timestamp": timestamp,
        "x-linecrm-signature": compute_signature(key, timestamp, body),
        **headers,
    }
    event = http_event(
        "POST",
        f"/events/{channel_id}",
        route="/events/{channel_id}",
        body=body,
        headers=sent,
        path_parameters={"channel_id": channel_id},
    )
    response = load_handler("events").lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


def batch(*keys: str, user: str = FRIEND) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "events": [
                {"name": "purchase", "user": user, "occurred_at": now, "idempotency_key": key}
                for key in keys
            ]
        }
    ).encode()


def test_a_signed_batch_answers_per_event(events_world: AwsWorld) -> None:
    status, answer = post(batch("a-1", "a-1", "a-2", user=FRIEND))
    assert status == 200, answer
    assert (answer["applied"], answer["duplicates"], answer["rejected"]) == (2, 1, 0)
    assert [r["status"] for r in answer["results"]] == ["applied", "duplicate", "applied"]
    status, answer = post(batch("a-3", user="U" + "9" * 32))
    assert status == 200
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["field"] == "user"
    assert "not a friend" in result["reason"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (batch("b-1"), {"x-linecrm-signature": "0" * 64}, 401, "invalid signature"),
        (batch("b-1"), {"x-linecrm-timestamp": str(int(time.time()) - 3600)}, 401, "stale"),
        (batch("b-1"), {"x-linecrm-source": "nobody"}, 401, "unknown source"),
        (b"garbage", {}, 400, "not valid JSON"),
        (b'{"events": []}', {}, 422, "1 to 100"),
        (b'{"a": ' * 1000 + b"1" + b"}" * 1000, {}, 400, "deeper"),
    ],
)
def test_refusals_are_4xx_with_a_reason(
    events_world: AwsWorld, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    got, answer = post(body, headers=headers)
    assert got == status, answer
    assert words in answer["message"]


def test_an_unknown_channel_is_the_same_401(events_world: AwsWorld) -> None:
    status, answer = post(batch("c-1"), channel_id="1999999999")
    assert status == 401
    assert answer["message"] == "unknown source for this channel"
    status, answer = post(batch("c-1"), channel_id="not/a/channel")
    assert status == 404
