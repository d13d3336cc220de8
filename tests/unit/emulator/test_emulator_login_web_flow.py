"""The emulator's LINE Login web flow validates like LINE: the client and its registered
Callback URL at authorize, the client secret at the token endpoint, and a code that works
once, within 10 minutes, for the redirect URI it was issued for."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import jwt
from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator
from linecrm_local.emulator.config import EmulatedLoginChannel
from tests.unit.emulator.conftest import CHANNEL_ID, EmulatorFactory, FakeClock

LOGIN_ID = "2000000099"
LOGIN_SECRET = "a" * 32
CALLBACK = "https://crm.example/r/callback"
USER = "U" + "1" * 32


def login_emulator(make_emulator: EmulatorFactory, webhook_url: str | None = None) -> LineEmulator:
    emulator = make_emulator(
        webhook_url,
        login_channels=[
            EmulatedLoginChannel(
                LOGIN_ID, LOGIN_SECRET, [CALLBACK], linked_bot_channel_id=CHANNEL_ID
            )
        ],
    )
    emulator.config.channels[0].basic_id = "@shop"
    return emulator


def authorize(client: Client, **overrides: str) -> tuple[int, str]:
    query = {
        "response_type": "code",
        "client_id": LOGIN_ID,
        "redirect_uri": CALLBACK,
        "state": "st",
        "scope": "openid profile",
        "nonce": "n-1",
        "bot_prompt": "aggressive",
        **overrides,
    }
    response = client.get("/oauth2/v2.1/authorize", query_string=query)
    return response.status_code, response.get_data(as_text=True)


def code_for(client: Client, action: str = "allow") -> dict[str, list[str]]:
    status, page = authorize(client)
    assert status == 200, page
    found = re.search(r"name='request' value='([^']+)'", page)
    assert found is not None
    back = client.post(
        "/oauth2/v2.1/authorize/consent",
        data={"request": found.group(1), "user_id": USER, "action": action},
    )
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def token(client: Client, code: str, **overrides: str) -> tuple[int, dict[str, str]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": LOGIN_ID,
        "client_secret": LOGIN_SECRET,
        **overrides,
    }
    response = client.post("/oauth2/v2.1/token", data=form)
    body = response.get_json()
    assert isinstance(body, dict)
    return response.status_code, body


def test_authorize_checks_the_client_and_the_registered_callback(
    make_emulator: EmulatorFactory,
) -> None:
    client = Client(login_emulator(make_emulator).wsgi_app)
    assert authorize(client, client_id="123")[0] == 400
    status, page = authorize(client, redirect_uri="https://evil.example/r/callback")
    assert status == 400
    assert "redirect_uri" in page
    assert authorize(client, state="")[0] == 400
    wrong_type = client.get(
        "/oauth2/v2.1/authorize",
        query_string={
            "response_type": "token",
            "client_id": LOGIN_ID,
            "redirect_uri": CALLBACK,
            "state": "st",
            "scope": "openid",
        },
    )
    assert wrong_type.status_code == 302
    assert "error=unsupported_response_type" in wrong_type.headers["Location"]


def test_the_code_works_once_for_its_client_secret_and_redirect_uri(
    make_emulator: EmulatorFactory,
) -> None:
    emulator = login_emulator(make_emulator)
    client = Client(emulator.wsgi_app)
    query = code_for(client)
    assert query["state"] == ["st"]
    assert query["friendship_status_changed"] == ["false"]
    code = query["code"][0]
    assert token(client, code, client_secret="b" * 32)[0] == 401
    # A refused client does not spend the code; the wrong redirect URI does.
    assert token(client, code, redirect_uri="https://crm.example/other")[0] == 400
    assert token(client, code)[1]["error"] == "invalid_grant"  # used
    fresh = code_for(client)["code"][0]
    status, tokens = token(client, fresh)
    assert status == 200, tokens
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["sub"], claims["nonce"]) == (LOGIN_ID, USER, "n-1")
    assert emulator.issuer.verify(
        tokens["id_token"], client_id=LOGIN_ID, now=emulator.clock(), nonce="n-1"
    )
    assert token(client, fresh)[0] == 400  # once


def test_the_code_expires_after_ten_minutes(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    client = Client(login_emulator(make_emulator).wsgi_app)
    code = code_for(client)["code"][0]
    clock.advance(601)
    assert token(client, code) == (
        400,
        {"error": "invalid_grant", "error_description": "authorization code expired"},
    )


def test_cancel_is_access_denied_and_add_friend_sends_the_follow(
    make_emulator: EmulatorFactory, webhook: object
) -> None:
    emulator = login_emulator(make_emulator, webhook.url)  # type: ignore[attr-defined]
    client = Client(emulator.wsgi_app)
    assert code_for(client, "cancel")["error"] == ["access_denied"]
    added = code_for(client, "allow_add")
    assert added["friendship_status_changed"] == ["true"]
    bodies = webhook.bodies()  # type: ignore[attr-defined]
    assert [e["type"] for body in bodies for e in body["events"]] == ["follow"]
    assert bodies[0]["events"][0]["source"]["userId"] == USER
    # Following now: the prompt is gone from the consent page, the add-friend page works.
    page = client.get("/R/ti/p/%40shop")
    assert page.status_code == 200
    assert USER in page.get_data(as_text=True)  # the browser's login is remembered
    assert client.post("/R/ti/p/%40shop", data={"user_id": USER}).status_code == 200
    assert len(webhook.bodies()) == 1  # type: ignore[attr-defined]  # already a friend
    assert client.get("/R/ti/p/%40nobody").status_code == 404
