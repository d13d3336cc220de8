"""The LINE client wrapper's retry and error mapping, against a fake SDK API object."""

from typing import Any

import pytest
from linebot.v3.messaging import ApiException

from linecrm.config import LineEndpoints
from linecrm.line.client import LineMessagingClient, RetryPolicy
from linecrm.line.errors import (
    LineQuotaExceeded,
    LineRateLimited,
    LineRequestRejected,
    LineTransientError,
)

TEXT = [{"type": "text", "text": "hi"}]
KEY = "0c7b2f7e-4a43-5d6e-9a3b-1c2d3e4f5a6b"


class FakeResponse:
    def __init__(self, request_id: str) -> None:
        self.status_code = 200
        self.headers = {"X-Line-Request-Id": request_id}


def api_error(status: int, body: str, headers: dict[str, str] | None = None) -> ApiException:
    error = ApiException(status=status, reason="reason")
    error.body = body.encode()
    error.headers = headers or {}
    return error


class FakeApi:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.retry_keys: list[str] = []

    def push_message_with_http_info(self, request: Any, **kwargs: Any) -> FakeResponse:
        self.retry_keys.append(kwargs["x_line_retry_key"])
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return FakeResponse(outcome)


def make_client(api: FakeApi, attempts: int = 3) -> tuple[LineMessagingClient, list[float]]:
    sleeps: list[float] = []
    client = LineMessagingClient(
        "token",
        LineEndpoints(api_base_url="http://127.0.0.1:9"),
        retry_policy=RetryPolicy(max_attempts=attempts, base_seconds=1.0),
        sleep=sleeps.append,
        jitter=lambda: 1.0,
    )
    client._api = api
    return client, sleeps


def test_push_returns_line_request_id() -> None:
    client, _ = make_client(FakeApi(["req-1"]))
    receipt = client.push("U1", TEXT, KEY)
    assert receipt.request_id == "req-1"
    assert not receipt.already_accepted


def test_transient_errors_are_retried_with_the_same_key_and_backoff() -> None:
    api = FakeApi([api_error(500, "{}"), api_error(503, "{}"), "req-3"])
    client, sleeps = make_client(api)
    assert client.push("U1", TEXT, KEY).request_id == "req-3"
    assert api.retry_keys == [KEY, KEY, KEY]
    assert sleeps == [1.0, 2.0]


def test_transport_timeouts_are_transient() -> None:
    from urllib3.exceptions import ReadTimeoutError

    api = FakeApi([ReadTimeoutError(None, "/v2/bot/message/push", "read timed out"), "req-2"])
    client, _ = make_client(api)
    assert client.push("U1", TEXT, KEY).request_id == "req-2"


def test_gives_up_after_max_attempts() -> None:
    api = FakeApi([api_error(500, "{}")] * 3)
    client, _ = make_client(api)
    with pytest.raises(LineTransientError):
        client.push("U1", TEXT, KEY)
    assert len(api.retry_keys) == 3


def test_409_with_accepted_request_id_means_sent_before() -> None:
    conflict = api_error(
        409,
        '{"message":"The retry key is already accepted"}',
        {"x-line-accepted-request-id": "first-req"},
    )
    client, _ = make_client(FakeApi([conflict]))
    receipt = client.push("U1", TEXT, KEY)
    assert receipt.already_accepted
    assert receipt.request_id == "first-req"


def test_400_is_rejected_at_once_with_lines_details() -> None:
    body = (
        '{"message":"The request body has 1 error(s)","details":[{"property":"messages[0].text"}]}'
    )
    api = FakeApi([api_error(400, body)])
    client, _ = make_client(api)
    with pytest.raises(LineRequestRejected, match=r"messages\[0\]\.text"):
        client.push("U1", TEXT, KEY)
    assert len(api.retry_keys) == 1


def test_429_rate_limit_and_monthly_quota_are_told_apart() -> None:
    rate = api_error(429, '{"message":"The API rate limit has been exceeded. Try again later."}')
    quota = api_error(429, '{"message":"You have reached your monthly limit."}')
    client, _ = make_client(FakeApi([rate, quota]))
    with pytest.raises(LineRateLimited):
        client.push("U1", TEXT, KEY)
    with pytest.raises(LineQuotaExceeded):
        client.push("U1", TEXT, KEY)


# ---------------------------------------------------------------- token rotation
class TokenSource:
    """Secrets Manager as the client sees it: the current token, reads counted."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.reads = 0

    def __call__(self) -> str:
        self.reads += 1
        return self.token


class TokenCheckingApi(FakeApi):
    """LINE: only the valid token is accepted (401 otherwise)."""

    def __init__(self, token: str, valid: dict[str, str]) -> None:
        super().__init__([])
        self.token = token
        self.valid = valid

    def push_message_with_http_info(self, request: Any, **kwargs: Any) -> FakeResponse:
        self.retry_keys.append(kwargs["x_line_retry_key"])
        if self.token != self.valid["token"]:
            raise api_error(401, '{"message":"Authentication failed."}')
        return FakeResponse(f"req-{self.token}")


def rotating_client(
    source: TokenSource, valid: dict[str, str], now: list[float]
) -> tuple[LineMessagingClient, list[TokenCheckingApi]]:
    built: list[TokenCheckingApi] = []

    def factory(token: str) -> TokenCheckingApi:
        built.append(TokenCheckingApi(token, valid))
        return built[-1]

    client = LineMessagingClient(
        "old",
        LineEndpoints(api_base_url="http://127.0.0.1:9"),
        sleep=lambda _s: None,
        reload_token=source,
        monotonic=lambda: now[0],
        api_factory=factory,
    )
    return client, built


def test_a_401_after_rotation_reloads_the_token_once_and_retries() -> None:
    valid = {"token": "old"}
    source = TokenSource("old")
    client, built = rotating_client(source, valid, [0.0])
    assert client.push("U1", TEXT, KEY).request_id == "req-old"

    valid["token"] = source.token = "new"  # rotated in LINE and in Secrets Manager
    assert client.push("U1", TEXT, KEY).request_id == "req-new"

    assert source.reads == 1 and client.access_token == "new"
    assert [api.token for api in built] == ["old", "new"]
    assert built[0].retry_keys == [KEY, KEY] and built[1].retry_keys == [KEY]  # same key


def test_a_401_that_a_reload_cannot_fix_is_auth_failed_and_reloads_are_spaced() -> None:
    from linecrm.line.client import TOKEN_RELOAD_MIN_INTERVAL_SECONDS
    from linecrm.line.errors import LineAuthFailed

    valid = {"token": "newer"}  # LINE has a token that Secrets Manager does not have yet
    source = TokenSource("old")
    now = [0.0]
    client, built = rotating_client(source, valid, now)

    with pytest.raises(LineAuthFailed, match="401") as failed:
        client.push("U1", TEXT, KEY)
    assert isinstance(failed.value, LineRequestRejected)
    assert source.reads == 1 and len(built[0].retry_keys) == 1  # no in-process retry
    with pytest.raises(LineAuthFailed):
        client.push("U1", TEXT, KEY)
    assert source.reads == 1  # within the interval: no second read

    now[0] += TOKEN_RELOAD_MIN_INTERVAL_SECONDS
    source.token = "newer"
    assert client.push("U1", TEXT, KEY).request_id == "req-newer"
    assert source.reads == 2


def test_without_a_token_source_a_401_is_final() -> None:
    from linecrm.line.errors import LineAuthFailed

    client, _ = make_client(FakeApi([api_error(401, "{}")]))
    with pytest.raises(LineAuthFailed):
        client.push("U1", TEXT, KEY)
