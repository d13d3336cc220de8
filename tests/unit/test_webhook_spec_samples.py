"""One sample of every webhook event LINE documents, checked against LINE's webhook.yml
and sent, signed, through the real webhook handler.

When LINE adds an event type or subtype to webhook.yml, the coverage tests below fail
until a sample for it is added to tests/events/webhook/ and a row to ``EXPECTED``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from boto3.dynamodb.types import TypeDeserializer

from linecrm.repositories.channel_config import ChannelConfigRepository
from tests.support.events import all_webhook_samples, load_event, webhook_sample_names
from tests.support.lambda_support import load_handler, response_json
from tests.support.webhook_spec import (
    callback_errors,
    callback_request,
    discriminated_schemas,
    discriminator_mapping,
    walk_callback,
)
from tests.unit.conftest import CHANNEL_ID, WELCOME, AwsWorld, webhook_request

SAMPLES = all_webhook_samples()
SAMPLE_IDS = [name for name, _ in SAMPLES]

# ---------------------------------------------------------------- expected state
FriendState = Literal["none", "followed", "blocked", "interacted"]


@dataclass(frozen=True)
class Expect:
    """What one sample, alone in a signed request, leaves behind.

    friend: "none" (no friend row at all), "followed" (active, follow times set),
    "blocked" (blocked with blocked_at, earlier data kept) or "interacted" (the source
    user's row has last_interaction_at = the event time).
    """

    friend: FriendState
    welcomes: int = 0
    # The source user followed (an earlier, separate follow event) before the sample.
    after_follow: bool = False
    applied: int = 1
    skipped: int = 0


NONE = Expect("none")
INTERACTED = Expect("interacted")

# One row per sample: update the row when linecrm starts acting on an event type.
EXPECTED: dict[str, Expect] = {
    "account_link": NONE,
    "account_link_failed": NONE,
    "activated": NONE,
    "beacon": INTERACTED,
    "bot_resumed": NONE,
    "bot_suspended": NONE,
    "deactivated": NONE,
    "delivery": NONE,
    "follow": Expect("followed", welcomes=1),
    "follow_standby": Expect("followed", welcomes=0),  # standby: record, never speak
    "follow_unblocked": Expect("followed", welcomes=1),
    "join_group": NONE,
    "join_room": NONE,
    "leave_group": NONE,
    "leave_room": NONE,
    "member_joined_group": NONE,
    "member_joined_room": NONE,
    "member_left_group": NONE,
    "member_left_room": NONE,
    "membership_joined": NONE,
    "membership_left": NONE,
    "membership_renewed": NONE,
    "message_audio": INTERACTED,
    "message_file": INTERACTED,
    "message_image": INTERACTED,
    "message_location": INTERACTED,
    "message_sticker": INTERACTED,
    "message_sticker_message": INTERACTED,
    "message_text": INTERACTED,
    # Group/room members need not be friends of the account: no friend row for them.
    "message_text_mention": NONE,
    "message_text_room": NONE,
    "message_video": INTERACTED,
    "module_attached": NONE,
    "module_detached": NONE,
    "postback": INTERACTED,
    "postback_date": INTERACTED,
    "postback_datetimepicker": INTERACTED,
    "postback_group": NONE,
    "postback_richmenu_switch": INTERACTED,
    "postback_time": INTERACTED,
    "unfollow": Expect("blocked", after_follow=True),
    "unsend": NONE,
    "video_play_complete": INTERACTED,
}

# ---------------------------------------------------------------- samples vs the spec
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
ID_PATTERNS = {
    "userId": re.compile(r"^U[0-9a-f]{32}$"),
    "botId": re.compile(r"^U[0-9a-f]{32}$"),
    "groupId": re.compile(r"^C[0-9a-f]{32}$"),
    "roomId": re.compile(r"^R[0-9a-f]{32}$"),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _ids(node: Any) -> list[tuple[str, str]]:
    """Every (key, value) whose key is one of ID_PATTERNS, anywhere in the event."""
    if isinstance(node, dict):
        found = [(k, v) for k, v in node.items() if k in ID_PATTERNS]
        return found + [pair for value in node.values() for pair in _ids(value)]
    if isinstance(node, list):
        return [pair for item in node for pair in _ids(item)]
    return []


@pytest.mark.parametrize(("name", "event"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_validates_against_the_webhook_spec(name: str, event: dict[str, Any]) -> None:
    body = callback_request(event)
    assert callback_errors(body) == []
    assert walk_callback(body).undeclared == [], "properties webhook.yml does not declare"


@pytest.mark.parametrize(("name", "event"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_looks_like_what_line_sends(name: str, event: dict[str, Any]) -> None:
    assert name.startswith(_snake(event["type"])), "file name starts with the event type"
    assert ULID.match(event["webhookEventId"])
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert 1_600_000_000_000 < event["timestamp"] < 2_000_000_000_000, "milliseconds"
    for key, value in _ids(event):
        assert ID_PATTERNS[key].match(value), (key, value)


def test_sample_ids_are_unique() -> None:
    event_ids = [event["webhookEventId"] for _, event in SAMPLES]
    assert len(set(event_ids)) == len(event_ids)


def test_samples_cover_every_event_type_in_the_spec() -> None:
    sampled = {event["type"] for _, event in SAMPLES}
    assert set(discriminator_mapping("Event")) - sampled == set()


def test_samples_cover_every_message_content_type_in_the_spec() -> None:
    sampled = {event["message"]["type"] for _, event in SAMPLES if event["type"] == "message"}
    assert set(discriminator_mapping("MessageContent")) - sampled == set()


def test_samples_cover_every_discriminated_subtype_in_the_spec() -> None:
    """Source, Mentionee, MembershipContent, ModuleContent… every mapping entry."""
    used: set[tuple[str, str]] = set()
    for _, event in SAMPLES:
        used |= walk_callback(callback_request(event)).dispatched
    every = {
        (base, value) for base, mapping in discriminated_schemas().items() for value in mapping
    }
    assert every - used == set()


def test_samples_cover_the_source_variants_linecrm_cares_about() -> None:
    shapes = {
        (event["type"], event.get("source", {}).get("type"), "userId" in event.get("source", {}))
        for _, event in SAMPLES
    }
    assert {("join", "group", False), ("join", "room", False)} <= shapes
    assert {("leave", "group", False), ("leave", "room", False)} <= shapes
    assert {("message", "group", True), ("message", "room", True)} <= shapes
    modes = {(event["type"], event["mode"]) for _, event in SAMPLES}
    assert ("follow", "standby") in modes


def _mutated(name: str, change: Any) -> dict[str, Any]:
    event = load_event(name)
    change(event)
    return callback_request(event)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (_mutated("message_text", lambda e: e["message"].pop("text")), "events[0].message.text"),
        (_mutated("message_text", lambda e: e.update(type="things")), "events[0].type"),
        (_mutated("follow", lambda e: e["follow"].pop("isUnblocked")), "isUnblocked"),
        (_mutated("follow", lambda e: e.update(timestamp="1763888400000")), "timestamp"),
        (_mutated("follow", lambda e: e.update(mode="paused")), "events[0].mode"),
        (_mutated("join_group", lambda e: e["source"].pop("groupId")), "source.groupId"),
        (
            _mutated("message_sticker", lambda e: e["message"].update(stickerResourceType="BIG")),
            "stickerResourceType",
        ),
        (_mutated("module_detached", lambda e: e["module"].update(type="paused")), "module.type"),
        (_mutated("follow", lambda e: None) | {"destination": "bot"}, "destination"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_the_spec_check_catches_drift(body: dict[str, Any], where: str) -> None:
    errors = callback_errors(body)
    assert any(where in error.property for error in errors), errors


def test_the_spec_walk_catches_undeclared_properties() -> None:
    body = _mutated("message_text", lambda e: e["message"].update(quotedMessageID="1"))
    assert callback_errors(body) == []  # LINE's objects allow extra properties…
    assert walk_callback(body).undeclared == ["events[0].message.quotedMessageID"]


# ---------------------------------------------------------------- through the handler
_deserializer = TypeDeserializer()


@pytest.fixture
def webhook(aws: AwsWorld) -> Any:
    ChannelConfigRepository(
        aws.client("dynamodb"), aws.resources.table_names["Main"]
    ).set_welcome_messages(CHANNEL_ID, WELCOME)
    return load_handler("webhook")


def _send(webhook: Any, context: Any, *events: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(callback_request(*events), ensure_ascii=False).encode()
    response: dict[str, Any] = webhook.lambda_handler(webhook_request(body), context)
    return response


def _friends(aws: AwsWorld) -> dict[str, dict[str, Any]]:
    """Friend profile items by user id, as plain values."""
    found = {}
    for item in aws.main_items():
        if item["sk"]["S"] == "PROFILE":
            values = {key: _deserializer.deserialize(value) for key, value in item.items()}
            found[values["user_id"]] = values
    return found


def _welcomes_for(aws: AwsWorld, event: dict[str, Any]) -> int:
    return sum(
        1
        for message in aws.queued_messages()
        if message.get("cause") == "welcome" and event["webhookEventId"] in message["delivery_id"]
    )


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_every_sample_has_an_expected_state_row() -> None:
    assert sorted(EXPECTED) == webhook_sample_names()


@pytest.mark.parametrize(("name", "event"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_through_the_webhook_handler(
    webhook: Any, aws: AwsWorld, lambda_context: Any, name: str, event: dict[str, Any]
) -> None:
    expect = EXPECTED[name]
    user_id = event.get("source", {}).get("userId")
    before: dict[str, Any] = {}
    if expect.after_follow:
        follow = load_event("follow")
        follow["source"] = {"type": "user", "userId": user_id}
        follow["timestamp"] = event["timestamp"] - 86_400_000
        assert _send(webhook, lambda_context, follow)["statusCode"] == 200
        before = _friends(aws)[user_id]

    response = _send(webhook, lambda_context, event)

    assert response["statusCode"] == 200, response
    assert response_json(response) == {
        "applied": expect.applied,
        "duplicates": 0,
        "skipped": expect.skipped,
    }
    assert _welcomes_for(aws, event) == expect.welcomes
    friends = _friends(aws)
    if expect.friend == "none":
        assert friends == {}
        return
    assert set(friends) == {user_id}
    friend = friends[user_id]
    if expect.friend == "followed":
        assert friend["status"] == "active"
        assert _time(friend["first_followed_at"]) == _at(event)
        assert _time(friend["last_followed_at"]) == _at(event)
        assert _time(friend["last_interaction_at"]) == _at(event)
        assert "blocked_at" not in friend
    elif expect.friend == "blocked":
        assert friend["status"] == "blocked"
        assert _time(friend["blocked_at"]) == _at(event)
        # status and status_at (when the status last changed) move; the rest stays.
        kept = {k: v for k, v in before.items() if k not in ("status", "status_at")}
        assert _time(friend["status_at"]) == _at(event)
        assert {key: friend.get(key) for key in kept} == kept, "unfollow keeps the data"
    else:
        assert friend["status"] == "active"
        assert _time(friend["last_interaction_at"]) == _at(event)


def test_samples_in_one_request_apply_independently(
    webhook: Any, aws: AwsWorld, lambda_context: Any
) -> None:
    """All samples in one body (as LINE may batch them): every one applied, none skipped."""
    events = [copy.deepcopy(event) for _, event in SAMPLES]
    events.sort(key=lambda event: event["timestamp"])
    assert callback_errors(callback_request(*events)) == []
    response = _send(webhook, lambda_context, *events)
    assert response["statusCode"] == 200, response
    assert response_json(response) == {"applied": len(events), "duplicates": 0, "skipped": 0}
