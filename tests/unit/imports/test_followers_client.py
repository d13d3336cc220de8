"""The LINE client's followers ids call: paging, retries and error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from linebot.v3.messaging import ApiException, GetFollowersResponse

from linecrm.config import LineEndpoints
from linecrm.line.client import FollowersPage, LineMessagingClient, RetryPolicy
from linecrm.line.errors import LineRequestRejected

IDS = ["U" + "a" * 32, "U" + "b" * 32]


class FakeApi:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def get_followers(self, **kwargs: Any) -> GetFollowersResponse:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]


def client(api: FakeApi) -> tuple[LineMessagingClient, list[float]]:
    sleeps: list[float] = []
    line = LineMessagingClient(
        "token",
        LineEndpoints(api_base_url="http://127.0.0.1:9"),
        retry_policy=RetryPolicy(max_attempts=3, base_seconds=1.0),
        sleep=sleeps.append,
        jitter=lambda: 1.0,
    )
    line._api = api
    return line, sleeps


def error(status: int, body: str = "{}") -> ApiException:
    failure = ApiException(status=status, reason="reason")
    failure.body = body.encode()
    failure.headers = {}
    return failure


def test_pages_with_the_next_token() -> None:
    api = FakeApi(
        GetFollowersResponse(userIds=IDS[:1], next="tok"),
        GetFollowersResponse(userIds=IDS[1:]),
    )
    line, _ = client(api)
    assert line.followers_ids(limit=1) == FollowersPage(IDS[:1], "tok")
    assert line.followers_ids(start="tok", limit=1) == FollowersPage(IDS[1:], None)
    assert [(c["start"], c["limit"]) for c in api.calls] == [(None, 1), ("tok", 1)]


def test_transient_errors_are_retried() -> None:
    api = FakeApi(error(503), GetFollowersResponse(userIds=IDS))
    line, sleeps = client(api)
    assert line.followers_ids().user_ids == IDS
    assert sleeps == [1.0]


def test_an_account_without_the_followers_api_is_a_rejection() -> None:
    body = '{"message":"Access to this API is not available for your account"}'
    line, sleeps = client(FakeApi(error(403, body)))
    with pytest.raises(LineRequestRejected, match="not available for your account"):
        line.followers_ids()
    assert sleeps == []
