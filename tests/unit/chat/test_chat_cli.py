"""``linecrm chat …``: what each command sends (no server), and who a reply names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from linecrm.admin import staff
from linecrm.admin.staff import identity_from_authorizer, staff_display
from linecrm_local import admin_cli, cli
from linecrm_local.admin_cli import AdminApiClient, AdminCliError
from tests.unit.test_admin_cli import RecordingSession

USER = "U" + "e" * 32
_INIT = AdminApiClient.__init__


def run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> list[Any]:
    session = RecordingSession()

    def with_session(self: AdminApiClient, *args: Any, **kwargs: Any) -> None:
        _INIT(self, *args, **{**kwargs, "session": session})

    monkeypatch.setattr(AdminApiClient, "__init__", with_session)
    admin_cli.run(cli.build_parser().parse_args(list(argv)))
    return session.sent


def test_reply_sends_the_text_and_an_idempotency_key(monkeypatch: pytest.MonkeyPatch) -> None:
    (sent,) = run(monkeypatch, "chat", "reply", USER, "はい", "--staff", "田中")
    assert sent.method == "POST"
    assert sent.url is not None and sent.url.endswith(f"/chat/conversations/{USER}/replies")
    assert sent.headers["Idempotency-Key"]
    assert json.loads(sent.body or b"{}") == {"text": "はい", "staff": "田中"}


def test_show_with_read_marks_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    page, read = run(monkeypatch, "chat", "show", USER, "--read", "--limit", "5")
    assert page.method == "GET" and "limit=5" in str(page.url)
    assert read.method == "POST" and str(read.url).endswith(f"/chat/conversations/{USER}/read")


def test_inbox_and_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    (inbox,) = run(monkeypatch, "chat", "inbox", "--filter", "needs_reply")
    assert "filter=needs_reply" in str(inbox.url)
    (added,) = run(monkeypatch, "chat", "templates", "add", "お礼", "ありがとう")
    assert added.method == "POST"
    assert json.loads(added.body or b"{}") == {"name": "お礼", "text": "ありがとう"}
    (listed,) = run(monkeypatch, "chat", "templates")
    assert listed.method == "GET" and str(listed.url).endswith("/chat/templates")


def test_wrong_arguments_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AdminCliError, match="text or --template"):
        run(monkeypatch, "chat", "reply", USER)
    with pytest.raises(AdminCliError, match="add NAME TEXT"):
        run(monkeypatch, "chat", "templates", "add", "only-a-name")


def _as(authorizer: dict[str, Any], named: str | None) -> str:
    token = staff._CALLER.set(identity_from_authorizer(authorizer))
    try:
        return staff_display(named)
    finally:
        staff._CALLER.reset(token)


def test_a_reply_names_the_signed_in_staff_member_else_the_machine_callers_choice() -> None:
    jwt = {
        "jwt": {
            "claims": {
                "email": "operator@demo.linecrm.local",
                "sub": "s-1",
                "cognito:groups": "[operator]",
            }
        }
    }
    assert _as(jwt, "ignored") == "operator@demo.linecrm.local"
    iam = {"iam": {"callerId": "local-admin"}}
    assert _as(iam, "田中") == "田中"
    assert _as(iam, None) == "local-admin"
