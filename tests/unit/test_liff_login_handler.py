"""/liff/login under bad input: a 4xx in the admin API's error shape, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld


def login(body: bytes | str, content_type: str = "application/json") -> tuple[int, Any]:
    handler = load_handler("liff_login")
    event = http_event(
        "POST",
        "/liff/login",
        route="/liff/login",
        body=body,
        headers={"content-type": content_type},
    )
    response = handler.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"channelId": "\xff\xfe", "idToken": "x"}', "not UTF-8"),
        (b"\x80" * 10, "not UTF-8"),
        ('{"a": ' * 1_000 + "1" + "}" * 1_000, "deeper than 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "deeper than 64 levels"),
    ],
)
def test_unreadable_bodies_are_400_with_a_reason(body: bytes | str, reason: str) -> None:
    status, answer = login(body)

    assert status == 400, answer
    assert reason in answer["message"]
    assert answer["field"] == "body"


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (json.dumps({"channelId": CHANNEL_ID}), "idToken"),
        ('{"idToken": "x"}', "channelId"),
        (json.dumps({"channelId": CHANNEL_ID, "idToken": ""}), "idToken"),
        ('"not an object"', "body"),
    ],
)
def test_invalid_requests_are_422_in_the_admin_api_error_shape(body: str, field: str) -> None:
    status, answer = login(body)

    assert status == 422, answer
    assert answer["field"] == field
    assert answer["message"].startswith(f"invalid request: {field}")
    assert "statusCode" not in answer and "detail" not in answer


@pytest.mark.usefixtures("aws")
def test_a_body_that_is_not_json_is_415() -> None:
    status, answer = login("channelId=1", content_type="text/plain")
    assert status == 415, answer
    assert answer["field"] == "body"


def test_an_unknown_channel_is_404_naming_the_field(aws: AwsWorld) -> None:
    status, answer = login('{"channelId": "404404404", "idToken": "x"}')
    assert status == 404, answer
    assert answer == {"message": "unknown channel", "field": "channelId", "errors": []}


@pytest.mark.usefixtures("aws")
def test_a_method_no_route_serves_is_404_in_the_error_shape() -> None:
    handler = load_handler("liff_login")
    # (GET /liff/<anything> is a LIFF page: see test_liff_pages.py.)
    event = http_event("DELETE", "/liff/login", route="/liff/login", headers={})
    response = handler.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 404
    assert response_json(response) == {
        "message": "no such route: DELETE /liff/login",
        "field": None,
        "errors": [],
    }
