"""The admin commands of the ``linecrm`` CLI without a server: options, auth, errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from linecrm_local import admin_cli, cli
from linecrm_local.admin_cli import AdminApiClient, AdminCliError
from linecrm_local.demo import DEMO_ADMIN_TOKEN

API = "https://abc123defg.execute-api.ap-northeast-1.amazonaws.com"


class RecordingSession(requests.Session):
    """Answers every request with ``status``/``body`` and keeps what was sent."""

    def __init__(self, status: int = 200, body: bytes = b"{}") -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.status = status
        self.body = body

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.headers["Content-Type"] = "application/json"
        return response


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_bearer_token_locally() -> None:
    session = RecordingSession()
    client = AdminApiClient("http://127.0.0.1:8080/", "2000000001", token="t0k", session=session)
    client.call("GET", "/friends", params={"tag": "vip", "cursor": None})
    (sent,) = session.sent
    assert sent.url == "http://127.0.0.1:8080/admin/channels/2000000001/friends?tag=vip"
    assert sent.headers["Authorization"] == "Bearer t0k"


@pytest.mark.usefixtures("aws_credentials")
def test_sigv4_signs_for_execute_api_in_the_apis_region() -> None:
    session = RecordingSession()
    client = AdminApiClient(API, "2000000001", token="ignored", sigv4=True, session=session)
    client.call("PATCH", "/friends/U1", {"add_tags": ["VIP"]})
    (sent,) = session.sent
    authorization = sent.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    # The region comes from the API's host name, not from AWS_REGION.
    assert "/ap-northeast-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=" in authorization and "host" in authorization
    assert "X-Amz-Date" in sent.headers
    assert "ignored" not in authorization


@pytest.mark.usefixtures("aws_credentials")
def test_sigv4_uses_the_sessions_region_for_a_custom_domain() -> None:
    session = RecordingSession()
    AdminApiClient("https://crm.example.com", "1", sigv4=True, session=session).call("GET", "/tags")
    assert "/us-east-1/execute-api/" in session.sent[0].headers["Authorization"]


def test_sigv4_without_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    client = AdminApiClient(API, "1", sigv4=True, session=RecordingSession())
    with pytest.raises(AdminCliError, match="no AWS credentials"):
        client.call("GET", "/tags")


@pytest.mark.parametrize(
    ("status", "body", "sigv4", "expected"),
    [
        (401, b'{"message": "Unauthorized"}', False, "LINECRM_ADMIN_TOKEN"),
        (403, b'{"message": "Forbidden"}', False, "wrong admin token"),
        (403, b'{"message": "Forbidden"}', True, "execute-api:Invoke"),
        (422, b'{"message": "unknown tag(s): x", "field": "add_tags"}', False, "(field add_tags)"),
        (500, b"Internal Server Error", False, "500: Internal Server Error"),
    ],
)
def test_api_errors_become_one_line(status: int, body: bytes, sigv4: bool, expected: str) -> None:
    client = AdminApiClient("http://x", "1", token="t", session=RecordingSession(status, body))
    message = admin_cli.describe_error(status, _json_or_text(body), sigv4=sigv4)
    assert expected in message
    assert "\n" not in message
    with pytest.raises(AdminCliError):
        client.call("GET", "/tags")


class ScriptedSession(requests.Session):
    """Answers with ``answers`` (status, headers) in order and keeps what was sent."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.answers = list(answers)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        status, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = b'{"message": "m", "broadcast_id": "b1"}'
        response.headers.update({"Content-Type": "application/json", **headers})
        return response


def test_a_creating_call_sends_one_key_per_invocation_and_retries_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin_cli.time, "sleep", lambda _seconds: None)
    session = ScriptedSession((503, {}), (409, {"Retry-After": "1"}), (202, {}))
    client = AdminApiClient("http://x", "1", token="t", session=session)

    assert client.call("POST", "/broadcasts", {"name": "n"}, idempotent=True)["broadcast_id"]

    keys = [sent.headers["Idempotency-Key"] for sent in session.sent]
    assert len(keys) == 3 and len(set(keys)) == 1  # the retries reuse the key
    other = AdminApiClient("http://x", "1", token="t", session=ScriptedSession((202, {})))
    assert other.idempotency_key != keys[0]  # the next invocation has its own


def test_other_calls_send_no_key_and_are_not_retried() -> None:
    session = ScriptedSession((503, {}))
    client = AdminApiClient("http://x", "1", token="t", session=session)
    with pytest.raises(AdminCliError, match="503"):
        client.call("POST", "/broadcasts/preview", {"name": "n"})
    assert len(session.sent) == 1 and "Idempotency-Key" not in session.sent[0].headers


def test_a_409_without_retry_after_is_not_retried() -> None:
    session = ScriptedSession((409, {}))
    client = AdminApiClient("http://x", "1", token="t", session=session)
    with pytest.raises(AdminCliError, match="409"):
        client.call("POST", "/imports", {"kind": "followers"}, idempotent=True)
    assert len(session.sent) == 1


def _json_or_text(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except ValueError:
        return {"message": body.decode()}


def test_options_work_before_and_after_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINECRM_API_URL", raising=False)
    monkeypatch.delenv("LINECRM_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("LINECRM_AUTH", raising=False)
    parser = cli.build_parser()
    defaults = parser.parse_args(["friends", "list"])
    assert (defaults.api_url, defaults.token, defaults.sigv4) == (
        admin_cli.DEFAULT_API_URL,
        DEMO_ADMIN_TOKEN,
        False,
    )
    after = parser.parse_args(
        ["friends", "list", "--api-url", API, "--channel", "42", "--sigv4", "--tag", "vip"]
    )
    assert (after.api_url, after.channel, after.sigv4, after.tag) == (API, "42", True, "vip")
    before = parser.parse_args(["--api-url", API, "--channel", "42", "tags", "list"])
    assert (before.api_url, before.channel) == (API, "42")


def test_environment_chooses_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINECRM_AUTH", "sigv4")
    monkeypatch.setenv("LINECRM_API_URL", API)
    args = cli.build_parser().parse_args(["rules", "show"])
    assert (args.sigv4, args.api_url) == (True, API)


def test_usage_errors_exit_2_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["friends", "delete", "U" + "0" * 32]) == 2
    assert "--yes" in capsys.readouterr().err
    assert cli.main(["rules", "test"]) == 2
    assert "needs the message text" in capsys.readouterr().err
