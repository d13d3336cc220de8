"""LINE's account link, emulated: link tokens bound to a friend, single use, valid 10
minutes; the account-link dialog sends a signed ``accountLink`` event (ok or failed)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from werkzeug.test import Client

from .conftest import CHANNEL_ID, SECRET, EmulatorFactory, FakeClock, WebhookReceiver, post


def issue(client: Client, user_id: str) -> tuple[int, dict[str, str]]:
    response = post(client, f"/v2/bot/user/{user_id}/linkToken", None)
    return response.status_code, response.json


def test_the_dialog_links_once_and_then_reports_failed(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    client = Client(emulator.wsgi_app)
    user_id = emulator.add_friend(CHANNEL_ID, "Hanako").user_id
    status, body = issue(client, user_id)
    assert status == 200 and len(body["linkToken"]) >= 32

    page = client.get(f"/dialog/bot/accountLink?linkToken={body['linkToken']}&nonce=n-1")
    assert page.status_code == 200
    ((headers, raw),) = webhook.requests
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
    assert headers["X-Line-Signature"] == base64.b64encode(digest).decode()
    (event,) = webhook.bodies()[0]["events"]
    assert event["type"] == "accountLink"
    assert event["link"] == {"result": "ok", "nonce": "n-1"}
    assert event["source"]["userId"] == user_id and event["replyToken"]

    replay = client.get(f"/dialog/bot/accountLink?linkToken={body['linkToken']}&nonce=n-1")
    assert replay.status_code == 400 and b"used already" in replay.data
    (failed,) = webhook.bodies()[1]["events"]
    assert failed["link"]["result"] == "failed" and "replyToken" not in failed


def test_link_tokens_expire_after_ten_minutes_and_need_a_friend(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver, clock: FakeClock
) -> None:
    emulator = make_emulator(webhook.url)
    client = Client(emulator.wsgi_app)
    user_id = emulator.add_friend(CHANNEL_ID).user_id
    _, body = issue(client, user_id)
    clock.advance(601)
    late = client.post(
        "/_emulator/account-link", json={"linkToken": body["linkToken"], "nonce": "n-2"}
    )
    assert late.status_code == 400 and "expired" in late.json["message"]
    assert webhook.bodies()[0]["events"][0]["link"]["result"] == "failed"

    unknown = client.get("/dialog/bot/accountLink?linkToken=nope&nonce=n-3")
    assert unknown.status_code == 400 and len(webhook.requests) == 1  # nobody to tell
    status, _ = issue(client, "U" + "0" * 32)
    assert status == 400


def test_the_control_api_can_make_the_link_fail(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    client = Client(emulator.wsgi_app)
    user_id = emulator.add_friend(CHANNEL_ID).user_id
    _, body = issue(client, user_id)
    answer = client.post(
        "/_emulator/account-link",
        json={"linkToken": body["linkToken"], "nonce": "n-4", "result": "failed"},
    )
    assert answer.status_code == 200 and answer.json["userId"] == user_id
    assert webhook.bodies()[0]["events"][0]["link"] == {"result": "failed", "nonce": "n-4"}
    bad = client.post("/_emulator/account-link", json={"linkToken": "x", "nonce": "n", "result": 1})
    assert bad.status_code == 400
