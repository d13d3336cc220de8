"""The webhook under hostile bodies, redelivery and concurrency (the real handler, moto).

test_webhook_handler.py covers bad signatures, small malformed bodies and a redelivered
follow's welcome; test_webhook_fuzz.py mutates small signed bodies. Here: bodies of a
megabyte and more, broken encodings and shapes, what a redelivery writes, two
invocations racing on one friend, and the order of events inside one request.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from linecrm.repositories.channel_config import ChannelConfigRepository
from tests.support.events import load_event
from tests.support.lambda_support import FakeLambdaContext, load_handler, response_json
from tests.support.webhook_spec import callback_request
from tests.unit.conftest import CHANNEL_ID, WELCOME, AwsWorld, webhook_request

MEGABYTE = 1024 * 1024
FRIEND_ITEM_KEYS = {
    "channel_id",
    "user_id",
    "status",
    "first_followed_at",
    "last_followed_at",
    "last_interaction_at",
}
_deserializer = TypeDeserializer()


@pytest.fixture
def webhook(aws: AwsWorld) -> Any:
    ChannelConfigRepository(
        aws.client("dynamodb"), aws.resources.table_names["Main"]
    ).set_welcome_messages(CHANNEL_ID, WELCOME)
    return load_handler("webhook")


def invoke(webhook: Any, body: bytes, **request: Any) -> dict[str, Any]:
    response: dict[str, Any] = webhook.lambda_handler(
        webhook_request(body, **request), FakeLambdaContext()
    )
    return response


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps(callback_request(*events), ensure_ascii=False).encode()


def user_event(name: str, user_id: str, timestamp: int, event_id: str) -> dict[str, Any]:
    """A sample from tests/events/webhook for ``user_id``, at ``timestamp``, with its own id."""
    event = load_event(name)
    event["source"] = {"type": "user", "userId": user_id}
    event["timestamp"] = timestamp
    event["webhookEventId"] = event_id
    return event


def event_id(n: int) -> str:
    return f"01KAMZROBUST{n:014d}"


def user_id(n: int) -> str:
    return f"U{n:032x}"


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)


def friends(aws: AwsWorld) -> dict[str, dict[str, Any]]:
    found = {}
    for item in aws.main_items():
        if item["sk"]["S"] == "PROFILE":
            values = {key: _deserializer.deserialize(value) for key, value in item.items()}
            found[values["user_id"]] = values
    return found


def state(aws: AwsWorld) -> dict[str, Any]:
    """Everything a webhook can change: main table, idempotency table, queue."""
    dynamodb = aws.client("dynamodb")
    idempotency = aws.resources.table_names["Idempotency"]
    return {
        "main": aws.main_items(),
        "idempotency": dynamodb.scan(TableName=idempotency)["Items"],
        "queued": aws.queued_messages(),
    }


@pytest.fixture
def untouched(webhook: Any, aws: AwsWorld) -> dict[str, Any]:
    """The state before the test's requests (channel settings only)."""
    return state(aws)


# ---------------------------------------------------------------- hostile bodies
def _garbage(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _text_garbage(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    alphabet = '{}[]":,0123456789abcdefあいう\\ \n'
    return "".join(rng.choice(alphabet) for _ in range(size)).encode()


def test_megabyte_of_random_bytes_unsigned_is_401(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any]
) -> None:
    body = _garbage(MEGABYTE + 12_345, seed=1)
    for signature in (None, "", "not-base64!", "A" * 44):
        response = invoke(webhook, body, secret=None, signature=signature)
        assert response["statusCode"] == 401, response
    assert state(aws) == untouched


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_garbage(MEGABYTE + 1, seed=2), id="random-bytes"),
        pytest.param(_text_garbage(MEGABYTE + 7, seed=3), id="random-json-ish-text"),
        pytest.param(b"\x00" * (MEGABYTE + 3), id="nul-bytes"),
        pytest.param(
            json.dumps({"destination": "U" + "0" * 32, "events": "x" * MEGABYTE}).encode(),
            id="megabyte-string-as-events",
        ),
        pytest.param(
            json.dumps({"destination": "U" * MEGABYTE, "events": []}).encode(),
            id="megabyte-destination",
        ),
    ],
)
def test_megabyte_of_signed_garbage_is_400(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any], body: bytes
) -> None:
    response = invoke(webhook, body)
    assert response["statusCode"] == 400, response
    assert state(aws) == untouched


def test_megabyte_of_signed_unknown_events_is_200_and_skipped(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any]
) -> None:
    """LINE may add event types: a large batch of them is read and skipped, not refused."""
    unknown = [
        {"type": "someFutureEvent", "payload": "x" * 1000, "webhookEventId": event_id(n)}
        for n in range(1100)
    ]
    body = body_of(*unknown)
    assert len(body) > MEGABYTE
    response = invoke(webhook, body)
    assert response["statusCode"] == 200, response
    assert response_json(response) == {"applied": 0, "duplicates": 0, "skipped": len(unknown)}
    assert state(aws) == untouched


@pytest.mark.parametrize(
    "body",
    [
        # Valid JSON around an invalid UTF-8 sequence inside a string.
        pytest.param(
            body_of(load_event("message_text")).replace("こんにちは".encode(), b"\xc3\x28"),
            id="invalid-continuation-byte",
        ),
        pytest.param(
            body_of(load_event("message_text")).replace("こんにちは".encode(), b"\xe3\x81"),
            id="truncated-sequence",
        ),
        pytest.param(
            body_of(load_event("message_text")).replace("こんにちは".encode(), b"\xc0\xaf"),
            id="overlong-encoding",
        ),
        pytest.param(
            body_of(load_event("follow")).replace(b'"follow"', b'"fol\xfflow"', 1),
            id="invalid-byte-in-event-type",
        ),
    ],
)
def test_signed_invalid_utf8_is_400_without_state_change(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any], body: bytes
) -> None:
    response = invoke(webhook, body)
    assert response["statusCode"] == 400, response
    assert state(aws) == untouched


def test_signed_lone_surrogate_is_never_a_server_error(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any]
) -> None:
    """CESU-8 surrogates decode under json's surrogatepass; the answer must stay 2xx/4xx."""
    event = load_event("message_text")
    body = body_of(event).replace("こんにちは".encode(), b"\xed\xa0\x80")
    response = invoke(webhook, body)
    assert response["statusCode"] in (200, 400), response
    if response["statusCode"] == 400:
        assert state(aws) == untouched


@pytest.mark.parametrize(
    "document", ["null", '"events"', "42", "-1.5e308", "true", "[]", '[{"events": []}]']
)
def test_signed_json_that_is_not_an_object_is_400(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any], document: str
) -> None:
    response = invoke(webhook, document.encode())
    assert response["statusCode"] == 400, response
    assert "JSON object" in response_json(response)["message"]
    assert state(aws) == untouched


@pytest.mark.parametrize(
    "events",
    [None, "events", 42, True, {"0": {"type": "follow"}}, "[]"],
    ids=["null", "string", "number", "bool", "object", "json-in-a-string"],
)
def test_signed_events_that_is_not_a_list_is_400(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any], events: Any
) -> None:
    body = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
    response = invoke(webhook, body)
    assert response["statusCode"] == 400, response
    assert "events" in response_json(response)["message"]
    assert state(aws) == untouched


def test_signed_deeply_nested_json_is_400(
    webhook: Any, aws: AwsWorld, untouched: dict[str, Any]
) -> None:
    depth = 100_000
    response = invoke(webhook, b"[" * depth + b"]" * depth)
    assert response["statusCode"] == 400, response
    assert state(aws) == untouched


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda e: e.update(timestamp=10**16),
            id="timestamp-past-year-9999",
        ),
        pytest.param(
            lambda e: e["source"].update(userId=""),
            id="empty-user-id",
        ),
    ],
)
def test_signed_event_linecrm_cannot_apply_is_skipped_not_5xx(
    webhook: Any, aws: AwsWorld, change: Callable[[dict[str, Any]], None]
) -> None:
    """One unusable event must not fail the request: LINE would redeliver it forever."""
    good = user_event("follow", user_id(1), 1763888400000, event_id(1))
    bad = load_event("message_text")
    change(bad)
    response = invoke(webhook, body_of(bad, good))
    assert response["statusCode"] == 200, response
    assert set(friends(aws)) == {user_id(1)}


@pytest.mark.parametrize(
    "bad_user_id",
    [
        "not-a-user",
        "../../U" + "0" * 32,
        "U" + "0" * 31,
        "U" + "A" * 32,  # LINE's hex is lower case
        "U" + "0" * 32 + "\n",
        "U" + "0" * 33,
    ],
)
def test_events_with_user_ids_not_in_line_format_are_skipped_and_counted(
    webhook: Any,
    aws: AwsWorld,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    bad_user_id: str,
) -> None:
    good = user_event("follow", user_id(1), 1763888400000, event_id(1))
    bad = user_event("follow", bad_user_id, 1763888400000, event_id(2))

    response = invoke(webhook, body_of(bad, good))

    assert response["statusCode"] == 200, response
    assert response_json(response) == {"applied": 1, "duplicates": 0, "skipped": 1}
    assert set(friends(aws)) == {user_id(1)}
    assert [line["reason"] for line in log_lines(caplog)] == ["invalid_user_id"]
    assert '"WebhookEventsSkippedInvalidUserId":[1.0]' in capsys.readouterr().out  # EMF metric


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda e: e.update(webhookEventId="01KAMZ\ud800SURROGATE0000"), id="event-id"),
        pytest.param(lambda e: e["source"].update(userId="U\ud800" + "0" * 31), id="user-id"),
        pytest.param(lambda e: e.update(type="\udfff"), id="type"),
        pytest.param(lambda e: e["message"].update(text="\ud83d"), id="text"),
    ],
)
def test_unpaired_surrogates_skip_the_event_and_log_cleanly(
    webhook: Any,
    aws: AwsWorld,
    caplog: pytest.LogCaptureFixture,
    change: Callable[[dict[str, Any]], None],
) -> None:
    """JSON may escape an unpaired surrogate; no UTF-8 log line or DynamoDB item can hold one."""
    good = user_event("follow", user_id(1), 1763888400000, event_id(1))
    bad = user_event("message_text", user_id(2), 1763888400000, event_id(2))
    change(bad)
    body = json.dumps(callback_request(bad, good)).encode()  # ASCII, with \ud800 escapes

    response = invoke(webhook, body)

    assert response["statusCode"] == 200, response
    assert response_json(response)["skipped"] == 1
    assert set(friends(aws)) == {user_id(1)}
    assert [line["reason"] for line in log_lines(caplog)] == ["invalid_text"]


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The warnings as the function's log handler writes them, encoded strictly as UTF-8
    (as a Lambda's stdout is; pytest's capture would replace what cannot be encoded)."""
    from linecrm.observability import logger

    formatter = logger.registered_handler.formatter
    assert formatter is not None
    lines = [
        formatter.format(r).encode("utf-8") for r in caplog.records if r.levelname == "WARNING"
    ]
    return [json.loads(line) for line in lines]


# ---------------------------------------------------------------- redelivery
class FriendWrites:
    """DynamoDB writes that touch a friend partition, seen on one handler's client."""

    OPERATIONS = frozenset(
        {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
    )

    def __init__(self, webhook: Any) -> None:
        self.calls: list[str] = []
        webhook.container().dynamodb.meta.events.register(
            "provide-client-params.dynamodb", self._record
        )

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in self.OPERATIONS and "#FRIEND#" in json.dumps(params, default=str):
            self.calls.append(model.name)

    def take(self) -> list[str]:
        taken, self.calls = self.calls, []
        return taken


@pytest.mark.parametrize("sample", ["follow", "message_text", "postback", "unfollow"])
def test_event_delivered_three_times_is_applied_once(
    webhook: Any, aws: AwsWorld, sample: str
) -> None:
    writes = FriendWrites(webhook)
    event = user_event(sample, user_id(7), 1763888400000, event_id(7))
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}

    first = invoke(webhook, body_of(event))
    assert response_json(first) == {"applied": 1, "duplicates": 0, "skipped": 0}
    assert writes.take(), "the first delivery writes the friend"
    after_first = friends(aws)

    for _ in range(2):
        again = invoke(webhook, body_of(redelivered))
        assert again["statusCode"] == 200, again
        assert response_json(again) == {"applied": 0, "duplicates": 1, "skipped": 0}
    assert writes.take() == [], "a redelivery must not write the friend again"
    assert friends(aws) == after_first
    welcomes = [m for m in aws.queued_messages() if m.get("cause") == "welcome"]
    assert len(welcomes) == (1 if sample == "follow" else 0)


# ---------------------------------------------------------------- concurrency
class FriendWriteGate:
    """Holds each invocation at its first friend write until the other one gets there.

    Lambda runs one invocation per process, but two threads here share one process, and
    Powertools' resolver keeps the current event on the ``BaseRouter`` class: a second
    invocation entering ``resolve`` would swap the first one's body and signature under
    it. So the second invocation starts only once the first holds at its first write
    (its request is read by then), and both writes are then released together.
    """

    def __init__(self, *handlers: Any) -> None:
        self._barrier = threading.Barrier(len(handlers))
        self._arrived = threading.Semaphore(0)
        self._local = threading.local()
        for handler in handlers:
            handler.container().dynamodb.meta.events.register(
                "provide-client-params.dynamodb", self._hold
            )

    def _hold(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if getattr(self._local, "held", True) or model.name not in FriendWrites.OPERATIONS:
            return
        if "#FRIEND#" in json.dumps(params, default=str):
            self._local.held = True
            self._arrived.release()
            self._barrier.wait(timeout=60)

    def invoke(self, handler: Any, event: dict[str, Any]) -> dict[str, Any]:
        self._local.held = False
        try:
            response: dict[str, Any] = handler.lambda_handler(event, FakeLambdaContext())
        finally:
            self._local.held = True
        return response

    def race(self, first: tuple[Any, bytes], second: tuple[Any, bytes]) -> list[dict[str, Any]]:
        """Both invocations, each in its own thread, writing the friend at the same time."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            one = pool.submit(self.invoke, first[0], webhook_request(first[1]))
            # Generous: a cold handler reaches its first write slowly on a busy machine.
            assert self._arrived.acquire(timeout=60), one.result(timeout=60)
            two = pool.submit(self.invoke, second[0], webhook_request(second[1]))
            return [one.result(timeout=120), two.result(timeout=120)]


@pytest.fixture
def gate(atomic_aws: AwsWorld, webhook: Any) -> tuple[FriendWriteGate, Any, Any]:
    """Two handler modules (two warm Lambda environments) behind one gate."""
    other = load_handler("webhook")
    return FriendWriteGate(webhook, other), webhook, other


ROUNDS = 8
T0 = 1763888400000


def test_follow_racing_a_message_for_the_same_friend(
    atomic_aws: AwsWorld, gate: tuple[FriendWriteGate, Any, Any]
) -> None:
    writes, first, second = gate
    for n in range(ROUNDS):
        user = user_id(100 + n)
        follow = user_event("follow", user, T0, event_id(2 * n))
        text = user_event("message_text", user, T0 + 5_000, event_id(2 * n + 1))
        # Alternate which environment gets which event.
        pair = [(first, body_of(follow)), (second, body_of(text))]
        responses = writes.race(*(pair if n % 2 else pair[::-1]))
        for response in responses:
            assert response["statusCode"] == 200, response
            assert response_json(response) == {"applied": 1, "duplicates": 0, "skipped": 0}

    everyone = friends(atomic_aws)
    assert set(everyone) == {user_id(100 + n) for n in range(ROUNDS)}
    for friend in everyone.values():
        assert set(friend) >= FRIEND_ITEM_KEYS, "no attribute lost"
        assert friend["status"] == "active"
        assert "blocked_at" not in friend
        assert datetime.fromisoformat(friend["first_followed_at"]) == at(T0)
        assert datetime.fromisoformat(friend["last_followed_at"]) == at(T0)
        # Which write lands last is a race today (see the ordered test below).
        assert datetime.fromisoformat(friend["last_interaction_at"]) in (at(T0), at(T0 + 5_000))
    welcomes = [m for m in atomic_aws.queued_messages() if m.get("cause") == "welcome"]
    assert len(welcomes) == ROUNDS


def test_two_follows_racing_for_the_same_friend(
    atomic_aws: AwsWorld, gate: tuple[FriendWriteGate, Any, Any]
) -> None:
    writes, first, second = gate
    for n in range(ROUNDS):
        user = user_id(200 + n)
        early = user_event("follow", user, T0, event_id(100 + 2 * n))
        late = user_event("follow_unblocked", user, T0 + 60_000, event_id(100 + 2 * n + 1))
        pair = [(first, body_of(early)), (second, body_of(late))]
        responses = writes.race(*(pair if n % 2 else pair[::-1]))
        for response in responses:
            assert response["statusCode"] == 200, response
            assert response_json(response) == {"applied": 1, "duplicates": 0, "skipped": 0}

    everyone = friends(atomic_aws)
    assert len(everyone) == ROUNDS, "one friend item per user"
    for friend in everyone.values():
        assert set(friend) >= FRIEND_ITEM_KEYS, "no attribute lost"
        assert friend["status"] == "active"
        assert "blocked_at" not in friend
        times = (at(T0), at(T0 + 60_000))
        assert datetime.fromisoformat(friend["first_followed_at"]) in times
        assert datetime.fromisoformat(friend["last_followed_at"]) in times


def test_follows_arriving_out_of_order_keep_the_earliest_first_followed_at(
    webhook: Any, aws: AwsWorld
) -> None:
    user = user_id(300)
    early = user_event("follow", user, T0, event_id(300))
    late = user_event("follow_unblocked", user, T0 + 60_000, event_id(301))
    invoke(webhook, body_of(late))  # e.g. the early one was answered 503 and redelivered
    invoke(webhook, body_of(early))
    friend = friends(aws)[user]
    assert datetime.fromisoformat(friend["first_followed_at"]) == at(T0)
    assert datetime.fromisoformat(friend["last_followed_at"]) == at(T0 + 60_000)


def test_last_interaction_never_moves_backwards(webhook: Any, aws: AwsWorld) -> None:
    user = user_id(301)
    follow = user_event("follow", user, T0, event_id(310))
    text = user_event("message_text", user, T0 + 5_000, event_id(311))
    invoke(webhook, body_of(text))
    invoke(webhook, body_of(follow))
    friend = friends(aws)[user]
    assert datetime.fromisoformat(friend["last_interaction_at"]) == at(T0 + 5_000)


# ---------------------------------------------------------------- order inside a request
@pytest.mark.parametrize(
    ("names", "status"),
    [
        (["follow", "unfollow"], "blocked"),
        (["unfollow", "follow"], "active"),
        (["follow", "unfollow", "follow_unblocked"], "active"),
        (["follow", "message_text", "unfollow"], "blocked"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, list) else value,
)
def test_events_of_one_request_apply_in_order_per_user(
    webhook: Any, aws: AwsWorld, names: list[str], status: str
) -> None:
    user = user_id(400)
    other = user_id(401)
    events = []
    for n, name in enumerate(names):
        events.append(user_event(name, user, T0 + n * 1_000, event_id(400 + 2 * n)))
        # Another user's follow between each: order is per user, not per request.
        events.append(user_event("follow", other, T0 + n * 1_000 + 1, event_id(401 + 2 * n)))

    response = invoke(webhook, body_of(*events))

    assert response["statusCode"] == 200, response
    assert response_json(response) == {"applied": len(events), "duplicates": 0, "skipped": 0}
    friend = friends(aws)[user]
    assert friend["status"] == status
    assert ("blocked_at" in friend) == (status == "blocked")
    first_follow = next(n for n, name in enumerate(names) if name.startswith("follow"))
    assert datetime.fromisoformat(friend["first_followed_at"]) == at(T0 + first_follow * 1_000)
    assert friends(aws)[other]["status"] == "active"
