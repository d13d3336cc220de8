"""ID linking end to end on the local stack: the friend taps 会員連携 (postback) → a
link token from the emulator in a login button → the shop (the reference client) asks
for a nonce → LINE's account-link URL (the emulator's) → the ``accountLink`` webhook →
the link is stored, matches ``linked: true``, enrols an ``id_linked`` scenario, and
events may name the member id. Then the failed path, replays and unlinks. Every AWS call
is checked against the function's grants in the CDK template."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from examples.shop_link_client import LinkApiError, ShopLinkClient
from linecrm import resources
from linecrm.config.admin import AdminSettings
from linecrm.domain.segments import compile_segment
from linecrm.wiring import Container
from linecrm_local import cli
from linecrm_local.demo import (
    DEMO_CHANNEL_ID,
    DEMO_EVENT_SOURCE,
    DEMO_EVENT_SOURCE_KEY,
)
from linecrm_local.stack import LocalStack
from tests.support.admin_http import READ, admin, eventually, follower

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

LOGIN_URL = "https://shop.example/login?from=line"
THANKS = "会員連携ありがとうございます！特典をお届けします。"


def shop(stack: LocalStack, *, key: str = DEMO_EVENT_SOURCE_KEY) -> ShopLinkClient:
    return ShopLinkClient(
        stack.gateway_url,
        DEMO_CHANNEL_ID,
        source=DEMO_EVENT_SOURCE,
        key=key,
        account_link_url=f"{stack.emulator_url}/dialog/bot/accountLink",
        clock=lambda: stack.clock.now().timestamp(),
    )


def tap_link_button(stack: LocalStack, user_id: str) -> str:
    """The friend taps 会員連携; the link token in the login button they receive."""
    before = len(stack.emulator.inbox(user_id))
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user_id, "linecrm=1&account.link=1")

    def invitation() -> dict[str, Any] | None:
        received = stack.emulator.inbox(user_id)[before:]
        return next((m.message for m in received if m.message.get("type") == "template"), None)

    message = eventually(invitation, "the login button")
    uri = message["template"]["actions"][0]["uri"]
    assert uri.startswith(LOGIN_URL + "&linkToken=")
    return parse_qs(urlsplit(uri).query)["linkToken"][0]


def link_of(stack: LocalStack, user_id: str) -> dict[str, Any] | None:
    response = admin(stack, "GET", f"/friends/{user_id}/link")
    return response.json() if response.status_code == 200 else None


def warning(stack: LocalStack, user_id: str) -> str:
    friend = admin(stack, "GET", f"/friends/{user_id}").json()
    return next((w["message"] for w in friend["warnings"] if w["subject"] == "idlink"), "")


@pytest.fixture(scope="module")
def stack(local_stack: LocalStack) -> LocalStack:
    assert admin(local_stack, "PUT", "/account-link", {"shop_login_url": LOGIN_URL}).ok
    scenario = {
        "name": "連携のお礼",
        "message_class": "transactional",
        "triggers": [{"type": "id_linked"}],
        "steps": [
            {
                "id": "thanks",
                "timing": {"after": "0m"},
                "messages": [{"type": "text", "text": THANKS}],
            }
        ],
    }
    answer = admin(local_stack, "PUT", "/scenarios/linked-thanks", scenario)
    assert answer.status_code < 300, answer.text
    return local_stack


def test_a_tap_a_nonce_and_the_dialog_link_the_friend_everywhere(stack: LocalStack) -> None:
    user_id = follower(stack, "連携する人")
    client = shop(stack)
    token = tap_link_button(stack, user_id)
    nonce = client.request_nonce("M-1001", token)
    assert len(nonce.nonce) >= 32  # >= 192 bits, URL-safe

    dialog = requests.get(client.account_link_url(token, nonce.nonce), timeout=READ)
    assert dialog.status_code == 200, dialog.text

    link = eventually(lambda: link_of(stack, user_id), "the link")
    assert link["member_id"] == "M-1001"
    assert link["consent"] == "line_account_link"
    friend = admin(stack, "GET", f"/friends/{user_id}").json()
    assert friend["member_id"] == "M-1001" and friend["link_consented_at"]

    # linked: true matches the friend (the segment compiler over the stored friend).
    environment = stack.functions.environment(resources.ADMIN_FUNCTION.name)
    container = Container(AdminSettings.from_env(environment), clock=stack.clock.now)
    config = container.channel_config.load(DEMO_CHANNEL_ID)
    linked = compile_segment({"match": {"linked": True}}, config.tags, config.fields)
    stored = container.friends.get(DEMO_CHANNEL_ID, user_id)
    assert stored is not None and linked.matches(stored, stack.clock.now())

    # The id_linked trigger enrolled the friend; its zero-delay step was sent.
    texts = lambda: [m.message.get("text") for m in stack.emulator.inbox(user_id)]  # noqa: E731
    eventually(lambda: THANKS in texts(), "the id_linked scenario's message")

    # The events API takes the member id now; the export carries the link.
    event = {
        "name": "purchase",
        "member_id": "M-1001",
        "occurred_at": (stack.clock.now() - timedelta(minutes=1)).isoformat(),
        "idempotency_key": f"order-{user_id}",
        "value": 1200,
    }
    assert client.send_event(event)["applied"] == 1
    export = admin(stack, "GET", f"/friends/{user_id}/export").json()
    assert "M-1001" in json.dumps(export)

    # The same link token and nonce again: the dialog refuses (LINE: single use), the
    # emulator reports "failed", and the link is untouched.
    again = requests.get(client.account_link_url(token, nonce.nonce), timeout=READ)
    assert again.status_code == 400
    eventually(lambda: "result: failed" in warning(stack, user_id), "the failed attempt")
    assert link_of(stack, user_id)["member_id"] == "M-1001"  # type: ignore[index]

    # A fresh link token, but the old (used) nonce: refused as a replay.
    replay_token = tap_link_button(stack, user_id)
    requests.get(client.account_link_url(replay_token, nonce.nonce), timeout=READ)
    eventually(lambda: "replayed nonce" in warning(stack, user_id), "the replay refused")

    # The friend unlinks (postback): the link is gone.
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user_id, "linecrm=1&account.unlink=1")
    eventually(lambda: link_of(stack, user_id) is None, "the unlink")
    refused = client.send_event({**event, "idempotency_key": f"late-{user_id}"})
    assert refused["results"][0]["field"] == "member_id"


def test_a_failed_dialog_links_nothing_and_the_shop_can_unlink(stack: LocalStack) -> None:
    user_id = follower(stack, "失敗する人")
    client = shop(stack)
    token = tap_link_button(stack, user_id)
    nonce = client.request_nonce("M-2002", token)
    failed = requests.post(
        f"{stack.emulator_url}/_emulator/account-link",
        json={"linkToken": token, "nonce": nonce.nonce, "result": "failed"},
        timeout=READ,
    )
    assert failed.status_code == 200, failed.text
    eventually(lambda: "result: failed" in warning(stack, user_id), "the failure recorded")
    assert link_of(stack, user_id) is None

    # The failed attempt spent its nonce: it cannot link with a new token either.
    second = tap_link_button(stack, user_id)
    requests.get(client.account_link_url(second, nonce.nonce), timeout=READ)
    eventually(lambda: "replayed nonce" in warning(stack, user_id), "the spent nonce refused")
    assert link_of(stack, user_id) is None

    # A proper link, then the shop ends it with its signed DELETE.
    third = tap_link_button(stack, user_id)
    fresh_nonce = client.request_nonce("M-2002", third)
    assert requests.get(client.account_link_url(third, fresh_nonce.nonce), timeout=READ).ok
    eventually(lambda: link_of(stack, user_id), "the link")
    assert client.unlink("M-2002") is True
    assert link_of(stack, user_id) is None
    # The same request again is a new request: signed anew, a second later (the same
    # bytes signed in the same second are refused as a replay).
    stack.clock.advance(timedelta(seconds=1))
    assert client.unlink("M-2002") is False


def test_the_shop_is_authenticated_and_its_link_tokens_checked(stack: LocalStack) -> None:
    with pytest.raises(LinkApiError) as bad_key:
        shop(stack, key="x" * 40).request_nonce("M-3003", "some-token")
    assert bad_key.value.status == 401
    with pytest.raises(LinkApiError) as unknown:
        shop(stack).request_nonce("M-3003", "not-a-token-we-issued")
    assert unknown.value.status == 422 and unknown.value.field == "link_token"


def test_the_cli_walks_the_flow(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    def linecrm(*argv: str) -> Any:
        common = ["--emulator", stack.emulator_url, "--channel", DEMO_CHANNEL_ID]
        status = cli.main([*common, *argv[:2], "--api-url", stack.gateway_url, *argv[2:]])
        out = capsys.readouterr().out
        assert status == 0, out
        return json.loads(out)

    def simulate(*argv: str) -> Any:
        assert cli.main(["--emulator", stack.emulator_url, "simulate", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    assert linecrm("idlink", "settings")["shop_login_url"] == LOGIN_URL
    user_id = follower(stack, "CLIの人")
    token = tap_link_button(stack, user_id)
    # "=" form: LINE's link tokens are URL-safe and may start with "-".
    nonce = linecrm("idlink", "nonce", "--member", "M-4004", f"--link-token={token}")["nonce"]
    assert simulate("account-link", f"--link-token={token}", f"--nonce={nonce}")["status"] == 200
    eventually(lambda: link_of(stack, user_id), "the link")
    assert linecrm("idlink", "show", user_id)["member_id"] == "M-4004"
    assert linecrm("idlink", "unlink", user_id)["unlinked"] is True
    assert link_of(stack, user_id) is None
