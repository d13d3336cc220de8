"""The webhook handler end to end on moto: authenticate, parse, apply once, queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm_local.aws_calls import count_aws_calls
from tests.support.lambda_support import load_handler, response_json
from tests.support.signing import line_event, sign, webhook_body
from tests.unit.conftest import CHANNEL_ID, WELCOME, AwsWorld, webhook_request

USER = "U" + "a" * 32


@pytest.fixture
def webhook(aws: AwsWorld) -> Any:
    ChannelConfigRepository(
        aws.client("dynamodb"), aws.resources.table_names["Main"]
    ).set_welcome_messages(CHANNEL_ID, WELCOME)
    return load_handler("webhook")


def invoke(webhook: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = webhook.lambda_handler(event, context)
    return response


def state_items(aws: AwsWorld) -> list[dict[str, Any]]:
    """Everything in the main table but the channel settings the fixture wrote."""
    return [i for i in aws.main_items() if i["sk"]["S"] != "SETTINGS"]


def friend_items(aws: AwsWorld) -> list[dict[str, Any]]:
    return [i for i in aws.main_items() if i["sk"]["S"] == "PROFILE"]


def test_verification_request_with_no_events_answers_200(webhook, aws, lambda_context) -> None:
    response = invoke(webhook, webhook_request(webhook_body()), lambda_context)
    assert response["statusCode"] == 200
    assert state_items(aws) == []


def test_follow_creates_friend_and_queues_welcome_once(webhook, aws, lambda_context) -> None:
    follow = line_event("follow", USER)
    response = invoke(webhook, webhook_request(webhook_body(follow)), lambda_context)
    assert response["statusCode"] == 200
    assert response_json(response)["applied"] == 1

    friends = friend_items(aws)
    assert len(friends) == 1
    assert friends[0]["status"]["S"] == "active"
    assert friends[0]["user_id"]["S"] == USER

    queued_all = aws.queued_messages()
    assert [m for m in queued_all if m.get("kind") == "refresh_profile"] == [
        {"kind": "refresh_profile", "channel_id": CHANNEL_ID, "user_id": USER}
    ]
    queued = [m for m in queued_all if m.get("kind") == "send"]
    assert len(queued) == 1
    assert queued[0]["to"] == [USER]
    assert queued[0]["messages"] == WELCOME
    assert queued[0]["cause"] == "welcome"


def test_redelivered_event_is_applied_once(webhook, aws, lambda_context) -> None:
    follow = line_event("follow", USER)
    first = invoke(webhook, webhook_request(webhook_body(follow)), lambda_context)
    redelivered = {**follow, "deliveryContext": {"isRedelivery": True}}
    results = [
        invoke(webhook, webhook_request(webhook_body(redelivered)), lambda_context)
        for _ in range(3)
    ]
    assert response_json(first)["applied"] == 1
    assert all(response_json(r) == {"applied": 0, "duplicates": 1, "skipped": 0} for r in results)
    assert len(aws.queued_sends()) == 1


def test_unfollow_marks_blocked_and_keeps_the_friend(webhook, aws, lambda_context) -> None:
    invoke(webhook, webhook_request(webhook_body(line_event("follow", USER))), lambda_context)
    invoke(webhook, webhook_request(webhook_body(line_event("unfollow", USER))), lambda_context)
    (friend,) = friend_items(aws)
    assert friend["status"]["S"] == "blocked"
    assert "blocked_at" in friend
    assert "first_followed_at" in friend


def test_standby_follow_records_but_sends_nothing(webhook, aws, lambda_context) -> None:
    follow = line_event("follow", USER, mode="standby")
    invoke(webhook, webhook_request(webhook_body(follow)), lambda_context)
    assert len(friend_items(aws)) == 1
    assert aws.queued_sends() == []


@pytest.mark.parametrize(
    "signature",
    [None, "", "garbage", sign("another-secret-of-another-channel", b"{}")],
)
def test_bad_signature_is_401_with_no_state_change(webhook, aws, lambda_context, signature) -> None:
    body = webhook_body(line_event("follow", USER))
    event = webhook_request(body, secret=None, signature=signature)
    response = invoke(webhook, event, lambda_context)
    assert response["statusCode"] == 401
    assert state_items(aws) == []
    assert aws.queued_sends() == []


def test_unknown_channel_is_401(webhook, aws, lambda_context) -> None:
    body = webhook_body(line_event("follow", USER))
    response = invoke(webhook, webhook_request(body, channel_id="9999999999"), lambda_context)
    assert response["statusCode"] == 401
    # The one error shape of every HTTP route (the admin API's, /liff/login's).
    assert response_json(response) == {
        "message": "invalid signature",
        "field": "x-line-signature",
        "errors": [],
    }


def test_a_request_no_route_serves_is_404_in_the_error_shape(webhook, lambda_context) -> None:
    event = webhook_request(b"{}")
    event["requestContext"]["http"]["method"] = "GET"
    response = invoke(webhook, event, lambda_context)
    assert response["statusCode"] == 404
    assert response_json(response) == {
        "message": "no such route: POST /webhook/{channel_id}",
        "field": None,
        "errors": [],
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"destination": "U1", "events": {}}', "events"),
        (b'{"events": []}', "destination"),
    ],
)
def test_malformed_bodies_are_400_with_a_reason(webhook, aws, lambda_context, body, reason) -> None:
    response = invoke(webhook, webhook_request(body), lambda_context)
    assert response["statusCode"] == 400
    answer = response_json(response)
    assert reason in answer["message"]
    assert answer["field"] in ("body", reason) and answer["errors"] == []


def test_base64_encoded_body_is_verified_over_decoded_bytes(webhook, aws, lambda_context) -> None:
    body = webhook_body(
        line_event("message", USER, message={"type": "text", "id": "1", "text": "あ"})
    )
    # API Gateway base64-encodes a body whose content type is not text-like.
    request = webhook_request(body, content_type="application/octet-stream")
    assert request["isBase64Encoded"] is True
    response = invoke(webhook, request, lambda_context)
    assert response["statusCode"] == 200
    assert response_json(response)["applied"] == 1


def test_malformed_and_unknown_events_are_skipped_not_fatal(webhook, aws, lambda_context) -> None:
    good = line_event("follow", USER)
    unknown = line_event("someFutureEvent", USER)
    body = json.dumps(
        {"destination": "U0", "events": ["not an object", {"type": "message"}, unknown, good]}
    ).encode()
    response = invoke(webhook, webhook_request(body), lambda_context)
    assert response["statusCode"] == 200
    assert response_json(response) == {"applied": 2, "duplicates": 0, "skipped": 2}
    assert len(friend_items(aws)) == 1


def test_text_message_without_rule_match_costs_at_most_4_dynamodb_calls(
    webhook, aws, lambda_context
) -> None:
    invoke(webhook, webhook_request(webhook_body(line_event("follow", USER))), lambda_context)
    text = line_event("message", USER, message={"type": "text", "id": "1", "text": "hello"})
    request = webhook_request(webhook_body(text))
    with count_aws_calls() as calls:
        response = invoke(webhook, request, lambda_context)
    assert response["statusCode"] == 200
    assert 1 <= calls.count("dynamodb") <= 4, calls.by_operation()
    assert calls.count("sqs") == 0


def test_aws_failure_answers_503_and_the_redelivery_applies_it(
    webhook, aws, lambda_context, monkeypatch
) -> None:
    follow = line_event("follow", USER)
    missing = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/missing"
    monkeypatch.setenv("LINECRM_SEND_QUEUE_URL", missing)
    broken = load_handler("webhook")
    response = invoke(broken, webhook_request(webhook_body(follow)), lambda_context)
    assert response["statusCode"] == 503

    # The failed event was not marked applied: LINE's redelivery applies it once.
    monkeypatch.setenv("LINECRM_SEND_QUEUE_URL", aws.resources.queue_urls["SendQueue"])
    redelivered = {**follow, "deliveryContext": {"isRedelivery": True}}
    response = invoke(webhook, webhook_request(webhook_body(redelivered)), lambda_context)
    assert response_json(response)["applied"] == 1
    assert len(aws.queued_sends()) == 1
