"""POST /events/web, its preflight and GET /web/tag.js through the events handler
(moto): the key and its origins, CORS headers, the visitor id, the rate limits, and
the events landing on the friend's timeline like the signed events API's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm import resources
from linecrm.domain.visitor_ids import sign_visitor_id
from linecrm.domain.web_tag import WebTagKeySpec, new_web_tag_key
from linecrm.repositories.events import EventStore
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.web_tag_keys import WebTagKeyRepository
from linecrm.wiring import runtime_clock
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld

FRIEND = "U" + "a" * 32
# Half a minute into a rate window (the rate tests' clock, and their visitor ids').
MID_MINUTE = datetime.now(UTC).replace(second=30, microsecond=0)
ORIGIN = "https://shop.example"


@pytest.fixture
def world(aws: AwsWorld) -> AwsWorld:
    FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"]).record_follow(
        CHANNEL_ID, FRIEND, datetime.now(UTC) - timedelta(days=1)
    )
    return aws


def make_key(world: AwsWorld, **spec: Any) -> str:
    key = new_web_tag_key(
        CHANNEL_ID,
        WebTagKeySpec.model_validate({"origins": [ORIGIN], **spec}),
        datetime.now(UTC),
    )
    WebTagKeyRepository(world.client("dynamodb"), world.resources.table_names["Main"]).create(key)
    return key.key


def visitor_key(world: AwsWorld) -> bytes:
    secret = world.client("secretsmanager").get_secret_value(
        SecretId=resources.VISITOR_KEY_SECRET_NAME
    )
    return str(json.loads(secret["SecretString"])["current"]).encode()


def visitor(
    world: AwsWorld,
    user: str = FRIEND,
    channel_id: str = CHANNEL_ID,
    at: datetime | None = None,
) -> str:
    return sign_visitor_id(visitor_key(world), channel_id, user, at or datetime.now(UTC))


def call(
    handler: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    origin: str | None = ORIGIN,
    route: str = resources.WEB_EVENTS_PATH,
) -> tuple[int, Any, dict[str, str]]:
    headers = {"content-type": "application/json"}
    if origin is not None:
        headers["origin"] = origin
    raw = body if isinstance(body, bytes) else (None if body is None else json.dumps(body))
    event = http_event(method, path, route=route, body=raw, headers=headers)
    response = handler.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response), response.get("headers", {})


def web_event(name: str, **properties: Any) -> dict[str, Any]:
    return {"name": name, "event_id": f"ev-{name}-{len(properties)}-0001", "properties": properties}


def timeline(world: AwsWorld) -> list[Any]:
    store = EventStore(
        world.client("dynamodb"),
        world.resources.table_names["Main"],
        FriendRepository(world.client("dynamodb"), world.resources.table_names["Main"]),
    )
    return list(store.timeline(CHANNEL_ID, FRIEND).events)


def test_events_of_a_friend_land_on_the_timeline_with_cors_headers(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world)
    body = {
        "visitor": visitor(world),
        "events": [
            web_event("page_view", path="/products/"),
            web_event("cart_updated", value=3200, items=[{"sku": "A1", "qty": 1}]),
            {
                "name": "purchase",
                "event_id": "order-ev-0001",
                "properties": {"amount": 4200, "order_id": "100045"},
            },
        ],
    }
    status, answer, headers = call(handler, "POST", f"/events/web?key={key}", body=body)
    assert status == 200, answer
    assert (answer["applied"], answer["rejected"]) == (3, 0), answer
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Vary"] == "Origin"
    names = sorted(event.name for event in timeline(world))
    assert names == ["cart_updated", "page_view", "purchase"]
    # The same request again (a retry): duplicates, nothing applied twice.
    status, again, _ = call(handler, "POST", f"/events/web?key={key}", body=body)
    assert status == 200 and (again["applied"], again["duplicates"]) == (0, 3), again
    assert len(timeline(world)) == 3


def test_the_preflight_answers_the_keys_origins_only(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world)
    status, _, headers = call(handler, "OPTIONS", f"/events/web?key={key}")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
    status, answer, headers = call(
        handler, "OPTIONS", f"/events/web?key={key}", origin="https://evil.example"
    )
    assert status == 403 and answer["field"] == "Origin", answer
    assert "Access-Control-Allow-Origin" not in headers
    status, answer, _ = call(handler, "OPTIONS", "/events/web?key=pk_" + "x" * 24)
    assert status == 401 and "unknown" in answer["message"], answer


@pytest.mark.parametrize(
    ("path", "origin", "body", "status", "field"),
    [
        ("/events/web", ORIGIN, {"events": [web_event("page_view")]}, 401, "key"),
        ("/events/web?key=nope", ORIGIN, {"events": [web_event("page_view")]}, 401, "key"),
        ("{key}", None, {"events": [web_event("page_view")]}, 403, "Origin"),
        ("{key}", "https://other.example", {"events": [web_event("page_view")]}, 403, "Origin"),
        ("{key}", ORIGIN, b"{not json", 400, "body"),
        ("{key}", ORIGIN, {"events": []}, 422, "events"),
        ("{key}", ORIGIN, {"events": [web_event("page_view")], "extra": 1}, 422, "extra"),
        (
            "{key}",
            ORIGIN,
            {"visitor": "garbage-visitor-id-000000", "events": [web_event("page_view")]},
            401,
            "visitor",
        ),
        ("{key}", ORIGIN, b"x" * 20_000, 413, "body"),
    ],
)
def test_refusals_are_4xx_with_a_reason(
    world: AwsWorld, path: str, origin: str | None, body: Any, status: int, field: str
) -> None:
    handler = load_handler("events")
    key = make_key(world)
    path = f"/events/web?key={key}" if path == "{key}" else path
    got, answer, headers = call(handler, "POST", path, body=body, origin=origin)
    assert got == status, answer
    assert answer["field"] == field and answer["message"], answer
    # Once the origin is allowed, the page may read why.
    if status not in (401, 403):
        assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_visitor_id_of_another_channel_is_refused(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world)
    body = {"visitor": visitor(world, channel_id="1650009999"), "events": [web_event("page_view")]}
    status, answer, _ = call(handler, "POST", f"/events/web?key={key}", body=body)
    assert status == 403 and answer["field"] == "visitor", answer


def test_anonymous_page_views_are_accepted_and_drive_nothing(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world)
    body = {"events": [web_event("page_view"), web_event("cart_updated", value=1)]}
    status, answer, _ = call(handler, "POST", f"/events/web?key={key}", body=body)
    assert status == 200, answer
    assert (answer["anonymous"], answer["rejected"], answer["applied"]) == (1, 1, 0), answer
    assert answer["results"][1]["field"] == "visitor"
    assert timeline(world) == []


def test_bad_events_are_rejected_one_by_one(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world)
    body = {
        "visitor": visitor(world),
        "events": [
            web_event("page_view"),
            {
                "name": "purchase",
                "event_id": "order-ev-0002",
                "properties": {"amount": -1, "order_id": "1"},
            },
            {"name": "signup", "event_id": "ev-signup-0001"},
        ],
    }
    status, answer, _ = call(handler, "POST", f"/events/web?key={key}", body=body)
    assert status == 200, answer
    assert [r["status"] for r in answer["results"]] == ["applied", "rejected", "rejected"]
    assert answer["results"][1]["field"] == "properties.amount"
    assert answer["results"][2]["field"] == "name"


def test_the_key_rate_limit_answers_429_with_retry_after(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world, rate_per_minute=2)
    body = {"events": [web_event("page_view")]}
    statuses = []
    with runtime_clock(lambda: MID_MINUTE):  # all in one window, whatever the real time
        for _ in range(3):
            status, answer, headers = call(handler, "POST", f"/events/web?key={key}", body=body)
            statuses.append(status)
    assert statuses == [200, 200, 429], answer
    assert headers["Retry-After"] == "30"  # the window's end
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]


def test_the_visitor_rate_limit_is_per_visitor(world: AwsWorld) -> None:
    handler = load_handler("events")
    key = make_key(world, visitor_rate_per_minute=1)
    with runtime_clock(lambda: MID_MINUTE):
        first = {"visitor": visitor(world, at=MID_MINUTE), "events": [web_event("page_view")]}
        assert call(handler, "POST", f"/events/web?key={key}", body=first)[0] == 200
        status, answer, _ = call(handler, "POST", f"/events/web?key={key}", body=first)
        assert status == 429 and "visitor" in answer["message"], answer
        other = "U" + "b" * 32
        body = {
            "visitor": visitor(world, user=other, at=MID_MINUTE),
            "events": [web_event("page_view")],
        }
        assert call(handler, "POST", f"/events/web?key={key}", body=body)[0] == 200


def test_the_tag_script_is_served(world: AwsWorld) -> None:
    handler = load_handler("events")
    event = http_event("GET", resources.WEB_TAG_PATH, route=resources.WEB_TAG_PATH)
    response = handler.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("application/javascript")
    assert "max-age=" in response["headers"]["Cache-Control"]
    assert "/events/web" in response["body"] and "linecrm" in response["body"]
    assert len(response["body"].encode()) < 8 * 1024  # a few KB
