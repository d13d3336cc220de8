"""``linecrm shoplogin``: what each command sends, and one-line messages for mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm_local import cli
from linecrm_local.admin_cli import AdminApiClient


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    calls: list[tuple[str, str, Any]] = []

    def call(self: AdminApiClient, method: str, path: str, body: Any = None, **_: Any) -> Any:
        calls.append((method, path, body))
        return {"ok": True}

    monkeypatch.setattr(AdminApiClient, "call", call)
    return calls


def test_each_command_calls_its_admin_route(sent: list[tuple[str, str, Any]]) -> None:
    common = ["--api-url", "http://127.0.0.1:9"]
    assert (
        cli.main(
            [
                "shoplogin",
                "configure",
                *common,
                "--base-url",
                "https://s.example",
                "--allow",
                "/mypage",
                "--allow",
                "/cart/",
                "--login-path",
                "/in",
            ]
        )
        == 0
    )
    for action in ("show", "off", "keys", "rotate-keys"):
        assert cli.main(["shoplogin", action, *common]) == 0
    assert sent == [
        (
            "PUT",
            "/shop-login",
            {"base_url": "https://s.example", "allow": ["/mypage", "/cart/"], "login_path": "/in"},
        ),
        ("GET", "/shop-login", None),
        ("DELETE", "/shop-login", None),
        ("GET", "/admin/login-keys", None),
        ("POST", "/admin/login-keys/rotate", None),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["shoplogin", "consume", "T", "--api-url", "127.0.0.1:8080"],
        ["shoplogin", "show", "--api-url", "localhost"],
        ["--emulator", "127.0.0.1:8090", "shoplogin", "mint", "--user", "U1", "--target", "/"],
    ],
)
def test_a_url_without_a_scheme_is_a_one_line_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a URL" in err


def test_an_unreachable_stack_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(requests, "post", refuse)
    argv = [
        "--emulator",
        "http://127.0.0.1:9",
        "shoplogin",
        "mint",
        "--user",
        "U1",
        "--target",
        "/mypage",
        "--api-url",
        "http://127.0.0.1:9",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make dev" in err
    assert cli.main(["shoplogin", "consume", "T", "--api-url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "login API" in err
